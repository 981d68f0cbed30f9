import { loadConfig } from '../config';

/** libuv's own ceiling on its pool. */
const MAX_POOL_THREADS = 1024;

/**
 * libuv's pool size for the worker: each message in flight may render every size at once, one pool thread each, and
 * four more keep DNS lookups and file I/O from queueing behind the renders. libuv reads UV_THREADPOOL_SIZE once, when
 * its pool first starts, and loading sharp starts it: the value must be in the environment before the worker
 * process starts, so the supervisor sets it for its child. Undefined when the configuration is invalid (the worker
 * itself reports that).
 */
export function workerThreadpoolSize(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const config = loadConfig(env);
    return String(Math.min(MAX_POOL_THREADS, config.concurrency * config.resize.sizes.length + 4));
  } catch {
    return undefined;
  }
}
