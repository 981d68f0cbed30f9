import { randomUUID } from 'node:crypto';
import {
  ListTasksCommand,
  RunTaskCommand,
  type ECSClient,
  type Failure,
  type RunTaskCommandOutput,
} from '@aws-sdk/client-ecs';
import { classifyFailure } from '../../shared/errors';
import type { Log } from '../../shared/log/logger';
import { realSleep, type Sleep } from '../../shared/retry';
import type { CapacityProviderStrategyItem, ScalerConfig } from './config';
import { LaunchBudget } from './launch-budget';
import { FARGATE_LAUNCH_LIMITS, type LaunchRateLimits } from './launch-plan';
import type { LaunchFailure, LaunchOptions, LaunchReport, TaskLauncher } from './ports/task-launcher';

/** RunTask starts at most 10 tasks per call. */
export const RUN_TASK_MAX_COUNT = 10;
const LIST_TASKS_PAGE_SIZE = 100;
const ON_DEMAND_STRATEGY: readonly CapacityProviderStrategyItem[] = [{ capacityProvider: 'FARGATE', weight: 1 }];

export type EcsLauncherConfig = Pick<
  ScalerConfig,
  'cluster' | 'taskFamily' | 'subnets' | 'securityGroups' | 'capacityProviderStrategy' | 'spotFallback' | 'startedBy'
>;

export interface EcsLauncherOptions {
  readonly log?: Log;
  readonly sleep?: Sleep;
  /** The clock (epoch ms), injectable so tests run a rate plan without waiting for it. */
  readonly now?: () => number;
  /** RunTask's and Fargate's launch rates (default: AWS's published defaults). */
  readonly limits?: LaunchRateLimits;
  /** Retries of a throttled RunTask after the SDK's own retries gave up (default 4). */
  readonly throttleRetries?: number;
  readonly throttleBaseDelayMs?: number;
  /** Idempotency token per RunTask call; injectable so tests can predict it. */
  readonly newClientToken?: () => string;
  /**
   * The launch rates this launcher shares with the others of the same run (one per pipeline): AWS's buckets are the
   * account's. Without one, each launch plans from full buckets of its own.
   */
  readonly budget?: LaunchBudget;
}

/**
 * ECS failures[] carries no error code, only words: Fargate says "Capacity is unavailable at this time. Please try
 * again later or in a different availability zone"; the other forms have been seen from capacity providers.
 */
export function isCapacityFailure(failure: Pick<Failure, 'reason'>): boolean {
  return /capacity is unavailable|insufficient capacity|^CAPACITY/i.test(failure.reason ?? '');
}

interface ChunkOutcome {
  launched: number;
  capacityFailures: number;
  failures: LaunchFailure[];
  byCapacityProvider: Record<string, number>;
  /** A thrown error that would fail every further call the same way (access denied, bad parameter, throttled). */
  fatal: boolean;
}

/** Launches workers as Fargate tasks with ECS RunTask and counts them with ListTasks. */
export class EcsTaskLauncher implements TaskLauncher {
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private readonly limits: LaunchRateLimits;
  private readonly throttleRetries: number;
  private readonly throttleBaseDelayMs: number;
  private readonly newClientToken: () => string;

  constructor(
    private readonly ecs: ECSClient,
    private readonly config: EcsLauncherConfig,
    private readonly options: EcsLauncherOptions = {},
  ) {
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.limits = options.limits ?? FARGATE_LAUNCH_LIMITS;
    this.throttleRetries = options.throttleRetries ?? 4;
    this.throttleBaseDelayMs = options.throttleBaseDelayMs ?? 500;
    this.newClientToken = options.newClientToken ?? randomUUID;
  }

