import { DescribeTasksCommand, ListTasksCommand, type DesiredStatus, type ECSClient, type Task } from '@aws-sdk/client-ecs';
import type { ScalerConfig } from './config';
import type { TaskHistory, TaskRecord } from './ports/task-history';

/** ListTasks' largest page and DescribeTasks' largest batch. */
const PAGE = 100;

export type EcsTaskHistoryConfig = Pick<ScalerConfig, 'cluster' | 'taskFamily' | 'containerName'>;

/**
 * The family's recent tasks from ECS: one page of stopped tasks and one of running ones, each described in one call.
 * One page is enough: the guard needs the newest few outcomes, and a crash loop stops tasks far faster than a healthy
 * fleet does. ListTasks returns no particular order, so with over 100 stopped tasks in the last hour the page is a
 * sample of them; the guard then judges from that sample.
 */
export class EcsTaskHistory implements TaskHistory {
  constructor(private readonly ecs: ECSClient, private readonly config: EcsTaskHistoryConfig) {}

  async recentTasks(): Promise<readonly TaskRecord[]> {
    const [stopped, running] = await Promise.all([this.list('STOPPED'), this.list('RUNNING')]);
    const described = await Promise.all([this.describe(stopped), this.describe(running)]);
    return described.flat().map((task) => toTaskRecord(task, this.config.containerName));
  }

  private async list(desiredStatus: DesiredStatus): Promise<string[]> {
    const page = await this.ecs.send(
      new ListTasksCommand({ cluster: this.config.cluster, family: this.config.taskFamily, desiredStatus, maxResults: PAGE }),
    );
    return page.taskArns ?? [];
  }

  private async describe(arns: readonly string[]): Promise<Task[]> {
    if (arns.length === 0) return [];
    const { tasks = [] } = await this.ecs.send(new DescribeTasksCommand({ cluster: this.config.cluster, tasks: arns.slice(0, PAGE) }));
    return tasks;
  }
}

/** The fields the guard reads, from a DescribeTasks task; the worker container is found by name, else the first. */
export function toTaskRecord(task: Task, containerName: string): TaskRecord {
  const container = task.containers?.find((candidate) => candidate.name === containerName) ?? task.containers?.[0];
  const stoppedAt = task.stoppedAt ?? task.executionStoppedAt;
  return {
    arn: task.taskArn ?? '',
    status: task.desiredStatus === 'STOPPED' || task.lastStatus === 'STOPPED' ? 'stopped' : 'running',
    createdAt: (task.createdAt ?? task.startedAt ?? new Date(0)).getTime(),
    ...(task.startedAt !== undefined ? { startedAt: task.startedAt.getTime() } : {}),
    ...(stoppedAt !== undefined ? { stoppedAt: stoppedAt.getTime() } : {}),
    ...(task.stopCode !== undefined ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason !== undefined ? { stoppedReason: task.stoppedReason } : {}),
    ...(container?.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
    ...(container?.reason !== undefined ? { containerReason: container.reason } : {}),
    ...(container?.image !== undefined ? { image: container.image } : {}),
  };
}
