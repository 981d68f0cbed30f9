/**
 * loudness: level and activity per second of one WAV file. It stands for one model container of a fan-out family:
 * it knows nothing of queues, batches or S3, and the `command` job runs it once per file.
 *
 *   node loudness.js <input.wav> <outputDir>      writes <outputDir>/per-second.csv and <outputDir>/summary.json
 *
 * The channels are averaged to mono. Per second (the last one may be partial):
 *   per-second.csv   second,rms_dbfs,peak_dbfs,active
 *                    RMS and peak in dBFS (a full-scale sine: -3.01 RMS, 0 peak; silence: -120, the floor), and
 *                    active = true when the RMS is above ACTIVITY_THRESHOLD_DB
 *   summary.json     one flat object of numbers and strings: duration_s, sample_rate, channels, sample_format,
 *                    seconds, activity_threshold_dbfs, mean_rms_dbfs (the energy average of the whole file),
 *                    max_peak_dbfs, active_seconds, active_fraction
 *
 * ACTIVITY_THRESHOLD_DB (default -45) is a level in dBFS from -120 to 0; WAV_MAX_BYTES (default 200 MiB) refuses
 * larger files. Exit codes and the one-line stderr reason: see program-cli.ts.
 */
import { round } from './decibels';
import { DEFAULT_ACTIVITY_THRESHOLD_DBFS, loudnessPerSecond, loudnessSummary } from './loudness-analysis';
import { csvLine, EX_CONFIG, ExitError, jsonFile, maxWavBytes, programArguments, runProgram, writeOutputs } from './program-cli';
import { readWavFile } from './wav-input';

function activityThreshold(env: NodeJS.ProcessEnv): number {
  // A manifest's settings reach a program as BLUEPRINT_SETTING_<NAME>; a deployment's own variable is the fallback.
  const raw = env.BLUEPRINT_SETTING_ACTIVITY_THRESHOLD_DB ?? env.ACTIVITY_THRESHOLD_DB;
  if (raw === undefined || raw === '') return DEFAULT_ACTIVITY_THRESHOLD_DBFS;
  const value = /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(value >= -120 && value <= 0)) {
    throw new ExitError(EX_CONFIG, `ACTIVITY_THRESHOLD_DB must be a level in dBFS from -120 to 0 (such as -45), got "${raw.slice(0, 40)}"`);
  }
  return value;
}

async function main(args: string[]): Promise<void> {
  const { input, outputDir } = programArguments('loudness', args);
  // Settings first: a malformed one should fail before the work, not after it.
  const threshold = activityThreshold(process.env);
  const audio = await readWavFile(input, maxWavBytes(process.env));
  const rows = loudnessPerSecond(audio.mono, audio.sampleRate, threshold);
  const csv = ['second,rms_dbfs,peak_dbfs,active\n', ...rows.map((row) => csvLine([row.second, round(row.rmsDbfs, 2), round(row.peakDbfs, 2), row.active]))];
  const summary = {
    duration_s: round(audio.durationSeconds, 3),
    sample_rate: audio.sampleRate,
    channels: audio.channels,
    sample_format: audio.sampleFormat,
    ...loudnessSummary(rows, threshold),
  };
  await writeOutputs(outputDir, { 'per-second.csv': csv.join(''), 'summary.json': jsonFile(summary) });
}

runProgram('loudness', main);
