import { loadWorkerAndJob } from '../config';
import { detectCpuCount } from './cpu-count';
import { detectMemoryLimit } from './memory-limit';

/** libuv's own ceiling on its pool. */
const MAX_POOL_THREADS = 1024;

/**
 * libuv's pool size for the worker: each message in flight may keep the job's pool threads busy at once (a resize
 * renders every size on its own), and four more keep DNS lookups and file I/O from queueing behind them. libuv reads
 * UV_THREADPOOL_SIZE once, when its pool first starts, and loading sharp starts it: the value must be in the
 * environment before the worker process starts, so the supervisor sets it for its child. Undefined when the
 * configuration is invalid (the worker itself reports that).
 */
export function workerThreadpoolSize(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const { config, jobModule, jobSettings } = loadWorkerAndJob(env, { cpuCount: detectCpuCount(), memoryLimitBytes: detectMemoryLimit(env).bytes });
    const perMessage = jobModule.poolThreadsPerMessage?.(jobSettings) ?? 0;
    return String(Math.min(MAX_POOL_THREADS, config.concurrency * perMessage + 4));
  } catch {
    return undefined;
  }
}
