/**
 * WAV bytes in, mono samples out (full scale = ±1), or an UndecodableAudioError naming what is wrong. Pure: no I/O.
 *
 * wavefile parses the header (fmt, WAVE_FORMAT_EXTENSIBLE, odd chunks). It trusts what a header claims, so a truncated
 * upload would decode into a short, wrong clip: the RIFF chunk sizes, the encoding and the frame count are therefore
 * checked here before anything is unpacked. The samples (8-bit unsigned, 16/24/32-bit signed PCM, 32/64-bit float)
 * are unpacked here with a DataView, by a reader chosen for exactly the format that was checked: wavefile's generic
 * unpacker took about 170 ns a sample, four times the cost of the features themselves. Every loop advances by at
 * least 8 bytes or one frame, so no header, however hostile, can make it spin.
 */
import { WaveFile } from 'wavefile';
import { InputTooLargeError } from '../../../../shared/errors';
import { UndecodableAudioError } from './undecodable-audio-error';

export interface DecodeLimits {
  /** More sample frames than this is refused before unpacking: memory is 4 bytes per frame, plus the file. */
  readonly maxFrames: number;
  /** Fewer frames than this cannot be analysed (the features need at least one analysis frame). */
  readonly minFrames: number;
}

export interface MonoAudio {
  readonly sampleRate: number;
  readonly channels: number;
  /** "pcm8", "pcm16", "pcm24", "pcm32", "float32" or "float64". */
  readonly sampleFormat: string;
  /** The channels averaged. */
  readonly samples: Float32Array;
}

/** Below 4 kHz the features' bands (up to 2 kHz) do not exist; above 384 kHz no recorder writes: a corrupt header. */
export const MIN_SAMPLE_RATE = 4000;
export const MAX_SAMPLE_RATE = 384000;
export const MAX_CHANNELS = 32;

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
const SUPPORTED_BITS: ReadonlyMap<number, readonly number[]> = new Map([[FORMAT_PCM, [8, 16, 24, 32]], [FORMAT_FLOAT, [32, 64]]]);

/** Bound once: the hot loops below would otherwise look up a global per sample, which is slow in a vm context (jest). */
const { isFinite } = Number;

