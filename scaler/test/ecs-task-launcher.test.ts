import { AccessDeniedException, ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryLog } from '../../shared/log/logger';
import { EcsTaskLauncher, isCapacityFailure } from '../src/ecs-task-launcher';
import { SPOT_CAPACITY_FAILURE, awsServiceError, runTaskOutput, scalerConfig } from './factories';

const ecsMock = mockClient(ECSClient);

const START = 1_750_000_000_000;

/**
 * A clock that only moves when the launcher sleeps, so a 20-second rate plan runs in no time. A sleep still yields to
 * the event loop once, as a real one would, so answers to calls already sent arrive during it.
 */
function fakeTime(sleeps: number[] = []): { now: () => number; sleep: (ms: number) => Promise<void> } {
  let now = START;
  return {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function launcher(overrides: Parameters<typeof scalerConfig>[0] = {}, sleeps: number[] = [], time = fakeTime(sleeps)): EcsTaskLauncher {
  let token = 0;
  return new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1' }), scalerConfig(overrides), {
    log: new MemoryLog(),
    ...time,
    newClientToken: () => `token-${++token}`,
  });
}

/** Answers every RunTask by starting exactly the count asked for on the provider the strategy favours. */
function runTaskStartsAll(): void {
  ecsMock.on(RunTaskCommand).callsFake((input: { count: number; capacityProviderStrategy: { capacityProvider: string }[] }) =>
    runTaskOutput(input.count, input.capacityProviderStrategy[0]?.capacityProvider),
  );
}

function runTaskInputs(): { count: number; capacityProviderStrategy: { capacityProvider: string }[]; clientToken: string; networkConfiguration: { awsvpcConfiguration: { subnets: string[] } } }[] {
  return ecsMock.commandCalls(RunTaskCommand).map((call) => call.args[0].input as never);
}

function totalAskedFor(): number {
  return runTaskInputs().reduce((sum, input) => sum + input.count, 0);
}

beforeEach(() => ecsMock.reset());

