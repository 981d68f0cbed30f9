/**
 * `npm start` (the whole pipeline on this machine), `npm run status` and `npm run redrive`, locally or against a
 * deployed stack. One entry point with subcommands: `node dist/local/cli.js <start|status|redrive> [options]`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3ObjectStore } from '../../app/src/store/s3-object-store';
import { ConfigError } from '../../shared/errors';
import { readCloudWatchReport } from './cloudwatch-status/cloudwatch-report';
import { formatCloudWatchReport } from './cloudwatch-status/report-lines';
import { awsRedrive, awsStatus, localRedrive, localStatus, stackOutputsFrom, type StackOutputs, type StatusReport } from './operator-commands';
import { demoJobNames, findJobDemo } from './job-demos';
import { DESTINATION_BUCKET, runPipeline, SOURCE_BUCKET } from './pipeline';
import { DEFAULT_DASHBOARD_PORT } from './dashboard/dashboard-server';
import { formatRunStatus, readRunStatuses, type RunStatus } from './run-status';
import { LOCAL_CREDENTIALS, startS3Server } from './s3-server';

const USAGE = `usage:
  npm start -- [--job <name>] [--load <dir>] [--until-drained] [--json] [--timeout <s>] [--data-dir <dir>] [--port <n>]
               [--scale-interval <s>] [--max-tasks <n>] [--messages-per-task <n>] [--ui-port <n> | --no-ui]
  npm run status  -- [--job <name>] [--data-dir <dir>] [--json] [--aws | --stack <dir>] [--runs s3://<bucket>/<run root>/]
  npm run redrive -- [--job <name>] [--data-dir <dir>] [--aws | --stack <dir>]
    --job picks the job the workers run (JOB, default resize; also command, fanout) and its demo set; its data lives
    in .local (resize) or .local/<job>.
    --runs lists fan-out runs under a run root: per family, batches dispatched, done and failed, and whether the run
    was aggregated (default for --job fanout locally: s3://destination/runs/).
    --ui-port serves the dashboard on http://127.0.0.1:<n>/ (default 4569, UI_PORT; a free port if it is taken; 0 picks
    one); --no-ui serves none.
    --aws reads QUEUE_URL, DLQ_URL, CLUSTER, TASK_FAMILY from the environment; --stack <dir> reads them from
    \`terraform output -json\` in a synthesized stack directory (e.g. cdktf.out/stacks/blueprint).
    status with --aws or --stack also charts the last hour from CloudWatch (processed per minute in the --job's unit,
    the oldest message's age, the DLQ), which needs cloudwatch:GetMetricData.
Worker settings (CONCURRENCY, the job's own: SIZES, FIT, ... or COMMAND, ...) are passed to the workers from the environment.`;

/** A demo's broken files fit; a real run's hundreds are for `npm run status`. */
const DEAD_LETTERS_SHOWN = 10;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      load: { type: 'string' },
      'until-drained': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '900' },
      job: { type: 'string', default: process.env.JOB ?? 'resize' },
      'data-dir': { type: 'string' },
      port: { type: 'string', default: process.env.S3_PORT ?? '4568' },
      'ui-port': { type: 'string', default: process.env.UI_PORT ?? String(DEFAULT_DASHBOARD_PORT) },
      'no-ui': { type: 'boolean', default: false },
      'scale-interval': { type: 'string', default: process.env.SCALE_INTERVAL ?? '3' },
      'max-tasks': { type: 'string', default: process.env.MAX_TASKS ?? '4' },
      'messages-per-task': { type: 'string', default: process.env.MESSAGES_PER_TASK ?? '10' },
      aws: { type: 'boolean', default: false },
      stack: { type: 'string' },
      runs: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const demo = findJobDemo(values.job);
  if (demo === undefined) {
    process.stderr.write(`--job "${values.job}" is unknown: expected one of ${demoJobNames().join(', ')}\n`);
    return 2;
  }
  // Each job keeps its own buckets, queue and logs, so switching jobs never mixes their files.
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? (demo.job === 'resize' ? '.local' : join('.local', demo.job)));
  const aws = values.stack !== undefined ? stackOutputsFrom(terraformOutputs(resolve(values.stack))) : values.aws ? targetFromEnv() : undefined;
  const runsAt = values.runs ?? (aws === undefined && demo.job === 'fanout' ? `s3://${DESTINATION_BUCKET}/runs/` : undefined);
  if (command === 'status') return status(aws, dataDir, values.json, runsAt, demo.job);
  if (command === 'redrive') return redrive(aws, dataDir);
  if (command !== 'start') {
    process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }

  const number = (name: string, raw: string, min: number) => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new ConfigError(`--${name}="${raw}" is invalid: expected a number of at least ${min}`);
    return value;
  };
  // With --json, stdout carries only the summary; progress goes to stderr.
  const progress = values.json ? process.stderr : process.stdout;
  let stops = 0;
  const handlers: ((force: boolean) => void)[] = [];
  const onSignal = () => {
    stops++;
    progress.write(stops === 1 ? '\nstopping: workers finish or hand back their messages (Ctrl-C again to force)\n' : '\nforcing stop\n');
    for (const handler of handlers) handler(stops > 1);
  };
  // SIGTERM (a process manager, a test harness) stops the same way as Ctrl-C.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runPipeline(
    {
      dataDir,
      port: number('port', values.port, 0),
      ...(values.load !== undefined ? { load: resolve(values.load) } : {}),
      untilDrained: values['until-drained'],
      json: values.json,
      timeoutSeconds: number('timeout', values.timeout, 1),
      scaleIntervalSeconds: number('scale-interval', values['scale-interval'], 0.1),
      maxTasks: number('max-tasks', values['max-tasks'], 1),
      messagesPerTask: number('messages-per-task', values['messages-per-task'], 1),
      workerPath: join(__dirname, '..', 'app', 'main.js'),
      distDir: join(__dirname, '..'),
      demo,
      env: process.env,
      interactive: Boolean(progress.isTTY) && !values.json,
      // The URL goes where progress goes: stderr under --json, whose stdout is only the summary.
      ...(values['no-ui'] ? {} : { dashboardPort: number('ui-port', values['ui-port'], 0) }),
      write: (text) => progress.write(text),
    },
    { onStop: (handler) => handlers.push(handler) },
  );
  // A fan-out's unit of work is a run: say where each stands, per family, and where its summary is.
  const runs = demo.job === 'fanout' ? await runStatusesAt(`s3://${DESTINATION_BUCKET}/runs/`, dataDir) : undefined;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, ...(runs !== undefined ? { runs } : {}) })}\n`);
  } else {
    process.stdout.write(
      [
        '',
        `loaded ${summary.loaded} files: ${summary.done} processed (${summary.outputs} outputs), ${summary.deadLettered} in the DLQ, ${summary.pending.length} pending`,
        `${summary.durationSeconds}s, ${summary.filesPerSecond} files/s, ${summary.workersStarted} workers started, at most ${summary.peakWorkers} at once`,
        ...summary.deadLetters.slice(0, DEAD_LETTERS_SHOWN).map((line) => `  DLQ ${line.key}: ${line.reason}${line.why === '' ? '' : ` (${line.why})`}`),
        summary.dlqDepth > 0 ? `dead letters: inspect with npm run status, retry with npm run redrive after fixing the cause` : '',
        ...(runs ?? []).flatMap(formatRunStatus),
        ...(summary.databaseSummary ?? []),
        ...(summary.closingLines ?? []),
        summary.databaseSummary === undefined ? `outputs (plain files): ${summary.outputsDir}` : '',
        ...(runs ?? []).filter((run) => run.aggregated).map((run) => `  run ${run.runId}'s summary: ${join(summary.outputsDir, 'runs', run.runId, 'summary.csv')}`),
        '',
      ].join('\n'),
    );
  }
  return summary.pending.length === 0 || !values['until-drained'] ? 0 : 1;
}