export function decodeWavToMono(bytes: Uint8Array, limits: DecodeLimits): MonoAudio {
  const data = findDataChunk(bytes);
  const header = new WaveFile();
  try {
    // Without the samples: they are unpacked below, a block at a time, once the header has been checked.
    header.fromBuffer(bytes, false);
  } catch (error) {
    // wavefile's messages describe the structure ("Could not find the fmt chunk"), never the content.
    throw new UndecodableAudioError(`unreadable WAV header: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
  const format = checkFormat(header.fmt as FmtFields);
  const frames = Math.floor(data.size / format.blockAlign);
  if (frames > limits.maxFrames) {
    throw new InputTooLargeError(`audio too long: ${frames} sample frames (${(frames / format.sampleRate).toFixed(1)} s), over the limit of ${limits.maxFrames}`);
  }
  if (frames < limits.minFrames) {
    throw new UndecodableAudioError(`audio too short: ${frames} sample frames, at least ${limits.minFrames} are needed`);
  }
  const samples = unpackMono(bytes.subarray(data.start, data.start + frames * format.blockAlign), frames, format);
  return { sampleRate: format.sampleRate, channels: format.channels, sampleFormat: format.name, samples };
}

interface DataChunk {
  readonly start: number;
  readonly size: number;
}

/** Walks the RIFF chunks to the data chunk and proves it is whole: a chunk may not claim more bytes than the file holds. */
function findDataChunk(bytes: Uint8Array): DataChunk {
  if (bytes.length === 0) throw new UndecodableAudioError('empty file (0 bytes)');
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    const container = tag(0);
    if (container === 'RIFX' || container === 'RF64') throw new UndecodableAudioError(`unsupported WAV container ${container}: only little-endian RIFF is supported`);
    throw new UndecodableAudioError(`not a WAV file: no RIFF/WAVE header (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmtSeen = false;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const start = offset + 8;
    const holds = bytes.length - start;
    if (id === 'fmt ') {
      if (size < 16 || size > holds) throw new UndecodableAudioError(`corrupt WAV: the fmt chunk declares ${size} bytes (needs 16 or more; the file holds ${holds})`);
      fmtSeen = true;
    } else if (id === 'data') {
      if (!fmtSeen) throw new UndecodableAudioError('corrupt WAV: the data chunk comes before the fmt chunk');
      if (size > holds) throw new UndecodableAudioError(`truncated WAV: the data chunk declares ${size} bytes, the file holds ${holds}`);
      return { start, size };
    }
    // Chunks are padded to an even size; a missing final pad byte is common and harmless.
    offset = start + size + (size % 2);
  }
  throw new UndecodableAudioError(fmtSeen ? 'corrupt WAV: no data chunk' : 'corrupt WAV: no fmt chunk');
}

/** The fields of wavefile's fmt this module reads (the library types it as `object`). */
interface FmtFields {
  readonly audioFormat: number;
  readonly numChannels: number;
  readonly sampleRate: number;
  readonly blockAlign: number;
  readonly bitsPerSample: number;
  readonly subformat?: readonly number[];
}

interface SampleFormat {
  readonly name: string;
  readonly pcm: boolean;
  readonly bits: number;
  readonly channels: number;
  readonly sampleRate: number;
  readonly blockAlign: number;
}

function checkFormat(fmt: FmtFields): SampleFormat {
  // WAVE_FORMAT_EXTENSIBLE carries the real code in the first field of its subformat GUID.
  const code = fmt.audioFormat === FORMAT_EXTENSIBLE ? (fmt.subformat?.[0] ?? 0) & 0xffff : fmt.audioFormat;
  const supported = SUPPORTED_BITS.get(code);
  if (supported === undefined) throw new UndecodableAudioError(`unsupported WAV encoding: format code ${code} (compressed or unknown); only PCM and IEEE float are supported`);
  const pcm = code === FORMAT_PCM;
  if (!supported.includes(fmt.bitsPerSample)) {
    throw new UndecodableAudioError(`unsupported WAV encoding: ${fmt.bitsPerSample}-bit ${pcm ? 'PCM' : 'float'} (supported: ${supported.join(', ')} bits)`);
  }
  if (!(fmt.numChannels >= 1 && fmt.numChannels <= MAX_CHANNELS)) throw new UndecodableAudioError(`unsupported channel count: ${fmt.numChannels} (1 to ${MAX_CHANNELS})`);
  if (!(fmt.sampleRate >= MIN_SAMPLE_RATE && fmt.sampleRate <= MAX_SAMPLE_RATE)) {
    throw new UndecodableAudioError(`unsupported sample rate: ${fmt.sampleRate} Hz (${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE})`);
  }
  const blockAlign = fmt.numChannels * (fmt.bitsPerSample / 8);
  // wavefile steps through the data by sample size: a header whose block align disagrees would mix up the channels.
  if (fmt.blockAlign !== blockAlign) {
    throw new UndecodableAudioError(`inconsistent WAV header: block align ${fmt.blockAlign}, expected ${blockAlign} for ${fmt.numChannels} channels of ${fmt.bitsPerSample} bits`);
  }
  return { name: `${pcm ? 'pcm' : 'float'}${fmt.bitsPerSample}`, pcm, bits: fmt.bitsPerSample, channels: fmt.numChannels, sampleRate: fmt.sampleRate, blockAlign };
}

/** One sample at a byte offset, scaled so that full scale is ±1. */
type SampleReader = (view: DataView, at: number) => number;

function sampleReader(format: SampleFormat): SampleReader {
  if (!format.pcm) return format.bits === 32 ? (view, at) => view.getFloat32(at, true) : (view, at) => view.getFloat64(at, true);
  switch (format.bits) {
    case 8: return (view, at) => (view.getUint8(at) - 128) / 128; // 8-bit WAV is unsigned: silence is 128
    case 16: return (view, at) => view.getInt16(at, true) / 32768;
    case 24: return (view, at) => (view.getUint16(at, true) + view.getInt8(at + 2) * 65536) / 8388608;
    default: return (view, at) => view.getInt32(at, true) / 2147483648;
  }
}

function unpackMono(data: Uint8Array, frames: number, format: SampleFormat): Float32Array {
  const { channels } = format;
  const bytesPerSample = format.bits / 8;
  const read = sampleReader(format);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const mono = new Float32Array(frames);
  for (let frame = 0, at = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at += bytesPerSample) sum += read(view, at);
    mono[frame] = sum / channels;
    // Only float files can hold these (a float64 beyond float32's range becomes infinity here): the features would
    // be NaN, and a NaN score sorts nowhere.
    if (!isFinite(mono[frame])) {
      throw new UndecodableAudioError(`invalid float samples: NaN, infinity or beyond float32 range at ${(frame / format.sampleRate).toFixed(3)} s`);
    }
  }
  return mono;
}
