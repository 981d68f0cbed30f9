import { rmSync } from 'node:fs';
import { scalerBundleDir, synthBlueprint } from './factories';

/**
 * The Terraform address of every resource the default configuration creates, hash included. An existing deployment
 * plans a destroy and a create for any address that changes, so this list changes only on purpose: the first
 * pipeline of a multi-pipeline config keeps these same addresses (checked below), and new pipelines only add.
 */
const DEFAULT_ADDRESSES = [
  'aws_cloudwatch_dashboard.dashboard_9E73CAB7', 'aws_cloudwatch_event_rule.scaler_schedule_BDD4310B',
  'aws_cloudwatch_event_target.scaler_target_2EFCA2A8', 'aws_cloudwatch_log_group.image-build_logs_8FA068C3',
  'aws_cloudwatch_log_group.scaler_logs_15DCF6A3', 'aws_cloudwatch_log_group.workers_logs_6B285DBB',
  'aws_cloudwatch_metric_alarm.alarms_dead-letters_63799357',
  'aws_cloudwatch_metric_alarm.alarms_oldest-message_FC91392B',
  'aws_cloudwatch_metric_alarm.alarms_scaler-errors_1B58EDD5',
  'aws_cloudwatch_metric_alarm.scaler_crash-loop_E5ABBF6E', 'aws_codebuild_project.image-build_project_EACDA54E',
  'aws_codepipeline.delivery_pipeline_05BE4093', 'aws_codestarconnections_connection.delivery_github_E400A0DC',
  'aws_codestarnotifications_notification_rule.delivery_notifications_7E64CE9E',
  'aws_ecr_lifecycle_policy.registry_lifecycle_20133E5C', 'aws_ecr_repository.registry_repository_BAFE171E',
  'aws_ecs_cluster.workers_cluster_CA470FAC', 'aws_ecs_cluster_capacity_providers.workers_capacity_3D41BF7D',
  'aws_ecs_task_definition.workers_task_E390BB0D', 'aws_eip.network_nat-0-ip_0D2E91DB',
  'aws_iam_role.delivery_role_B8AC8F96', 'aws_iam_role.image-build_role_7E9C5ED9', 'aws_iam_role.scaler_role_1277F0E7',
  'aws_iam_role.workers_execution-role_C9B58DBC', 'aws_iam_role.workers_task-role_F22EEE47',
  'aws_iam_role_policy.delivery_policy_3F5C173A', 'aws_iam_role_policy.image-build_policy_01805513',
  'aws_iam_role_policy.scaler_policy_33313CE8', 'aws_iam_role_policy.workers_execution-policy_FFDCF036',
  'aws_iam_role_policy.workers_task-policy_7804E85B', 'aws_internet_gateway.network_igw_5DF1EDA1',
  'aws_kms_alias.key_alias_9418169B', 'aws_kms_key.key_F64E54E4', 'aws_kms_key_policy.key_policy_55EBA191',
  'aws_lambda_function.scaler_function_4017BBEA', 'aws_lambda_function_event_invoke_config.scaler_async_038D6008',
  'aws_lambda_permission.scaler_invoke_0FAAE500', 'aws_nat_gateway.network_nat-0_D2F55FEE',
  'aws_route_table.network_private-0-routes_C03CB896', 'aws_route_table.network_private-1-routes_4F11009D',
  'aws_route_table.network_public-routes_309B7EF4',
  'aws_route_table_association.network_private-0-association_9499BF76',
  'aws_route_table_association.network_private-1-association_CA03EA97',
  'aws_route_table_association.network_public-0-routes_8FF525C9',
  'aws_route_table_association.network_public-1-routes_D05B99C8', 'aws_s3_bucket.artifacts_bucket_A41425E9',
  'aws_s3_bucket.destination_bucket_34A366D0', 'aws_s3_bucket.source_bucket_B5285E68',
  'aws_s3_bucket_lifecycle_configuration.artifacts_lifecycle_85D31407',
  'aws_s3_bucket_lifecycle_configuration.destination_lifecycle_A871743F',
  'aws_s3_bucket_lifecycle_configuration.source_lifecycle_7D8D36D2', 'aws_s3_bucket_notification.source-events',
  'aws_s3_bucket_ownership_controls.artifacts_ownership_C9878968',
  'aws_s3_bucket_ownership_controls.destination_ownership_4DE4C599',
  'aws_s3_bucket_ownership_controls.source_ownership_2926ED6F', 'aws_s3_bucket_policy.artifacts_tls-only_FC8D66AB',
  'aws_s3_bucket_policy.destination_tls-only_964B4B38', 'aws_s3_bucket_policy.source_tls-only_51215AEF',
  'aws_s3_bucket_public_access_block.artifacts_public-access_C3DC3372',
  'aws_s3_bucket_public_access_block.destination_public-access_5BB89D23',
  'aws_s3_bucket_public_access_block.source_public-access_889F9EA5',
  'aws_s3_bucket_server_side_encryption_configuration.artifacts_encryption_C1F4F272',
  'aws_s3_bucket_server_side_encryption_configuration.destination_encryption_EACE4E3F',
  'aws_s3_bucket_server_side_encryption_configuration.source_encryption_C22C732C',
  'aws_security_group.workers_tasks_E8784455', 'aws_sns_topic.operations_topic_1C519C57',
  'aws_sns_topic_policy.operations_policy_9B1138A9', 'aws_sqs_queue.work_dlq_C9B7929A',
  'aws_sqs_queue.work_queue_C6302F81', 'aws_sqs_queue_policy.work_dlq-policy_BFB6DB17',
  'aws_sqs_queue_policy.work_policy_9E43C069', 'aws_sqs_queue_redrive_allow_policy.work_redrive-allow_37A21016',
  'aws_ssm_parameter.image_parameter_0995A0AF', 'aws_subnet.network_private-0_A0649C48',
  'aws_subnet.network_private-1_4188AF2B', 'aws_subnet.network_public-0_A4E682E0',
  'aws_subnet.network_public-1_8D79547B', 'aws_vpc.network_vpc_4E8F0223',
  'aws_vpc_endpoint.network_s3-endpoint_3093E6A5',
];