/**
 * Exits 0 when CloudWatch refuses or throttles the metrics read: the queue and task counts were read, the chart's place
 * says what is missing and why (under --json, `cloudWatch.status` is `unavailable`), and a permission gap in this
 * optional read must not make scripts that poll status see a failed status.
 */
async function status(aws: StackOutputs | undefined, dataDir: string, json: boolean, runsAt: string | undefined, job: string): Promise<number> {
  const report: StatusReport = aws !== undefined ? await awsStatus(aws, new SQSClient({}), new ECSClient({})) : await localStatus(dataDir);
  const runs = runsAt === undefined ? undefined : await runStatusesAt(runsAt, aws === undefined ? dataDir : undefined);
  const metrics = aws !== undefined ? await readCloudWatchReport(new CloudWatchClient({}), aws, job, Date.now) : undefined;
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, ...(runs !== undefined ? { runs } : {}), ...(metrics !== undefined ? { cloudWatch: metrics } : {}) })}\n`);
    return 0;
  }
  process.stdout.write(
    `${report.target}: queue visible ${report.visible}, in flight ${report.inFlight}, delayed ${report.delayed}, DLQ ${report.deadLettered}, running ${report.target === 'local' ? 'workers' : 'tasks'} ${report.runningTasks}\n`,
  );
  for (const line of report.deadLetters ?? []) {
    process.stdout.write(`  DLQ ${line.key}: ${line.reason}${line.why === '' ? '' : ` (${line.why})`}\n`);
  }
  for (const decision of report.lastDecisions) {
    process.stdout.write(`  ${String(decision.timestamp)} ${typeof decision.pipeline === 'string' ? `${decision.pipeline}: ` : ''}launch ${String(decision.launch)}: ${(decision.reasons as string[] | undefined)?.join('; ') ?? ''}\n`);
  }
  for (const run of runs ?? []) for (const line of formatRunStatus(run)) process.stdout.write(`${line}\n`);
  if (runs !== undefined && runs.length === 0) process.stdout.write(`no fan-out runs under ${runsAt ?? ''}\n`);
  if (aws !== undefined) {
    // Reading the log group needs @aws-sdk/client-cloudwatch-logs, which the blueprint does not install for one command.
    const logGroup = aws.scalerFunctionName !== undefined ? `/aws/lambda/${aws.scalerFunctionName}` : 'the scaler function\'s log group';
    process.stdout.write(
      `  last scaling decisions: CloudWatch Logs Insights on ${logGroup}:\n` +
        '    fields @timestamp, visible, inFlight, running, launch, reasons | filter message = "scaling decision" | sort @timestamp desc | limit 20\n',
    );
  }
  if (metrics !== undefined) for (const line of formatCloudWatchReport(metrics)) process.stdout.write(`${line}\n`);
  return 0;
}

async function redrive(aws: StackOutputs | undefined, dataDir: string): Promise<number> {
  if (aws !== undefined) {
    const handle = await awsRedrive(new SQSClient({}), aws);
    process.stdout.write(`started SQS message move task ${handle}: dead letters go back to ${aws.queueUrl}\n`);
  } else {
    process.stdout.write(`moved ${await localRedrive(dataDir)} dead letters back to the local queue\n`);
  }
  return 0;
}

/**
 * Runs under `s3://bucket/root/`: from S3 with the default credentials, or locally from the pipeline's S3 server (the
 * running one, or one started on its data for as long as the listing takes).
 */