  /**
   * Desired status RUNNING covers tasks still provisioning and pending, which is what keeps consecutive runs from
   * launching twice for one backlog. Filtered by family: ListTasks refuses `startedBy` combined with any other filter.
   */
  async countRunning(): Promise<number> {
    let count = 0;
    let nextToken: string | undefined;
    do {
      const page = await this.ecs.send(
        new ListTasksCommand({
          cluster: this.config.cluster,
          family: this.config.taskFamily,
          desiredStatus: 'RUNNING',
          maxResults: LIST_TASKS_PAGE_SIZE,
          nextToken,
        }),
      );
      count += page.taskArns?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken);
    return count;
  }

  /**
   * RunTask in chunks of at most 10, sent in parallel as fast as the launch-rate plan allows (never waiting for an
   * earlier chunk's answer), each chunk starting on the next subnet so tasks spread over the zones. No call starts
   * after `stopLaunchingAt`, and no call starts once one failed in a way every call would. Tasks Spot had no capacity
   * for are relaunched on FARGATE; that relaunch counts against the same request, so no more than `count` tasks are
   * ever started.
   */
  async launch(count: number, options: LaunchOptions = {}): Promise<LaunchReport> {
    const requested = Math.max(0, Math.floor(count));
    const report = { launched: 0, failures: [] as LaunchFailure[], byCapacityProvider: {} as Record<string, number>, spotFallbackLaunched: 0 };
    const stopAt = options.stopLaunchingAt ?? Infinity;
    const budget = this.options.budget ?? new LaunchBudget(this.limits, this.now());
    let capacityFailures = 0;
    let fatal = false;

    const record = (outcome: ChunkOutcome): void => {
      report.launched += outcome.launched;
      capacityFailures += outcome.capacityFailures;
      report.failures.push(...outcome.failures);
      for (const [provider, n] of Object.entries(outcome.byCapacityProvider)) {
        report.byCapacityProvider[provider] = (report.byCapacityProvider[provider] ?? 0) + n;
      }
      if (outcome.fatal) fatal = true;
    };

    /** Returns whether every planned call was made and none failed fatally. */
    const runPhase = async (total: number, strategy: readonly CapacityProviderStrategyItem[]): Promise<boolean> => {
      const calls = budget.plan(total, this.now());
      const inFlight: Promise<void>[] = [];
      let skipped = 0;
      let pastDeadline = false;
      for (const [index, call] of calls.entries()) {
        const wait = call.atMs - this.now();
        if (wait > 0) await this.sleep(wait);
        pastDeadline = !fatal && this.now() >= stopAt;
        if (fatal || pastDeadline) {
          skipped = calls.slice(index).reduce((sum, left) => sum + left.count, 0);
          break;
        }
        inFlight.push(this.runChunk(call.count, strategy, stopAt).then(record));
      }
      await Promise.all(inFlight);
      if (skipped > 0) {
        this.options.log?.warn(pastDeadline ? 'stopped launching before the run ran out of time' : 'launch stopped after a failed RunTask', { notAttempted: skipped });
        report.failures.push(...repeat(skipped, pastDeadline
          ? { reason: 'deadline', detail: 'the run stopped launching before its time ran out; the next run launches the rest' }
          : { reason: 'not-attempted', detail: 'an earlier RunTask call failed' }));
      }
      return skipped === 0 && !fatal;
    };

    const completed = await runPhase(requested, this.config.capacityProviderStrategy);
    if (capacityFailures > 0) {
      const onSpot = this.config.capacityProviderStrategy.some((item) => item.capacityProvider !== 'FARGATE' && item.weight > 0);
      if (completed && this.config.spotFallback && onSpot) {
        const fallback = capacityFailures;
        capacityFailures = 0;
        const launchedBefore = report.launched;
        this.options.log?.warn('spot capacity unavailable, relaunching on FARGATE', { count: fallback });
        await runPhase(fallback, ON_DEMAND_STRATEGY);
        report.spotFallbackLaunched = report.launched - launchedBefore;
      }
      // Whatever the fallback did not replace stays reported as a capacity failure.
      report.failures.push(...repeat(capacityFailures, { reason: 'capacity-unavailable', detail: 'Capacity is unavailable' }));
    }
    return report;
  }

