import { fork, type ChildProcess } from 'node:child_process';
import type { FromPipeline, PipelineSettings, ToPipeline } from './pipeline-protocol';

/** The pipeline process (pipeline-process.ts) as the chaos run drives it: scaled, killed whole, shut down. */
export interface RunningPipeline {
  readonly endpoint: string;
  send(message: Extract<ToPipeline, { type: 'scale' }>): void;
  killGroup(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Forks the pipeline process in a process group of its own and waits for its S3 server's endpoint. */
export async function launchPipeline(path: string, settings: PipelineSettings, nodeModules: string, onMessage: (message: FromPipeline) => void): Promise<RunningPipeline> {
  const child: ChildProcess = fork(path, [], {
    detached: true,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: nodeModules, NODE_NO_WARNINGS: '1', CHAOS_PIPELINE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: FromPipeline) => {
      if (message.type === 'ready') resolve(message.endpoint);
      else onMessage(message);
    });
    child.once('exit', (code, signal) => reject(new Error(`chaos pipeline exited before it was ready (${code ?? signal})`)));
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  return {
    endpoint,
    send: (message) => child.send(message),
    killGroup: async () => {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      await exited;
    },
    shutdown: async () => {
      if (!alive) return;
      child.send({ type: 'shutdown' } satisfies ToPipeline);
      const timer = setTimeout(() => alive && process.kill(-(child.pid ?? 0), 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