describe('EcsTaskLauncher.launch', () => {
  it('splits 23 tasks into RunTask calls of 10, 10 and 3 with the full request shape', async () => {
    runTaskStartsAll();
    const report = await launcher().launch(23);

    expect(runTaskInputs().map((input) => input.count)).toEqual([10, 10, 3]);
    expect(report).toEqual({ launched: 23, failures: [], byCapacityProvider: { FARGATE_SPOT: 23 }, spotFallbackLaunched: 0 });
    expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, {
      cluster: 'workers',
      taskDefinition: 'image-worker',
      count: 10,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b', 'subnet-c'], securityGroups: ['sg-worker'], assignPublicIp: 'DISABLED' },
      },
      startedBy: 's3-queue-scaler',
      propagateTags: 'TASK_DEFINITION',
      enableECSManagedTags: true,
      clientToken: 'token-1',
    });
    for (const input of runTaskInputs()) expect(input).not.toHaveProperty('launchType');
  });

  it('gives every call every subnet: Fargate spreads the tasks across their AZs itself', async () => {
    runTaskStartsAll();
    await launcher().launch(40);
    const subnetLists = runTaskInputs().map((input) => input.networkConfiguration.awsvpcConfiguration.subnets);
    expect(subnetLists).toEqual(Array.from({ length: 4 }, () => ['subnet-a', 'subnet-b', 'subnet-c']));
  });

  it('makes no call for zero tasks', async () => {
    runTaskStartsAll();
    expect(await launcher().launch(0)).toMatchObject({ launched: 0, failures: [] });
    expect(ecsMock).not.toHaveReceivedCommand(RunTaskCommand);
  });

  it('relaunches on FARGATE only as many tasks as Spot had no capacity for', async () => {
    ecsMock
      .on(RunTaskCommand)
      .resolvesOnce(runTaskOutput(6, 'FARGATE_SPOT', Array.from({ length: 4 }, () => SPOT_CAPACITY_FAILURE)))
      .resolvesOnce(runTaskOutput(4, 'FARGATE'));
    const report = await launcher().launch(10);

    expect(runTaskInputs().map((input) => [input.count, input.capacityProviderStrategy])).toEqual([
      [10, [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }]],
      [4, [{ capacityProvider: 'FARGATE', weight: 1 }]],
    ]);
    expect(report).toEqual({ launched: 10, failures: [], byCapacityProvider: { FARGATE_SPOT: 6, FARGATE: 4 }, spotFallbackLaunched: 4 });
  });

  it('reports what the FARGATE fallback could not start either, without trying a third time', async () => {
    ecsMock
      .on(RunTaskCommand)
      .resolvesOnce(runTaskOutput(0, 'FARGATE_SPOT', [SPOT_CAPACITY_FAILURE, SPOT_CAPACITY_FAILURE, SPOT_CAPACITY_FAILURE]))
      .resolvesOnce(runTaskOutput(1, 'FARGATE', [SPOT_CAPACITY_FAILURE, SPOT_CAPACITY_FAILURE]));
    const report = await launcher().launch(3);

    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 2);
    expect(report.launched).toBe(1);
    expect(report.failures).toEqual([
      { reason: 'capacity-unavailable', detail: 'Capacity is unavailable' },
      { reason: 'capacity-unavailable', detail: 'Capacity is unavailable' },
    ]);
  });

  it('does not fall back when SPOT_FALLBACK is off or the strategy has no Spot', async () => {
    ecsMock.on(RunTaskCommand).resolves(runTaskOutput(8, 'FARGATE_SPOT', [SPOT_CAPACITY_FAILURE, SPOT_CAPACITY_FAILURE]));
    const withoutFallback = await launcher({ spotFallback: false }).launch(10);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(withoutFallback.failures.map((failure) => failure.reason)).toEqual(['capacity-unavailable', 'capacity-unavailable']);

    ecsMock.reset();
    ecsMock.on(RunTaskCommand).resolves(runTaskOutput(8, 'FARGATE', [SPOT_CAPACITY_FAILURE, SPOT_CAPACITY_FAILURE]));
    await launcher({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] }).launch(10);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  });

  it('retries a throttled RunTask with exponential backoff and the same idempotency token', async () => {
    const throttled = awsServiceError('ThrottlingException', 'Rate exceeded');
    ecsMock.on(RunTaskCommand).rejectsOnce(throttled).rejectsOnce(throttled).resolves(runTaskOutput(5));
    const sleeps: number[] = [];
    const report = await launcher({}, sleeps).launch(5);

    expect(report.launched).toBe(5);
    expect(sleeps).toEqual([500, 1000]);
    expect(runTaskInputs().map((input) => input.clientToken)).toEqual(['token-1', 'token-1', 'token-1']);
  });

  it('gives up on a chunk after the throttle retries and reports its tasks as throttled', async () => {
    ecsMock.on(RunTaskCommand).rejects(awsServiceError('ThrottlingException', 'Rate exceeded'));
    const report = await new EcsTaskLauncher(new ECSClient({ region: 'eu-west-1' }), scalerConfig(), { ...fakeTime(), throttleRetries: 2 }).launch(15);

    // Both chunks fit the burst, so both are sent at once, and each is tried three times.
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 6);
    expect(report.launched).toBe(0);
    expect(report.failures.map((failure) => failure.reason)).toEqual(Array.from({ length: 15 }, () => 'throttled'));
  });

  it('sends no further chunk once one failed in a way every call would', async () => {
    ecsMock.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform ecs:RunTask', $metadata: {} }));
    const report = await launcher().launch(120);

    // The burst's ten calls were already out when the first answer came; the eleventh (planned at 500 ms) is not sent.
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 10);
    expect(report.failures.filter((failure) => failure.reason === 'run-task-error:AccessDeniedException')).toHaveLength(100);
    expect(report.failures.filter((failure) => failure.reason === 'not-attempted')).toHaveLength(20);
  });

  it('reports other errors without retrying them', async () => {
    ecsMock.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform ecs:RunTask', $metadata: {} }));
    const report = await launcher().launch(4);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(report.failures).toEqual(Array.from({ length: 4 }, () => ({
      reason: 'run-task-error:AccessDeniedException', detail: 'not authorized to perform ecs:RunTask',
    })));
  });

  it('counts tasks missing from a short response and passes other failures through', async () => {
    ecsMock.on(RunTaskCommand).resolves(runTaskOutput(6, 'FARGATE_SPOT', [{ reason: 'RESOURCE:ENI' }]));
    const report = await launcher().launch(10);
    expect(report.launched).toBe(6);
    expect(report.failures.map((failure) => failure.reason)).toEqual(['RESOURCE:ENI', 'not-returned', 'not-returned', 'not-returned']);
  });

  it('never launches more than asked, whatever ECS answers', async () => {
    // A response with more tasks and more failures than the chunk asked for must not inflate anything.
    ecsMock.on(RunTaskCommand).callsFake((input: { count: number }) =>
      runTaskOutput(input.count + 2, 'FARGATE_SPOT', Array.from({ length: 5 }, () => SPOT_CAPACITY_FAILURE)),
    );
    for (const asked of [1, 9, 10, 11, 23]) {
      ecsMock.resetHistory();
      const report = await launcher().launch(asked);
      expect(report.launched).toBe(asked);
      expect(totalAskedFor()).toBe(asked);
    }

    ecsMock.reset();
    ecsMock.on(RunTaskCommand).callsFake((input: { count: number }) => {
      const started = Math.floor(input.count / 2);
      return runTaskOutput(started, 'FARGATE_SPOT', Array.from({ length: input.count - started }, () => SPOT_CAPACITY_FAILURE));
    });
    const report = await launcher().launch(23);
    const fallbackAskedFor = totalAskedFor() - 23;
    expect(report.launched + report.failures.length).toBe(23);
    expect(fallbackAskedFor).toBe(23 - (5 + 5 + 1));
    expect(report.launched).toBeLessThanOrEqual(23);
  });
});

