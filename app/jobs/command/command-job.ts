import { lookup } from 'mime-types';
import type { LogFields } from '../../../shared/log/logger';
import type { FileOutput, JobContext, ObjectInput, ObjectJob, PlannedOutput } from '../../src/job/object-job';
import type { CommandConfig } from './command-config';
import { programEnvironment } from './command-config';
import { renderCommand } from './command-template';
import { exitOutcome } from './exit-outcome';
import { listOutputFiles } from './output-files';
import { runProgram } from './program-runner';

/**
 * Runs an existing program on each object: the object is streamed to a private directory (never whole in memory),
 * the program runs in its own process group with `{input}`, `{outputDir}`, `{key}` and `{bucket}` filled in, and
 * every regular file it leaves in `{outputDir}` becomes an output at DEST_PREFIX/<key minus SOURCE_PREFIX>/<path>.
 * Its exit code decides the outcome (exit-outcome.ts); the worker removes the directory whatever happened.
 */
export class CommandJob implements ObjectJob {
  readonly name = 'command';
  readonly consumes = 'file' as const;

  constructor(
    private readonly config: CommandConfig,
    private readonly workerEnv: NodeJS.ProcessEnv,
  ) {}

  /** What a program writes depends on its input: a redelivery runs it again and overwrites the same keys. */
  plannedOutputs(): readonly PlannedOutput[] | undefined {
    return undefined;
  }

  describe(): LogFields {
    return {
      command: this.config.command.form === 'argv' ? this.config.command.program : 'shell',
      timeoutSeconds: this.config.timeoutSeconds,
      transientExitCodes: this.config.transientExitCodes.join(','),
    };
  }

  async process(input: ObjectInput, context: JobContext): Promise<FileOutput[]> {
    if (input.kind !== 'file') throw new TypeError(`the command job consumes files, not ${input.kind}`);
    const { file, args, env } = renderCommand(this.config.command, { input: input.path, outputDir: input.outputDir, key: input.source.key, bucket: input.source.bucket });
    const result = await runProgram({
      file,
      args,
      cwd: input.tmpDir,
      // A request's settings (a fan-out manifest's) arrive as BLUEPRINT_SETTING_<NAME>: whoever writes a manifest can
      // never set a variable that changes how a program or its loader runs (LD_PRELOAD, NODE_OPTIONS, BASH_ENV, ...).
      env: { ...programEnvironment(this.config, this.workerEnv, input.tmpDir), ...settingsEnvironment(context.settings), ...env },
      timeoutMs: this.config.timeoutSeconds * 1000,
      killGraceMs: this.config.killGraceSeconds * 1000,
      signal: context.signal,
      stopSignal: context.stopping,
    });
    const outcome = exitOutcome(result, this.config);
    if (outcome.kind === 'failed') throw outcome.error;
    const listing = await listOutputFiles(input.outputDir);
    for (const entry of listing.skipped) {
      context.log.warn('output not uploaded', { key: input.source.key, path: entry.relativePath, reason: entry.reason });
    }
    context.log.debug('program finished', { key: input.source.key, durationMs: result.durationMs, outputs: listing.files.length });
    return listing.files.map((output) => ({
      name: `${input.source.relativeKey}/${output.relativePath}`,
      contentType: lookup(output.relativePath) || 'application/octet-stream',
      path: output.path,
      size: output.bytes,
    }));
  }
}

export const SETTING_PREFIX = 'BLUEPRINT_SETTING_';

/** A request's settings as the program's variables: each under the prefix, whatever its name. */
export function settingsEnvironment(settings: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(settings ?? {}).map(([name, value]) => [`${SETTING_PREFIX}${name}`, value]));
}