async function runStatusesAt(location: string, localDataDir: string | undefined): Promise<RunStatus[]> {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
  if (match === null) throw new ConfigError(`--runs "${location}" is invalid: expected s3://<bucket>/<run root>/`);
  const [, bucket, rawRoot] = match as unknown as [string, string, string];
  const root = rawRoot === '' || rawRoot.endsWith('/') ? rawRoot : `${rawRoot}/`;
  if (localDataDir === undefined) return readRunStatuses(new S3ObjectStore(new S3Client({})), bucket, root);
  const running = runningEndpoint(localDataDir);
  const server = running === undefined ? await startS3Server({ dataDir: localDataDir, port: 0, buckets: [SOURCE_BUCKET, DESTINATION_BUCKET] }) : undefined;
  const s3 = new S3Client({ endpoint: running ?? server!.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  try {
    return await readRunStatuses(new S3ObjectStore(s3), bucket, root);
  } finally {
    s3.destroy();
    await server?.close();
  }
}

/** The endpoint of the local pipeline still running on this data, if one is. */
function runningEndpoint(dataDir: string): string | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { pid?: number; endpoint?: string };
    // This process's own pipeline has stopped by the time its summary lists the runs.
    if (state.pid === undefined || state.endpoint === undefined || state.pid === process.pid) return undefined;
    process.kill(state.pid, 0);
    return state.endpoint;
  } catch {
    return undefined;
  }
}

function targetFromEnv(): StackOutputs {
  return { queueUrl: requireEnv('QUEUE_URL'), dlqUrl: requireEnv('DLQ_URL'), cluster: requireEnv('CLUSTER'), taskFamily: requireEnv('TASK_FAMILY') };
}

function terraformOutputs(stackDir: string): string {
  try {
    return execFileSync('terraform', ['output', '-json'], { cwd: stackDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new ConfigError(`--stack ${stackDir}: terraform output -json failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new ConfigError(`${name} is missing: --aws needs QUEUE_URL, DLQ_URL, CLUSTER and TASK_FAMILY`);
  return value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? 'invalid configuration: ' : ''}${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