describe('EcsTaskLauncher.launch at scale', () => {
  it('launches 500 tasks in 50 parallel calls within 20 s, following the rate plan', async () => {
    const sentAt: number[] = [];
    const time = fakeTime();
    ecsMock.on(RunTaskCommand).callsFake((input: { count: number }) => {
      sentAt.push(time.now() - START);
      return runTaskOutput(input.count);
    });
    const report = await launcher({}, [], time).launch(500);

    expect(report).toMatchObject({ launched: 500, failures: [] });
    expect(sentAt).toHaveLength(50);
    expect(sentAt.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 0));
    expect(sentAt[sentAt.length - 1]).toBe(20_000);
    expect(totalAskedFor()).toBe(500);
  });

  it('does not wait for one call to answer before sending the next', async () => {
    // Every answer waits until ten calls are out: a launcher that sent one call at a time would never finish.
    let sent = 0;
    const allOut: (() => void)[] = [];
    ecsMock.on(RunTaskCommand).callsFake((input: { count: number }) => new Promise((resolve) => {
      sent++;
      allOut.push(() => resolve(runTaskOutput(input.count)));
      if (sent === 10) for (const release of allOut) release();
    }));
    expect(await launcher().launch(100)).toMatchObject({ launched: 100, failures: [] });
  });

  it('starts no call after stopLaunchingAt and reports the rest for the next run', async () => {
    runTaskStartsAll();
    const report = await launcher().launch(500, { stopLaunchingAt: START + 5_000 });

    // The burst at 0 s, then two calls a second up to and including 4.5 s.
    expect(report.launched).toBe(100 + 90);
    expect(report.failures).toHaveLength(310);
    expect(new Set(report.failures.map((failure) => failure.reason))).toEqual(new Set(['deadline']));
  });

  it('does not retry a throttled call past stopLaunchingAt', async () => {
    ecsMock.on(RunTaskCommand).rejects(awsServiceError('ThrottlingException', 'Rate exceeded'));
    const sleeps: number[] = [];
    const report = await launcher({}, sleeps).launch(5, { stopLaunchingAt: START + 1_200 });

    expect(sleeps).toEqual([500]);
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 2);
    expect(report.failures.map((failure) => failure.reason)).toEqual(Array.from({ length: 5 }, () => 'throttled'));
  });
});

describe('EcsTaskLauncher.countRunning', () => {
  it('counts every page of RUNNING tasks of the family in the cluster', async () => {
    ecsMock
      .on(ListTasksCommand)
      .resolvesOnce({ taskArns: Array.from({ length: 100 }, (_, i) => `arn:task/${i}`), nextToken: 'page-2' })
      .resolvesOnce({ taskArns: Array.from({ length: 100 }, (_, i) => `arn:task/b${i}`), nextToken: 'page-3' })
      .resolvesOnce({ taskArns: ['arn:task/last'] });
    expect(await launcher().countRunning()).toBe(201);

    const calls = ecsMock.commandCalls(ListTasksCommand).map((call) => call.args[0].input);
    expect(calls.map((input) => input.nextToken)).toEqual([undefined, 'page-2', 'page-3']);
    for (const input of calls) {
      expect(input).toMatchObject({ cluster: 'workers', family: 'image-worker', desiredStatus: 'RUNNING' });
      expect(input).not.toHaveProperty('startedBy');
    }
  });

  it('is zero for an empty cluster', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [] });
    expect(await launcher().countRunning()).toBe(0);
  });
});

describe('helpers', () => {
  it('recognises the Fargate capacity failure and nothing else', () => {
    expect(isCapacityFailure(SPOT_CAPACITY_FAILURE)).toBe(true);
    expect(isCapacityFailure({ reason: 'RESOURCE:MEMORY' })).toBe(false);
    expect(isCapacityFailure({ reason: undefined })).toBe(false);
  });

});
