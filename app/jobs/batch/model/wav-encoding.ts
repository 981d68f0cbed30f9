/**
 * Signals (full scale = ±1) to WAV bytes, for the demo set, the training set and the tests. Hand-written rather than
 * wavefile's writer so the tests check the decoder (which uses wavefile) against an independent encoder, and because a
 * DataView loop is much faster for a few hundred clips.
 *
 * Canonical layout: RIFF, a fmt chunk at byte 12 (16 bytes for PCM; 18 bytes plus a fact chunk for float, as the
 * specification asks of non-PCM formats; 40 bytes for WAVE_FORMAT_EXTENSIBLE, as recorders write for 24-bit and
 * multichannel audio), then the data chunk.
 */
export type WavSampleFormat = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';

export interface WavEncoding {
  readonly format?: WavSampleFormat;
  readonly extensible?: boolean;
}

const BITS: Readonly<Record<WavSampleFormat, number>> = { pcm8: 8, pcm16: 16, pcm24: 24, pcm32: 32, float32: 32, float64: 64 };
/** The subformat GUID after its first two bytes (the format code): …-0000-0010-8000-00aa00389b71. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Bound once: the hot loops below would otherwise look up a global per sample, which is slow in a vm context (jest). */
const { round, max, min } = Math;

export function encodeWav(channels: readonly Float32Array[], sampleRate: number, encoding: WavEncoding = {}): Uint8Array {
  const format = encoding.format ?? 'pcm16';
  const float = format.startsWith('float');
  const bits = BITS[format];
  const bytesPerSample = bits / 8;
  const blockAlign = channels.length * bytesPerSample;
  const frames = channels[0]?.length ?? 0;
  const code = float ? 3 : 1;
  const fmtSize = encoding.extensible ? 40 : float ? 18 : 16;
  const withFact = float || encoding.extensible === true;
  const dataSize = frames * blockAlign;
  const total = 12 + 8 + fmtSize + (withFact ? 12 : 0) + 8 + dataSize + (dataSize % 2);

  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const ascii = (text: string) => {
    for (const char of text) bytes[at++] = char.charCodeAt(0);
  };
  const u16 = (value: number) => {
    view.setUint16(at, value, true);
    at += 2;
  };
  const u32 = (value: number) => {
    view.setUint32(at, value, true);
    at += 4;
  };

  ascii('RIFF');
  u32(total - 8);
  ascii('WAVE');
  ascii('fmt ');
  u32(fmtSize);
  u16(encoding.extensible ? 0xfffe : code);
  u16(channels.length);
  u32(sampleRate);
  u32(sampleRate * blockAlign);
  u16(blockAlign);
  u16(bits);
  if (fmtSize >= 18) u16(encoding.extensible ? 22 : 0); // cbSize: the extension's length
  if (encoding.extensible) {
    u16(bits); // valid bits per sample
    u32(0); // no speaker positions
    u16(code);
    for (const byte of GUID_TAIL) bytes[at++] = byte;
  }
  if (withFact) {
    ascii('fact');
    u32(4);
    u32(frames);
  }
  ascii('data');
  u32(dataSize);

  const fullScale = 2 ** (bits - 1) - 1;
  for (let frame = 0; frame < frames; frame++) {
    for (const samples of channels) {
      const value = samples[frame];
      const level = round(max(-1, min(1, value)) * fullScale);
      switch (format) {
        case 'pcm8': view.setUint8(at, level + 128); break; // 8-bit WAV is unsigned: silence is 128
        case 'pcm16': view.setInt16(at, level, true); break;
        case 'pcm24': view.setUint16(at, level & 0xffff, true); view.setInt8(at + 2, level >> 16); break;
        case 'pcm32': view.setInt32(at, level, true); break;
        case 'float32': view.setFloat32(at, value, true); break;
        case 'float64': view.setFloat64(at, value, true); break;
      }
      at += bytesPerSample;
    }
  }
  return bytes;
}
