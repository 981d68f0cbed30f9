import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resizeJobModule } from '../../../app/jobs/resize';
import type { ResizeConfig, Size } from '../../../app/jobs/resize/resize-config';
import sharp from 'sharp';
import { ResizeJob } from '../../../app/jobs/resize/resize-job';
import { reapedChildrenCpuSeconds } from './process-sampler';
import { elapsedSeconds, runPool } from './run-pool';

/** Part 1: the resize alone, in memory, and libvips's own thumbnailer on the same files, as the practical ceiling. */
export interface ThroughputMeasurement {
  readonly label: string;
  readonly concurrency: number;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  /**
   * CPU seconds used by the timed work (user + system, every thread): the bench process's own for the in-memory rows
   * (process.cpuUsage, nothing else runs in it meanwhile), the reaped vipsthumbnail processes' for theirs.
   */
  readonly cpuSeconds: number;
  readonly cpuSecondsPerImage: number;
}

/** The worker's own resize defaults, read through its config loader so they cannot drift, for the given sizes. */
export function benchResizeConfig(sizes: readonly Size[]): ResizeConfig {
  const env = { SIZES: sizes.map((size) => `${size.width}x${size.height}`).join(',') };
  return resizeJobModule.readSettings(env, { cpuCount: 1, memoryLimitBytes: 4 * 1024 ** 3 }).resize;
}

export function sizeLabel(sizes: readonly Size[]): string {
  return sizes.map((size) => `${size.width}x${size.height}`).join('+');
}

/**
 * The resize job over the inputs (cycled) with `concurrency` images in flight. A short warm-up first, so the
 * figure is the steady rate rather than sharp's first-call setup.
 */
export async function measureResizeProcessor(
  label: string,
  paths: readonly string[],
  sizes: readonly Size[],
  concurrency: number,
  images: number,
): Promise<ThroughputMeasurement> {
  const inputs = paths.map((path) => readFileSync(path));
  const job = new ResizeJob(benchResizeConfig(sizes));
  const run = async (index: number): Promise<void> => {
    const bytes = inputs[index % inputs.length]!;
    const key = paths[index % paths.length]!;
    await job.process({ kind: 'bytes', bytes, source: { bucket: 'bench', key, relativeKey: key, etag: 'bench', size: bytes.length } });
  };
  await runPool(Math.min(concurrency * 2, images), concurrency, run);
  return timedInProcess(label, concurrency, images, () => runPool(images, concurrency, run));
}

/**
 * The least work sharp can do for the same output: decode with shrink-on-load, resize and centre-crop, encode. Same
 * libvips build as the processor, so the gap to it is the processor's own extra steps (orientation, colour space,
 * flattening, one pipeline per size), while the gap to vipsthumbnail also includes a different libvips build.
 */
export async function measureMinimalSharp(
  label: string,
  paths: readonly string[],
  size: Size,
  concurrency: number,
  images: number,
): Promise<ThroughputMeasurement> {
  const inputs = paths.map((path) => readFileSync(path));
  const run = async (index: number): Promise<void> => {
    await sharp(inputs[index % inputs.length]!).resize(size.width, size.height).jpeg({ quality: 85 }).toBuffer();
  };
  await runPool(Math.min(concurrency * 2, images), concurrency, run);
  return timedInProcess(label, concurrency, images, () => runPool(images, concurrency, run));
}

/**
 * `vipsthumbnail` with the same crop, quality and metadata stripping, one single-threaded process per core: the
 * same shape of parallelism as sharp on glibc (one libvips thread per image, several images at once). Each process
 * gets its share of the files in one invocation, so process start-up is paid once per process, not per image.
 */
export async function measureVipsthumbnail(
  label: string,
  paths: readonly string[],
  size: Size,
  processes: number,
  images: number,
): Promise<ThroughputMeasurement> {
  const outputDirectory = mkdtempSync(join(tmpdir(), 'bench-vipsthumbnail-'));
  try {
    const shares: string[][] = Array.from({ length: processes }, () => []);
    for (let i = 0; i < images; i++) shares[i % processes]!.push(paths[i % paths.length]!);
    const output = join(outputDirectory, `%s_${size.width}x${size.height}.jpg[Q=85,strip]`);
    const startedAt = process.hrtime.bigint();
    const cpuBefore = reapedChildrenCpuSeconds();
    await Promise.all(
      shares.map((files) =>
        runCommand('vipsthumbnail', ['--size', `${size.width}x${size.height}`, '--smartcrop', 'centre', '-o', output, ...files], {
          VIPS_CONCURRENCY: '1',
        }),
      ),
    );
    const seconds = elapsedSeconds(startedAt);
    return throughput(label, processes, images, seconds, reapedChildrenCpuSeconds() - cpuBefore);
  } finally {
    rmSync(outputDirectory, { recursive: true, force: true });
  }
}

export async function vipsthumbnailVersion(): Promise<string | undefined> {
  try {
    return (await runCommand('vipsthumbnail', ['--vips-version'], {})).trim();
  } catch {
    return undefined;
  }
}

/** Times `work` in this process: wall clock, and CPU with process.cpuUsage (all of its threads, libvips's included). */
async function timedInProcess(label: string, concurrency: number, images: number, work: () => Promise<void>): Promise<ThroughputMeasurement> {
  const startedAt = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await work();
  const seconds = elapsedSeconds(startedAt);
  const cpu = process.cpuUsage(cpuBefore);
  return throughput(label, concurrency, images, seconds, (cpu.user + cpu.system) / 1e6);
}

function throughput(label: string, concurrency: number, images: number, seconds: number, cpuSeconds: number): ThroughputMeasurement {
  return { label, concurrency, images, seconds, imagesPerSecond: images / seconds, cpuSeconds, cpuSecondsPerImage: cpuSeconds / images };
}

function runCommand(command: string, args: readonly string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} exited with ${code}: ${stderr.trim().slice(0, 500)}`)),
    );
  });
}
