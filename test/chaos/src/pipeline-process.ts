/**
 * The local pipeline the chaos run kills and restarts: the S3-protocol server (objects on disk) and a launcher per
 * worker pipeline that keeps the requested number of workers running while that pipeline's queue has visible work, as
 * the scaler would. It runs in its own process group, with its workers, so one SIGKILL to the group takes everything
 * down at once, like a machine dying. The queues are files the workers open themselves: what they hold must survive
 * that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { startS3Server } from '../../../local/src/s3-server';
import { createMemoryCgroup } from '../../support/memory-cgroup';
import { DESTINATION_BUCKET, SOURCE_BUCKET, type FromPipeline, type PipelineSettings, type ToPipeline, type WorkerPipeline } from './pipeline-protocol';

const SCALE_INTERVAL_MS = 200;

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.CHAOS_PIPELINE ?? '') as PipelineSettings;
  const send = (message: FromPipeline) => process.send?.(message);
  const server = await startS3Server({ dataDir: settings.dataDir, port: 0, buckets: [SOURCE_BUCKET, DESTINATION_BUCKET] });
  const logDir = join(settings.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const running = new Map<number, ChildProcess>();
  let stopping = false;

  const launchers = settings.pipelines.map((pipeline: WorkerPipeline) => {
    const queue = LocalQueue.open(pipeline.workerEnv.QUEUE_URL);
    const mine = new Set<number>();
    const named = pipeline.name !== undefined ? { pipeline: pipeline.name } : {};
    const label = `${pipeline.name !== undefined ? `${pipeline.name}-` : ''}${settings.generation}`;
    let started = 0;
    const launch = () => {
      const n = ++started;
      const log = join(logDir, `worker-${label}-${n}.log`);
      // The worker writes its log file itself: lines piped through this process would be lost when it is killed.
      const fd = openSync(log, 'a');
      // One cgroup per worker process: each is a task with the task's memory. The chaos run reads and removes them.
      const cgroup = settings.memoryLimitBytes !== undefined ? createMemoryCgroup(`chaos-${label}-${n}`, settings.memoryLimitBytes) : undefined;
      const { command, args } = cgroup?.wrap(process.execPath, [settings.workerPath]) ?? { command: process.execPath, args: [settings.workerPath] };
      const child = spawn(command, args, { env: { ...pipeline.workerEnv }, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const pid = child.pid ?? 0;
      running.set(pid, child);
      mine.add(pid);
      send({ type: 'worker-started', pid, log, at: Date.now(), ...(cgroup !== undefined ? { cgroup: cgroup.path } : {}), ...named });
      child.once('exit', (code, signal) => {
        running.delete(pid);
        mine.delete(pid);
        send({ type: 'worker-exited', pid, code, signal, at: Date.now(), ...named });
      });
    };
    return {
      name: pipeline.name,
      queue,
      target: 0,
      tick() {
        void queue.depth().then((depth) => {
          if (stopping || depth.visible === 0) return;
          for (let i = mine.size; i < this.target; i++) launch();
        });
      },
    };
  });

  const timer = setInterval(() => {
    if (stopping) return;
    for (const launcher of launchers) launcher.tick();
  }, SCALE_INTERVAL_MS);

  process.on('message', (message: ToPipeline) => {
    if (message.type === 'scale') {
      for (const launcher of launchers) if (message.pipeline === undefined || message.pipeline === launcher.name) launcher.target = message.workers;
    }
    if (message.type === 'shutdown') {
      stopping = true;
      clearInterval(timer);
      const exits = [...running.values()].map((child) => new Promise((resolve) => child.once('exit', resolve)));
      for (const child of running.values()) child.kill('SIGTERM');
      void Promise.all(exits)
        .then(() => Promise.all(launchers.map((launcher) => launcher.queue.close())))
        .then(() => server.close())
        .then(() => process.exit(0));
    }
  });
  // An orphaned pipeline (its parent died) must not keep workers and a server running forever.
  process.on('disconnect', () => process.kill(-process.pid, 'SIGKILL'));
  send({ type: 'ready', endpoint: server.endpoint });
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos pipeline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
