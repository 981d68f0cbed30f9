import { Construct } from '../framework/core';
import { CloudwatchLogGroup, EcsCluster, EcsClusterCapacityProviders, EcsTaskDefinition, IamRole, IamRolePolicy, SecurityGroup } from '../framework/aws';
import { defineTaskFamily, type WorkerTaskFamilyProps } from './worker-task-family';

export interface WorkerServiceProps extends WorkerTaskFamilyProps {
  readonly vpcId: string;
}

/**
 * The ECS cluster (Spot and on-demand) every pipeline's tasks run in, their security group, and the first pipeline's
 * task family with its two least-privilege roles (further pipelines add a WorkerTaskFamily each).
 */
export class WorkerService extends Construct {
  readonly cluster: EcsCluster;
  readonly taskDefinition: EcsTaskDefinition;
  readonly taskRole: IamRole;
  readonly taskPolicy: IamRolePolicy;
  readonly executionRole: IamRole;
  readonly securityGroup: SecurityGroup;
  readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    this.cluster = new EcsCluster(this, 'cluster', { name: props.name, setting: [{ name: 'containerInsights', value: 'enabled' }] });
    new EcsClusterCapacityProviders(this, 'capacity', {
      clusterName: this.cluster.name,
      capacityProviders: ['FARGATE_SPOT', 'FARGATE'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
    });
    this.securityGroup = new SecurityGroup(this, 'tasks', {
      name: `${props.name}-worker`, description: 'Worker tasks: no inbound, HTTPS out', vpcId: props.vpcId,
      egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'AWS APIs and S3 over TLS' }],
    });
    ({ taskDefinition: this.taskDefinition, taskRole: this.taskRole, taskPolicy: this.taskPolicy, executionRole: this.executionRole, logGroup: this.logGroup } = defineTaskFamily(this, props));
  }
}
