import { parseArgs } from 'node:util';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Log, LogFields } from '../../shared/log/logger';
import { EcsTaskHistory } from './ecs-task-history';
import { EcsTaskLauncher } from './ecs-task-launcher';
import { LaunchBudget } from './launch-budget';
import { FARGATE_LAUNCH_LIMITS } from './launch-plan';
import { logWithFields } from './log-with-fields';
import { loadScalerPipelines, type PipelineScalerConfig } from './pipelines-config';
import type { RunScalerDeps, ScalerRun } from './run-scaler';
import { runScalerForPipelines } from './run-scaler-for-pipelines';
import { SqsDepthReader } from './sqs-depth-reader';
import { SsmWorkerImage } from './ssm-worker-image';

const USAGE = `Usage: npm run scale -- --once [--dry-run]

Runs one scaling decision against a deployed stack, with the Lambda's variables (QUEUE_URL, CLUSTER, TASK_FAMILY,
SUBNETS, SECURITY_GROUPS, IMAGE_PARAMETER, ..., or PIPELINES for several) and the SDK's usual region, credential and
endpoint settings.
  --once      required: make one decision and exit
  --dry-run   decide and print, launch nothing (same as DRY_RUN=true)
`;

/** Warnings and errors go to stderr so stdout holds only the decision. */
const stderrLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, fields?: LogFields) => console.error(JSON.stringify({ level: 'WARN', message, ...fields })),
  error: (message: string, fields?: LogFields) => console.error(JSON.stringify({ level: 'ERROR', message, ...fields })),
};

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { once: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  // There is no loop mode on purpose: in AWS the schedule is the loop, and a second loop next to it would launch
  // twice for the same backlog. --once makes that explicit on the command line.
  if (values.help || !values.once) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const pipelines = loadScalerPipelines(values['dry-run'] ? { ...process.env, DRY_RUN: 'true' } : process.env);
  const ecs = new ECSClient({});
  const sqs = new SQSClient({});
  const ssm = new SSMClient({});
  const budget = new LaunchBudget(FARGATE_LAUNCH_LIMITS, Date.now());
  const depsFor = (config: PipelineScalerConfig): RunScalerDeps => {
    const log = config.pipeline !== undefined ? logWithFields(stderrLog, { pipeline: config.pipeline }) : stderrLog;
    return {
      depthReader: new SqsDepthReader(sqs, config.queueUrl),
      launcher: new EcsTaskLauncher(ecs, config, { log, budget }),
      config,
      log,
      ...(config.imageParameter !== undefined ? { imageSource: new SsmWorkerImage(ssm, config.imageParameter) } : {}),
      history: new EcsTaskHistory(ecs, config),
    };
  };
  const outcomes = await runScalerForPipelines(pipelines.map((config) => ({ name: config.pipeline ?? '', deps: depsFor(config) })), stderrLog);
  let failed = false;
  for (const outcome of outcomes) {
    if (!outcome.ok) {
      failed = true;
      continue;
    }
    print(outcome.name, outcome.run);
    failed ||= outcome.run.launchReport.failures.length > 0;
  }
  return failed ? 1 : 0;
}

/** The decision as JSON, then as one readable line (prefixed with the pipeline's name when there are several). */
function print(name: string, run: ScalerRun): void {
  const { decision, launchReport } = run;
  console.log(JSON.stringify({ ...(name !== '' ? { pipeline: name } : {}), ...decision, launchReport, dryRun: run.dryRun }));
  console.log(
    `${name !== '' ? `${name}: ` : ''}${run.dryRun ? '[dry run] ' : ''}desired ${decision.desired}, launch ${decision.launch}, launched ` +
      `${launchReport.launched}, failures ${launchReport.failures.length}: ${decision.reasons.join('; ')}`,
  );
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    process.exitCode = 1;
  },
);
