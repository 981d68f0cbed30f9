/** Builders of WAV bytes for the decoder's tests: whole files from encodeWav, and raw chunks to break them with. */
import { encodeWav } from '../wav-writer';
import { sine } from '../signals';

export function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

/** One RIFF chunk; `declaredSize` lies about its length when a test needs it to. */
export function chunk(id: string, content: Buffer, declaredSize = content.length): Buffer {
  return Buffer.concat([Buffer.from(id, 'ascii'), uint32(declaredSize), content, Buffer.alloc(content.length % 2)]);
}

/** A RIFF/WAVE file from the given chunks, its header size consistent with them. */
export function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE'), ...chunks]);
  return Buffer.concat([Buffer.from('RIFF'), uint32(body.length), body]);
}

export interface FmtFields {
  audioFormat?: number;
  channels?: number;
  sampleRate?: number;
  blockAlign?: number;
  bitsPerSample?: number;
}

/** A 16-byte fmt chunk, 16 kHz mono 16-bit PCM unless told otherwise; block align follows unless given. */
export function fmtChunk(fields: FmtFields = {}): Buffer {
  const { audioFormat = 1, channels = 1, sampleRate = 16000, bitsPerSample = 16 } = fields;
  const blockAlign = fields.blockAlign ?? channels * Math.ceil(bitsPerSample / 8);
  const content = Buffer.alloc(16);
  content.writeUInt16LE(audioFormat, 0);
  content.writeUInt16LE(channels, 2);
  content.writeUInt32LE(sampleRate, 4);
  content.writeUInt32LE(sampleRate * blockAlign, 8);
  content.writeUInt16LE(blockAlign, 12);
  content.writeUInt16LE(bitsPerSample, 14);
  return chunk('fmt ', content);
}

/** 16-bit samples as a data chunk's content. */
export function pcm16(values: number[]): Buffer {
  const bytes = Buffer.alloc(values.length * 2);
  values.forEach((value, i) => bytes.writeInt16LE(value, i * 2));
  return bytes;
}

/** A valid second of a 440 Hz tone, 16 kHz mono 16-bit: the starting point of the files a test breaks. */
export const goodWav = () => encodeWav([sine(440, 1, 16000)], 16000);
