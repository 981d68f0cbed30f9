import { FARGATE_CPU_MEMORY, DEFAULT_PIPELINE_NAME, resolvePipelines, type PipelineConfig, type PipelineDefaults, type PipelineInput } from './pipelines/pipeline-config';
import { resolveStateBackend, type StateBackend, type StateBackendInput } from './state-backend';

/** Everything `cdktf deploy` needs, in one typed object with defaults; invalid values fail the synth naming them. */
/** The top-level sourcePrefix, sizes, taskCpu, ... (PipelineDefaults) are the default pipeline's, and stand in for what a further pipeline does not say. */
export interface InfraConfig extends PipelineDefaults {
  readonly name: string;
  readonly region: string;
  /** At least two, e.g. ['eu-west-1a', 'eu-west-1b']: given, not looked up, so plans need no AWS call. */
  readonly availabilityZones: readonly string[];
  readonly vpcCidr: string;
  readonly publicSubnetCidrs: readonly string[];
  readonly privateSubnetCidrs: readonly string[];
  /** One NAT gateway per AZ (resilient) instead of one in total (cheaper, the default). */
  readonly natPerAz: boolean;
  /**
   * The pipelines (source filter → queue + DLQ → task family → scaling rule) sharing the stack's buckets, cluster and
   * scaler; default: one, `images`, the resize job. The fields below from sourcePrefix to visibilityTimeoutSeconds
   * are the defaults of the first pipeline (and sizing and scaling defaults of the others), so a configuration
   * without `pipelines` describes the one pipeline it always did.
   */
  readonly pipelines: readonly PipelineConfig[];
  /** How long the work queue keeps a message: 60 s to 14 days, default 4 days (SQS's own default). */
  readonly queueRetentionSeconds: number;
  /**
   * How long the DLQ keeps a message: longer than queueRetentionSeconds, because a message moved there by the redrive
   * policy keeps its original enqueue time. Default 14 days, SQS's maximum.
   */
  readonly deadLetterRetentionSeconds: number;
  readonly logRetentionDays: number;
  /**
   * Lets `cdktf destroy` delete the source and destination buckets and the ECR repository while they still hold
   * objects or images (S3 force_destroy, ECR force_delete); without it the destroy stops at the first non-empty one.
   * For demos only: it deletes every source image, output and worker image.
   */
  readonly forceDestroy: boolean;
  /** The image tasks run until the pipeline pushes the first build (see README "the two traps"). */
  readonly bootstrapImage: string;
  /** `owner/repo` of your copy of this blueprint on GitHub: CodePipeline rebuilds the worker on every push to it. */
  readonly githubRepository: string;
  readonly githubBranch: string;
  /** An existing CodeConnections (CodeStar) connection; empty: one is created, PENDING until approved in the console. */
  readonly githubConnectionArn: string;
  /**
   * Fallback only, as the original blueprint does: the name of a Secrets Manager secret holding a GitHub token, read by
   * the GitHub version 1 source action, which AWS no longer recommends (the token also lands in Terraform state).
   */
  readonly githubTokenSecretName: string;
  /** Images kept in ECR; older ones expire. */
  readonly ecrKeepImages: number;
  /** Interface endpoints for SQS, ECR, CloudWatch Logs and Monitoring, so tasks need no NAT for AWS APIs. */
  readonly interfaceEndpoints: boolean;
  /** A customer-managed KMS key (rotated yearly) for the buckets and queues instead of SSE-S3 and SSE-SQS. */
  readonly kmsEncryption: boolean;
  readonly bucketVersioning: boolean;
  /** Source objects expire this many days after upload; 0 keeps them. */
  readonly sourceExpirationDays: number;
  /** Subscribed to the alarm and pipeline topic when set (the address confirms by e-mail). */
  readonly alarmEmail: string;
  /** The oldest-message alarm fires when a message has waited this long. */
  readonly oldestMessageAlarmSeconds: number;
  /** Folder holding the bundled scaler (`index.js`), made by `npm run build`. */
  readonly scalerBundleDir: string;
  /**
   * Reserve one concurrent execution for the scaler. Off by default: AWS refuses a reservation that would leave fewer
   * than 100 unreserved, so it fails the deploy on accounts still at the new-account quota of 10. Runs are kept apart
   * without it (no retries, a run ends before the next starts); turn it on where the quota allows, as a second guard.
   */
  readonly scalerReservedConcurrency: boolean;
  /**
   * Team state: the S3 bucket (made once, see README "Team state"), key and region of the stack's Terraform state,
   * locked with S3's own conditional writes. Unset (the default): local state in cdktf.out, for one person.
   */
  readonly stateBackend: StateBackend | undefined;
}

