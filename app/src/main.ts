/**
 * The container's CMD and `npm run worker`. The process that starts is a small supervisor; the worker itself runs in
 * a child process. A native libvips thread cannot be interrupted, and `process.exit()` waits for it, so a worker
 * asked to stop while a long render runs would outlive ECS's stopTimeout and be SIGKILLed (exit 137) after handing
 * its messages back. The supervisor ends such a child once it has said it is done, and exits with the child's code.
 * Both roles live in this one bundle; each loads only its own code.
 */
import { SUPERVISED_CHILD_ENV } from './runtime/supervisor-protocol';

if (process.env[SUPERVISED_CHILD_ENV] === '1') {
  void import('./worker-process').then((worker) => worker.runWorkerProcess());
} else {
  void import('./runtime/supervisor').then((supervisor) => supervisor.supervise());
}
