/**
 * One WAV file in, mono samples out, or one line saying why not. Shared by the analysis programs so both refuse the
 * same files for the same reasons.
 *
 * wavefile reads the format chunk and unpacks the samples (8-bit unsigned, 16/24/32-bit signed PCM, 32/64-bit IEEE
 * float). It is lenient by design: it decodes whatever a header claims, so a truncated file yields a few samples and
 * an ADPCM file yields noise. The RIFF structure, the encoding and the sizes are therefore checked here first, and a
 * file is decoded only once they hold, by an unpacker set up for exactly the format that was checked (wavefile infers
 * the format from the header again otherwise, and takes 32-bit float in WAVE_FORMAT_EXTENSIBLE for integers).
 *
 * Memory: the file is read whole (at most WAV_MAX_BYTES) and decoded into one Float32Array of mono samples, a block of
 * frames at a time, so the peak is the file plus 4 bytes per frame: about 3 times the file for 16-bit mono, 2 times for
 * 16-bit stereo, 5 times for 8-bit mono.
 */
import { readFile, stat } from 'node:fs/promises';
import { WaveFile } from 'wavefile';

export const DEFAULT_MAX_WAV_BYTES = 200 * 1024 * 1024;
/** Below 1 kHz nothing audible is left to analyse; above 384 kHz no recorder writes: such a header is corrupt. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384000;
export const MAX_CHANNELS = 32;

const FORMAT_PCM = 0x0001;
const FORMAT_IEEE_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
/** The codes people actually meet, so the refusal names the format rather than a number alone. */
const KNOWN_FORMATS = new Map<number, string>([
  [0x0002, 'Microsoft ADPCM'], [0x0006, 'A-law'], [0x0007, 'mu-law'], [0x0011, 'IMA ADPCM'], [0x0031, 'GSM 6.10'],
  [0x0050, 'MPEG'], [0x0055, 'MPEG Layer III (MP3)'], [0x00ff, 'AAC'], [0x0161, 'Windows Media Audio'], [0xf1ac, 'FLAC'],
]);
const SUPPORTED_BITS = new Map([[FORMAT_PCM, [8, 16, 24, 32]], [FORMAT_IEEE_FLOAT, [32, 64]]]);
/** Frames unpacked per call to wavefile: large enough to amortise the call, small enough to stay a few MB. */
const DECODE_BLOCK_FRAMES = 65536;

export interface DecodedAudio {
  readonly sampleRate: number;
  readonly channels: number;
  /** "pcm8", "pcm16", "pcm24", "pcm32", "float32" or "float64". */
  readonly sampleFormat: string;
  /** The channels averaged, scaled so that digital full scale is ±1. */
  readonly mono: Float32Array;
  readonly durationSeconds: number;
}

/** The file can never be analysed, whatever the retry: the programs exit 65 (EX_DATAERR). */
export class WavInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavInputError';
  }
}

/** The file is missing or unreadable: a problem of the run, not of the audio (exit 66, EX_NOINPUT). */
export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

export async function readWavFile(path: string, maxBytes = DEFAULT_MAX_WAV_BYTES): Promise<DecodedAudio> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InputFileError('the input is not a regular file');
    // Checked before reading, so an oversized file never costs its size in memory.
    if (info.size > maxBytes) throw new WavInputError(`file too large: ${info.size} bytes, over the limit of ${maxBytes} (WAV_MAX_BYTES)`);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof WavInputError || error instanceof InputFileError) throw error;
    const code = (error as { code?: unknown }).code;
    throw new InputFileError(code === 'ENOENT' ? 'input file not found' : `cannot read the input file: ${typeof code === 'string' ? code : 'unknown error'}`);
  }
  return decodeWav(bytes);
}