const DAY_SECONDS = 24 * 3600;
/** SQS keeps a message at least a minute and at most 14 days. */
const MIN_RETENTION_SECONDS = 60;
const MAX_RETENTION_SECONDS = 14 * DAY_SECONDS;

/** What BLUEPRINT_CONFIG may hold: any setting, pipelines as partial descriptions filled in from the defaults. */
export type InfraConfigOverrides = Partial<Omit<InfraConfig, 'pipelines' | 'stateBackend'>> & {
  readonly pipelines?: readonly PipelineInput[];
  /** The bucket at least; key and region default to `<name>/terraform.tfstate` and the stack's region. */
  readonly stateBackend?: StateBackendInput;
};

const DEFAULT_SETTINGS: Omit<InfraConfig, 'pipelines'> = {
  name: 's3-queue',
  region: 'us-east-1',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
  vpcCidr: '10.40.0.0/16',
  publicSubnetCidrs: ['10.40.0.0/24', '10.40.1.0/24'],
  privateSubnetCidrs: ['10.40.16.0/20', '10.40.32.0/20'],
  natPerAz: false,
  sourcePrefix: '',
  sourceSuffixes: ['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG'],
  destPrefix: '',
  sizes: '224x224,299x299',
  taskCpu: 2048,
  taskMemory: 4096,
  maxTasks: 10,
  messagesPerTask: 10,
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: 120,
  queueRetentionSeconds: 4 * DAY_SECONDS,
  deadLetterRetentionSeconds: MAX_RETENTION_SECONDS,
  logRetentionDays: 30,
  forceDestroy: false,
  bootstrapImage: 'public.ecr.aws/docker/library/node:22-slim',
  githubRepository: '',
  githubBranch: 'main',
  githubConnectionArn: '',
  githubTokenSecretName: '',
  ecrKeepImages: 20,
  interfaceEndpoints: false,
  kmsEncryption: false,
  bucketVersioning: false,
  sourceExpirationDays: 0,
  alarmEmail: '',
  oldestMessageAlarmSeconds: 3600,
  scalerBundleDir: 'dist/scaler',
  scalerReservedConcurrency: false,
  stateBackend: undefined,
};

export const DEFAULT_INFRA_CONFIG: InfraConfig = Object.freeze({
  ...DEFAULT_SETTINGS,
  pipelines: resolvePipelines([{ name: DEFAULT_PIPELINE_NAME }], DEFAULT_SETTINGS).pipelines,
});

