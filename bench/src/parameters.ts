/**
 * Every number the scaling simulation and the cost model assume, in one place so a reader can check and change them.
 *
 * PRICES ARE NOT FETCHED. They are the public AWS list prices for us-east-1 as the author of this file remembered
 * them (knowledge as of 2025-06), without free tiers, savings plans or taxes. Check them against
 * https://aws.amazon.com/fargate/pricing/, /sqs/pricing/, /s3/pricing/ and /lambda/pricing/ before relying on them;
 * Fargate Spot prices in particular move with spare capacity.
 */
export const PRICES_AS_OF = '2025-06 (us-east-1, recalled list prices, not fetched: verify before use)';

export interface Prices {
  readonly fargateOnDemandPerVcpuHour: number;
  readonly fargateOnDemandPerGbHour: number;
  readonly fargateSpotPerVcpuHour: number;
  readonly fargateSpotPerGbHour: number;
  /** Fargate bills per second with a one-minute minimum per task. */
  readonly fargateMinimumBilledSeconds: number;
  /** Standard queue, per request (each 64 KiB chunk of a payload is one request). */
  readonly sqsPerRequest: number;
  /** S3 Standard PUT, COPY, POST, LIST. */
  readonly s3PutPerRequest: number;
  /** S3 Standard GET, HEAD and other reads. */
  readonly s3GetPerRequest: number;
  /** Lambda x86_64. */
  readonly lambdaPerGbSecond: number;
  readonly lambdaPerRequest: number;
}

export const PRICES: Prices = Object.freeze({
  fargateOnDemandPerVcpuHour: 0.04048,
  fargateOnDemandPerGbHour: 0.004445,
  fargateSpotPerVcpuHour: 0.012144,
  fargateSpotPerGbHour: 0.0013335,
  fargateMinimumBilledSeconds: 60,
  sqsPerRequest: 0.4 / 1_000_000,
  s3PutPerRequest: 0.005 / 1_000,
  s3GetPerRequest: 0.0004 / 1_000,
  lambdaPerGbSecond: 0.0000166667,
  lambdaPerRequest: 0.2 / 1_000_000,
});

/** The deployed system as the simulation models it; defaults are the blueprint's own defaults. */
export interface SimulationParameters {
  /** EventBridge rate(2 minutes). */
  readonly scheduleIntervalSeconds: number;
  /**
   * When the first scheduled run falls after the burst lands. The schedule's phase is random relative to an upload,
   * so the default is the expected wait, half an interval.
   */
  readonly firstTickSeconds: number;
  /** RunTask to the worker's first receive: provisioning, image pull, process start. */
  readonly startLatencySeconds: number;
  /** One task's throughput at its vCPUs (from the worker end-to-end bench, scaled by vCPUs). */
  readonly perTaskImagesPerSecond: number;
  /** RECEIVE_BATCH_SIZE: SQS returns at most 10 per receive. */
  readonly receiveBatchSize: number;
  /** WAIT_SECONDS: long-poll wait. */
  readonly waitSeconds: number;
  /** IDLE_POLLS: consecutive empty long polls before a task exits. */
  readonly idlePolls: number;
  /** MAX_TASKS. */
  readonly maxTasks: number;
  /** MESSAGES_PER_TASK (our rule; the original's is fixed at 10). */
  readonly messagesPerTask: number;
  /** Stop simulating after this long even if work remains (a guard, never reached by the scenarios). */
  readonly horizonSeconds: number;
  /** Timeline resolution for the charts. */
  readonly sampleEverySeconds: number;
}

export const DEFAULT_SIMULATION: SimulationParameters = Object.freeze({
  scheduleIntervalSeconds: 120,
  firstTickSeconds: 60,
  startLatencySeconds: 60,
  perTaskImagesPerSecond: 10,
  receiveBatchSize: 10,
  waitSeconds: 20,
  idlePolls: 2,
  maxTasks: 10,
  messagesPerTask: 10,
  horizonSeconds: 7 * 24 * 3600,
  sampleEverySeconds: 5,
});

/** The Fargate task the cost model prices. */
export interface TaskSize {
  readonly vcpu: number;
  readonly memoryGb: number;
  /** Share of tasks placed on FARGATE_SPOT (the default strategy FARGATE_SPOT:4,FARGATE:1 gives 0.8). */
  readonly spotShare: number;
}

export const DEFAULT_TASK_SIZE: TaskSize = Object.freeze({ vcpu: 2, memoryGb: 4, spotShare: 0.8 });

/** Requests per image that do not depend on scaling; the bench replaces them with the worker's measured counts. */
export interface PerImageRequests {
  /** S3 GET/HEAD per image. */
  readonly s3Reads: number;
  /** S3 PUT per image: one per output size. */
  readonly s3Writes: number;
  /** SQS requests per image besides receives: the S3 notification's SendMessage, batched deletes, visibility changes. */
  readonly sqsOther: number;
}

export const DEFAULT_PER_IMAGE_REQUESTS: PerImageRequests = Object.freeze({
  // The GET, and the HEAD that reads the source back after writing so an older version never wins a race.
  s3Reads: 2,
  s3Writes: 2,
  // 1 SendMessage by S3 + 1/10 DeleteMessageBatch.
  sqsOther: 1.1,
});

/** The scaler itself: one Lambda run and one GetQueueAttributes per schedule tick. */
export interface ScalerRunCost {
  readonly lambdaMemoryGb: number;
  readonly lambdaBilledSeconds: number;
  /** GetQueueAttributes per run. */
  readonly sqsRequests: number;
}

export const DEFAULT_SCALER_RUN: ScalerRunCost = Object.freeze({ lambdaMemoryGb: 0.25, lambdaBilledSeconds: 0.5, sqsRequests: 1 });

/**
 * The same resize done by Lambda behind the same queue (SQS event source). Lambda gives one vCPU per 1,769 MB, so
 * per-image time is the measured per-core time divided by the vCPUs the memory setting buys (at most 6).
 */
export interface LambdaAlternative {
  readonly memoryGb: number;
  /** SQS event source batch size: one invocation per batch. */
  readonly batchSize: number;
  /** Fraction of invocations that pay a cold start. */
  readonly coldStartShare: number;
  readonly coldStartSeconds: number;
  /** Fixed billed time per invocation besides the resizing itself (S3 round trips, handler overhead). */
  readonly overheadSecondsPerInvocation: number;
}

export const DEFAULT_LAMBDA: LambdaAlternative = Object.freeze({
  memoryGb: 2,
  batchSize: 10,
  coldStartShare: 0.01,
  coldStartSeconds: 0.5,
  overheadSecondsPerInvocation: 0.1,
});

/** Lambda's documented ratio: 1,769 MB of memory buys one vCPU. */
export const LAMBDA_MB_PER_VCPU = 1769;
export const LAMBDA_MAX_VCPU = 6;