  private async runChunk(size: number, strategy: readonly CapacityProviderStrategyItem[], stopAt: number): Promise<ChunkOutcome> {
    const outcome: ChunkOutcome = { launched: 0, capacityFailures: 0, failures: [], byCapacityProvider: {}, fatal: false };
    let response: RunTaskCommandOutput;
    try {
      response = await this.runTaskWithThrottleRetry(size, strategy, stopAt);
    } catch (error) {
      const { reason, message } = classifyFailure(error);
      const name = (error as { name?: string }).name ?? 'Error';
      this.options.log?.error('RunTask failed', { count: size, error: name, reason, detail: message });
      outcome.failures.push(...repeat(size, { reason: reason === 'throttled' ? 'throttled' : `run-task-error:${name}`, detail: message }));
      outcome.fatal = true;
      return outcome;
    }

    const tasks = (response.tasks ?? []).slice(0, size);
    outcome.launched = tasks.length;
    for (const task of tasks) {
      const provider = task.capacityProviderName ?? 'unknown';
      outcome.byCapacityProvider[provider] = (outcome.byCapacityProvider[provider] ?? 0) + 1;
    }
    // failures[] and tasks[] together should account for the whole chunk; trust neither to exceed it.
    let unaccounted = size - tasks.length;
    for (const failure of response.failures ?? []) {
      if (unaccounted === 0) break;
      unaccounted--;
      if (isCapacityFailure(failure)) {
        outcome.capacityFailures++;
      } else {
        this.options.log?.warn('RunTask failure', { reason: failure.reason, detail: failure.detail, arn: failure.arn });
        outcome.failures.push({ reason: failure.reason ?? 'unknown', ...(failure.detail ? { detail: failure.detail } : {}) });
      }
    }
    if (unaccounted > 0) {
      this.options.log?.warn('RunTask returned fewer tasks than asked', { asked: size, returned: tasks.length });
      outcome.failures.push(...repeat(unaccounted, { reason: 'not-returned', detail: `RunTask returned ${tasks.length} of ${size} tasks` }));
    }
    return outcome;
  }

  /**
   * One idempotency token per chunk, reused across retries: a throttled call started nothing, and a call that did
   * start tasks but lost its response is not repeated by ECS when retried with the same token. A retry that would
   * start after `stopAt` is not made.
   */
  private async runTaskWithThrottleRetry(
    size: number,
    strategy: readonly CapacityProviderStrategyItem[],
    stopAt: number,
  ): Promise<RunTaskCommandOutput> {
    const command = new RunTaskCommand({
      cluster: this.config.cluster,
      taskDefinition: this.config.taskFamily,
      count: size,
      capacityProviderStrategy: strategy.map((item) => ({ ...item })),
      networkConfiguration: {
        awsvpcConfiguration: {
          // Fargate spreads the tasks of a call across these subnets' AZs itself; their order decides nothing.
          subnets: [...this.config.subnets],
          securityGroups: [...this.config.securityGroups],
          assignPublicIp: 'DISABLED',
        },
      },
      startedBy: this.config.startedBy,
      propagateTags: 'TASK_DEFINITION',
      enableECSManagedTags: true,
      clientToken: this.newClientToken(),
    });
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.ecs.send(command);
      } catch (error) {
        const delayMs = this.throttleBaseDelayMs * 2 ** attempt;
        if (classifyFailure(error).reason !== 'throttled' || attempt >= this.throttleRetries || this.now() + delayMs >= stopAt) throw error;
        this.options.log?.warn('RunTask throttled, retrying', { attempt: attempt + 1, delayMs });
        await this.sleep(delayMs);
      }
    }
  }
}

function repeat(times: number, failure: LaunchFailure): LaunchFailure[] {
  return Array.from({ length: Math.max(0, times) }, () => failure);
}