export function resolveInfraConfig(overrides: InfraConfigOverrides = {}): InfraConfig {
  const { pipelines: pipelineInputs, stateBackend: stateBackendInput, ...settingOverrides } = overrides;
  const merged = { ...DEFAULT_SETTINGS, ...settingOverrides };
  const stateBackend = stateBackendInput === undefined ? { problems: [] } : resolveStateBackend(stateBackendInput, merged);
  const settings: Omit<InfraConfig, 'pipelines'> = { ...merged, stateBackend: stateBackend.backend };
  const problems: string[] = Object.keys(overrides)
    .filter((key) => !(key in DEFAULT_INFRA_CONFIG))
    .map((key) => `${key}: not a setting (known: ${Object.keys(DEFAULT_INFRA_CONFIG).join(', ')})`);
  const { pipelines, problems: pipelineProblems } = resolvePipelines(pipelineInputs ?? [{ name: DEFAULT_PIPELINE_NAME }], settings);
  const config: InfraConfig = { ...settings, pipelines };
  const cidr = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
  if (!/^[a-z][a-z0-9-]{1,20}$/.test(config.name)) problems.push(`name="${config.name}": 2-21 lower-case letters, digits or dashes, starting with a letter`);
  if (config.availabilityZones.length < 2) problems.push('availabilityZones: at least two, for tasks in two AZs');
  for (const field of ['publicSubnetCidrs', 'privateSubnetCidrs'] as const) {
    if (config[field].length !== config.availabilityZones.length || !config[field].every((c) => cidr.test(c))) {
      problems.push(`${field}: one CIDR per availability zone (${config.availabilityZones.length})`);
    }
  }
  if (!cidr.test(config.vpcCidr)) problems.push(`vpcCidr="${config.vpcCidr}": a CIDR such as 10.40.0.0/16`);
  const memory = FARGATE_CPU_MEMORY[config.taskCpu];
  if (memory === undefined) problems.push(`taskCpu=${config.taskCpu}: one of ${Object.keys(FARGATE_CPU_MEMORY).join(', ')}`);
  else if (config.taskMemory < memory[0] || config.taskMemory > memory[1]) problems.push(`taskMemory=${config.taskMemory}: ${memory[0]}..${memory[1]} MiB for taskCpu ${config.taskCpu}`);
  if (!Number.isInteger(config.maxTasks) || config.maxTasks < 1) problems.push(`maxTasks=${config.maxTasks}: an integer of at least 1`);
  if (!Number.isInteger(config.maxReceiveCount) || config.maxReceiveCount < 1 || config.maxReceiveCount > 1000) problems.push(`maxReceiveCount=${config.maxReceiveCount}: 1..1000`);
  if (config.visibilityTimeoutSeconds < 30 || config.visibilityTimeoutSeconds > 43200) problems.push(`visibilityTimeoutSeconds=${config.visibilityTimeoutSeconds}: 30..43200`);
  for (const field of ['queueRetentionSeconds', 'deadLetterRetentionSeconds'] as const) {
    const value = config[field];
    if (!Number.isInteger(value) || value < MIN_RETENTION_SECONDS || value > MAX_RETENTION_SECONDS) {
      problems.push(`${field}=${value}: ${MIN_RETENTION_SECONDS}..${MAX_RETENTION_SECONDS} (60 s to 14 days)`);
    }
  }
  if (config.deadLetterRetentionSeconds <= config.queueRetentionSeconds) {
    problems.push(
      `deadLetterRetentionSeconds=${config.deadLetterRetentionSeconds} must be longer than queueRetentionSeconds=${config.queueRetentionSeconds}: ` +
      'a message the redrive policy moves to the DLQ keeps its original enqueue time',
    );
  }
  if (!/^\d+x\d+(,\d+x\d+)*$/.test(config.sizes)) problems.push(`sizes="${config.sizes}": WIDTHxHEIGHT list such as 224x224,299x299`);
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(config.githubRepository)) {
    problems.push(`githubRepository="${config.githubRepository}": owner/repo of your GitHub copy of this blueprint, e.g. my-org/s3-queue-fargate`);
  }
  if (config.githubBranch.trim() === '') problems.push('githubBranch: the branch whose pushes are built, e.g. main');
  if (config.githubConnectionArn !== '' && config.githubTokenSecretName !== '') {
    problems.push('githubConnectionArn and githubTokenSecretName: set at most one (a connection is the default and the better choice)');
  }
  if (config.githubConnectionArn !== '' && !/^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/.+$/.test(config.githubConnectionArn)) {
    problems.push(`githubConnectionArn="${config.githubConnectionArn}": a connection ARN such as arn:aws:codeconnections:us-east-1:123456789012:connection/<id>`);
  }
  if (!Number.isInteger(config.ecrKeepImages) || config.ecrKeepImages < 1) problems.push(`ecrKeepImages=${config.ecrKeepImages}: an integer of at least 1`);
  if (!Number.isInteger(config.sourceExpirationDays) || config.sourceExpirationDays < 0) problems.push(`sourceExpirationDays=${config.sourceExpirationDays}: 0 (keep) or a number of days`);
  if (config.alarmEmail !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(config.alarmEmail)) problems.push(`alarmEmail="${config.alarmEmail}": an e-mail address, or empty`);
  if (!Number.isInteger(config.oldestMessageAlarmSeconds) || config.oldestMessageAlarmSeconds < 60) problems.push(`oldestMessageAlarmSeconds=${config.oldestMessageAlarmSeconds}: at least 60`);
  problems.push(...pipelineProblems, ...stateBackend.problems);
  if (problems.length > 0) throw new Error(`invalid infrastructure configuration:\n${problems.join('\n')}`);
  return Object.freeze(config);
}
