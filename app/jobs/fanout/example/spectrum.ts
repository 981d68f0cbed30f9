/**
 * spectrum: the dominant octave band per second of one WAV file. It stands for one model container of a fan-out
 * family: it knows nothing of queues, batches or S3, and the `command` job runs it once per file.
 *
 *   node spectrum.js <input.wav> <outputDir>      writes <outputDir>/per-second.csv and <outputDir>/summary.json
 *
 * The channels are averaged to mono; each second's power spectrum is the mean of Hann-windowed 2048-sample FFT frames
 * (half-overlapped), summed into octave bands 31.5 Hz .. 16 kHz (see spectrum-analysis.ts).
 *   per-second.csv   second,dominant_hz,dominant_band,band_energy_db
 *                    the strongest frequency, the band holding the most energy ("none" when even that band is
 *                    below -90 dBFS: silence) and that band's energy in dBFS
 *   summary.json     one flat object of numbers and strings: duration_s, sample_rate, channels, sample_format,
 *                    seconds, frame_size, silent_seconds, dominant_band, dominant_band_seconds, dominant_hz_median,
 *                    spectral_centroid_hz_mean, spectral_flatness_mean, max_band_energy_db
 *
 * WAV_MAX_BYTES (default 200 MiB) refuses larger files. Exit codes and the one-line stderr reason: see program-cli.ts.
 */
import { round } from './decibels';
import { csvLine, jsonFile, maxWavBytes, programArguments, runProgram, writeOutputs } from './program-cli';
import { dominantBandPerSecond, spectrumSummary } from './spectrum-analysis';
import { readWavFile } from './wav-input';

async function main(args: string[]): Promise<void> {
  const { input, outputDir } = programArguments('spectrum', args);
  const audio = await readWavFile(input, maxWavBytes(process.env));
  const rows = dominantBandPerSecond(audio.mono, audio.sampleRate);
  const csv = ['second,dominant_hz,dominant_band,band_energy_db\n', ...rows.map((row) => csvLine([row.second, row.dominantHz, row.dominantBand, round(row.bandEnergyDb, 2)]))];
  const summary = {
    duration_s: round(audio.durationSeconds, 3),
    sample_rate: audio.sampleRate,
    channels: audio.channels,
    sample_format: audio.sampleFormat,
    ...spectrumSummary(rows),
  };
  await writeOutputs(outputDir, { 'per-second.csv': csv.join(''), 'summary.json': jsonFile(summary) });
}

runProgram('spectrum', main);