let bundleDir: string;
beforeAll(() => { bundleDir = scalerBundleDir(); });
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const addresses = (json: ReturnType<typeof synthBlueprint>) =>
  Object.entries(json.resource).flatMap(([type, byId]) => Object.keys(byId).map((id) => `${type}.${id}`)).sort();

it('synthesizes the default configuration at exactly the addresses a deployed stack has', () => {
  expect(addresses(synthBlueprint({}, { bundleDir }))).toEqual(DEFAULT_ADDRESSES);
});

it('keeps every one of those addresses when a second pipeline is added, and only adds', () => {
  const json = synthBlueprint({
    sourcePrefix: 'photos/', destPrefix: 'images/',
    pipelines: [{ name: 'images' }, { name: 'geojson', job: 'command', jobEnvironment: { COMMAND: '["true"]' }, sourceSuffixes: ['.geojson'] }],
  }, { bundleDir });
  const added = addresses(json).filter((address) => !DEFAULT_ADDRESSES.includes(address));
  expect(DEFAULT_ADDRESSES.filter((address) => !addresses(json).includes(address))).toEqual([]);
  // Its queue + DLQ (3 policies), task family (log group, 2 roles, 2 policies, task definition), 2 alarms and a crash-loop alarm.
  expect(added.map((address) => address.replace(/_[0-9A-F]{8}$/, '')).sort()).toEqual([
    'aws_cloudwatch_log_group.geojson-workers_logs',
    'aws_cloudwatch_metric_alarm.geojson-alarms_dead-letters',
    'aws_cloudwatch_metric_alarm.geojson-alarms_oldest-message',
    'aws_cloudwatch_metric_alarm.scaler_crash-loop-geojson',
    'aws_ecs_task_definition.geojson-workers_task',
    'aws_iam_role.geojson-workers_execution-role',
    'aws_iam_role.geojson-workers_task-role',
    'aws_iam_role_policy.geojson-workers_execution-policy',
    'aws_iam_role_policy.geojson-workers_task-policy',
    'aws_sqs_queue.geojson-work_dlq',
    'aws_sqs_queue.geojson-work_queue',
    'aws_sqs_queue_policy.geojson-work_dlq-policy',
    'aws_sqs_queue_policy.geojson-work_policy',
    'aws_sqs_queue_redrive_allow_policy.geojson-work_redrive-allow',
  ]);
});
