/**
 * Every AWS provider binding the infrastructure uses, and the only file that names the binding package, so moving
 * to CDK Terrain's bindings (`@cdktn/provider-aws`) is a rename here. Each class comes from its deep path: the
 * package root loads every binding, hundreds of MB of JavaScript, and slows each synth and test by seconds.
 */
export { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
export { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
export { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
export { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
export { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
export { CodebuildProject } from '@cdktf/provider-aws/lib/codebuild-project';
export { Codepipeline, type CodepipelineStageAction } from '@cdktf/provider-aws/lib/codepipeline';
export { CodestarconnectionsConnection } from '@cdktf/provider-aws/lib/codestarconnections-connection';
export { CodestarnotificationsNotificationRule } from '@cdktf/provider-aws/lib/codestarnotifications-notification-rule';
export { DataAwsSecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version';
export { DynamodbResourcePolicy } from '@cdktf/provider-aws/lib/dynamodb-resource-policy';
export { DynamodbTable, type DynamodbTableConfig } from '@cdktf/provider-aws/lib/dynamodb-table';
export { EcrLifecyclePolicy } from '@cdktf/provider-aws/lib/ecr-lifecycle-policy';
export { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository';
export { EcsCluster } from '@cdktf/provider-aws/lib/ecs-cluster';
export { EcsClusterCapacityProviders } from '@cdktf/provider-aws/lib/ecs-cluster-capacity-providers';
export { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition';
export { Eip } from '@cdktf/provider-aws/lib/eip';
export { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
export { IamRole } from '@cdktf/provider-aws/lib/iam-role';
export { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
export { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
export { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
export { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
export { KmsKeyPolicy } from '@cdktf/provider-aws/lib/kms-key-policy';
export { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
export { LambdaFunctionEventInvokeConfig } from '@cdktf/provider-aws/lib/lambda-function-event-invoke-config';
export { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
export { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
export { AwsProvider, type AwsProviderConfig } from '@cdktf/provider-aws/lib/provider';
export { RouteTable } from '@cdktf/provider-aws/lib/route-table';
export { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
export { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
export { S3BucketLifecycleConfiguration, type S3BucketLifecycleConfigurationRule } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
export { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification';
export { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
export { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
export { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
export { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
export { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
export { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
export { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
export { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
export { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
export { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
export { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';
export { SqsQueueRedriveAllowPolicy } from '@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy';
export { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
export { Subnet } from '@cdktf/provider-aws/lib/subnet';
export { Vpc } from '@cdktf/provider-aws/lib/vpc';
export { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