export function decodeWav(bytes: Uint8Array): DecodedAudio {
  const layout = riffLayout(bytes);
  const wav = new WaveFile();
  try {
    // Without the samples: wavefile would copy the whole data chunk; it is decoded below in blocks instead.
    wav.fromBuffer(bytes, false);
  } catch (error) {
    // wavefile's messages describe the structure ("Could not find the fmt chunk"), never the content.
    throw new WavInputError(`unreadable WAV header: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
  const format = checkFormat(wav.fmt as FmtChunk);
  if (layout.dataSize === 0) throw new WavInputError('no audio: the data chunk is empty');
  const frames = Math.floor(layout.dataSize / format.blockAlign);
  if (frames === 0) throw new WavInputError(`no audio: the data chunk holds ${layout.dataSize} bytes, less than one sample frame (${format.blockAlign} bytes)`);
  const mono = decodeMono(bytes.subarray(layout.dataStart, layout.dataStart + frames * format.blockAlign), format);
  return { sampleRate: format.sampleRate, channels: format.channels, sampleFormat: format.name, mono, durationSeconds: frames / format.sampleRate };
}

/** The fields of wavefile's `fmt` this module reads (the library types it as `object`). */
interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat: number[];
}

interface Layout {
  readonly dataStart: number;
  readonly dataSize: number;
}

/**
 * Walks the RIFF chunks to find the data chunk and to prove it is whole: wavefile silently clips a data chunk that
 * runs past the end of the file, which would turn a truncated upload into a short, wrong analysis.
 */
function riffLayout(bytes: Uint8Array): Layout {
  if (bytes.length === 0) throw new WavInputError('empty file (0 bytes)');
  const ascii = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  const container = ascii(0);
  if (container === 'RIFX' || container === 'RF64') throw new WavInputError(`unsupported WAV container: ${container}; only little-endian RIFF files are supported`);
  if (bytes.length < 12 || container !== 'RIFF') throw new WavInputError('not a WAV file: no RIFF header');
  if (ascii(8) !== 'WAVE') throw new WavInputError('not a WAV file: a RIFF file of another form type (not WAVE)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmtSeen = false;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = ascii(offset);
    const size = view.getUint32(offset + 4, true);
    const start = offset + 8;
    const holds = bytes.length - start;
    if (id === 'fmt ') {
      if (size > holds) throw new WavInputError(`truncated WAV: fmt chunk declares ${size} bytes, file holds ${holds}`);
      if (size < 16) throw new WavInputError(`not a WAV file: a fmt chunk of ${size} bytes, under the 16 every format needs`);
      fmtSeen = true;
    } else if (id === 'data') {
      if (!fmtSeen) throw new WavInputError('not a WAV file: the data chunk comes before any fmt chunk');
      if (size > holds) throw new WavInputError(`truncated WAV: data chunk declares ${size} bytes, file holds ${holds}`);
      return { dataStart: start, dataSize: size };
    }
    // Chunks are padded to an even size; a missing final pad byte is common and harmless.
    offset = start + size + (size % 2);
  }
  throw new WavInputError(fmtSeen ? 'not a WAV file: no data chunk' : 'not a WAV file: no fmt chunk');
}

interface Format {
  readonly code: number;
  readonly name: string;
  /** wavefile's name for the sample type. */
  readonly bitDepthCode: string;
  readonly channels: number;
  readonly sampleRate: number;
  readonly bitsPerSample: number;
  readonly blockAlign: number;
}

function checkFormat(fmt: FmtChunk): Format {
  // WAVE_FORMAT_EXTENSIBLE carries the real code in the first field of its subformat GUID.
  const code = fmt.audioFormat === FORMAT_EXTENSIBLE ? (fmt.subformat[0] ?? 0) & 0xffff : fmt.audioFormat;
  const bits = SUPPORTED_BITS.get(code);
  if (bits === undefined) {
    const known = KNOWN_FORMATS.get(code);
    throw new WavInputError(`unsupported WAV encoding: format code ${code}${known ? ` (${known}, compressed)` : ''}; only PCM and IEEE float are supported`);
  }
  const kind = code === FORMAT_PCM ? 'pcm' : 'float';
  if (!bits.includes(fmt.bitsPerSample)) throw new WavInputError(`unsupported WAV encoding: ${fmt.bitsPerSample}-bit ${kind === 'pcm' ? 'PCM' : 'float'}; supported: ${bits.join(', ')} bits`);
  if (fmt.numChannels < 1 || fmt.numChannels > MAX_CHANNELS) throw new WavInputError(`unsupported channel count: ${fmt.numChannels} (1 to ${MAX_CHANNELS})`);
  if (fmt.sampleRate < MIN_SAMPLE_RATE || fmt.sampleRate > MAX_SAMPLE_RATE) {
    throw new WavInputError(`unsupported sample rate: ${fmt.sampleRate} Hz (${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE})`);
  }
  const blockAlign = fmt.numChannels * (fmt.bitsPerSample / 8);
  // wavefile steps through the data by sample size, so a header whose block align disagrees would misalign channels.
  if (fmt.blockAlign !== blockAlign) {
    throw new WavInputError(`inconsistent WAV header: block align ${fmt.blockAlign}, expected ${blockAlign} for ${fmt.numChannels} channels of ${fmt.bitsPerSample} bits`);
  }
  const bitDepthCode = kind === 'float' && fmt.bitsPerSample === 32 ? '32f' : String(fmt.bitsPerSample);
  return { code, name: `${kind}${fmt.bitsPerSample}`, bitDepthCode, channels: fmt.numChannels, sampleRate: fmt.sampleRate, bitsPerSample: fmt.bitsPerSample, blockAlign };
}

function decodeMono(data: Uint8Array, format: Format): Float32Array {
  const { channels, blockAlign } = format;
  const unpacker = new WaveFile();
  unpacker.fromScratch(channels, format.sampleRate, format.bitDepthCode, channels === 1 ? [] : Array.from({ length: channels }, () => []));
  const frames = data.length / blockAlign;
  const mono = new Float32Array(frames);
  // wavefile returns integers as stored: 8-bit is unsigned around 128, wider PCM is signed.
  const offset = format.code === FORMAT_PCM && format.bitsPerSample === 8 ? 128 : 0;
  const scale = format.code === FORMAT_PCM ? 1 / 2 ** (format.bitsPerSample - 1) : 1;
  // data.samples is wavefile's documented home for the packed samples; pointing it at one block at a time lets
  // getSamples unpack without a copy of the whole chunk.
  const chunk = unpacker.data as { samples: Uint8Array };
  for (let first = 0; first < frames; first += DECODE_BLOCK_FRAMES) {
    const count = Math.min(DECODE_BLOCK_FRAMES, frames - first);
    chunk.samples = data.subarray(first * blockAlign, (first + count) * blockAlign);
    const interleaved = unpacker.getSamples(true, Float64Array);
    for (let frame = 0; frame < count; frame++) {
      let sum = 0;
      for (let channel = 0; channel < channels; channel++) sum += (interleaved[frame * channels + channel] - offset) * scale;
      if (!Number.isFinite(sum)) throw new WavInputError(`invalid float samples: NaN or infinity at ${((first + frame) / format.sampleRate).toFixed(3)} s`);
      mono[first + frame] = sum / channels;
    }
  }
  return mono;
}
