import { Construct } from '../framework/core';
import { CloudwatchLogGroup, CodebuildProject, IamRole, IamRolePolicy } from '../framework/aws';
import { assumableBy } from '../assume-role-policy';

/** One image the build makes: the base worker image first, then the images derived from it. */
export interface BuildImage {
  readonly name: string;
  /** From the repository root; derived images get the base image as the build argument WORKER_IMAGE. */
  readonly dockerfile: string;
  readonly repositoryArn: string;
  readonly repositoryUrl: string;
  /** The image parameter the build points at the pushed image before registering revisions that run it. */
  readonly parameterArn: string;
  readonly parameterName: string;
  /** The task families that run this image: each gets a new revision with it. */
  readonly families: readonly string[];
}

export interface ImageBuildProps {
  readonly name: string;
  readonly logRetentionDays: number;
  readonly artifactBucketArn: string;
  /** The base worker image first (built from app/Dockerfile), then the derived ones. */
  readonly images: readonly BuildImage[];
  /** Every family's revisions, `arn:<partition>:ecs:<region>:<account>:task-definition/<family>:*`: the build tags what it registers. */
  readonly taskDefinitionArnPatterns: readonly string[];
  /** The roles the registered task definitions name, which CodeBuild therefore passes. */
  readonly taskRoleArns: readonly string[];
  /** The tag every registered revision carries; the only condition under which this role may register one. */
  readonly revisionTag: { readonly key: string; readonly value: string };
  readonly kmsKeyArn?: string;
}

/** A lone resource as a string, as the one-pipeline policies always had it; several as a list. */
const oneOrList = (values: readonly string[]): string | string[] => (values.length === 1 ? values[0]! : [...values]);

/** CodeBuild running the root `buildspec.yml`: tests, the worker image pushed to ECR, the new revision registered. */
export class ImageBuild extends Construct {
  readonly project: CodebuildProject;

  constructor(scope: Construct, id: string, props: ImageBuildProps) {
    super(scope, id);
    const projectName = `${props.name}-worker-image`;
    const logGroup = new CloudwatchLogGroup(this, 'logs', { name: `/aws/codebuild/${projectName}`, retentionInDays: props.logRetentionDays });
    const role = new IamRole(this, 'role', {
      name: `${props.name}-image-build`,
      assumeRolePolicy: assumableBy('codebuild.amazonaws.com'),
    });
    new IamRolePolicy(this, 'policy', {
      role: role.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup.arn}:*` },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'], Resource: `${props.artifactBucketArn}/*` },
          { Effect: 'Allow', Action: ['s3:GetBucketAcl', 's3:GetBucketLocation'], Resource: props.artifactBucketArn },
          // GetAuthorizationToken and DescribeTaskDefinition have no resource-level permissions; both only read.
          { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition'], Resource: '*' },
          {
            Effect: 'Allow',
            Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:CompleteLayerUpload', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer', 'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart'],
            Resource: oneOrList(props.images.map((image) => image.repositoryArn)),
          },
          // RegisterTaskDefinition has no resource-level permissions either: the tag condition is the narrowest grant.
          {
            Effect: 'Allow', Action: ['ecs:RegisterTaskDefinition'], Resource: '*',
            Condition: { StringEquals: { [`aws:RequestTag/${props.revisionTag.key}`]: props.revisionTag.value } },
          },
          {
            Effect: 'Allow', Action: ['ecs:TagResource'], Resource: oneOrList(props.taskDefinitionArnPatterns),
            Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
          },
          { Effect: 'Allow', Action: ['iam:PassRole'], Resource: [...props.taskRoleArns], Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
          { Effect: 'Allow', Action: ['ssm:PutParameter'], Resource: oneOrList(props.images.map((image) => image.parameterArn)) },
          ...(props.kmsKeyArn !== undefined ? [{ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: props.kmsKeyArn }] : []),
        ],
      }),
    });
    const variables: Record<string, string> = { ...imageVariables(props.images), REVISION_TAG_KEY: props.revisionTag.key, REVISION_TAG_VALUE: props.revisionTag.value };
    this.project = new CodebuildProject(this, 'project', {
      name: projectName,
      description: 'Tests, builds and pushes the worker image, then registers the task-definition revision that runs it',
      serviceRole: role.arn,
      buildTimeout: 30,
      source: { type: 'CODEPIPELINE', buildspec: 'buildspec.yml' },
      artifacts: { type: 'CODEPIPELINE' },
      environment: {
        // Docker-in-Docker needs privileged mode; 4 vCPUs keep `npm test` (image and chaos suites) near five minutes.
        computeType: 'BUILD_GENERAL1_MEDIUM', image: 'aws/codebuild/standard:7.0', type: 'LINUX_CONTAINER', privilegedMode: true,
        environmentVariable: Object.entries(variables).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
      },
      logsConfig: { cloudwatchLogs: { groupName: logGroup.name, status: 'ENABLED' } },
      ...(props.kmsKeyArn !== undefined ? { encryptionKey: props.kmsKeyArn } : {}),
    });
  }
}

/**
 * What buildspec.yml builds and rolls out. One image run by one family: the three variables the buildspec always
 * read, so a one-pipeline stack's project is unchanged. Otherwise IMAGES, a JSON list the buildspec loops over (the
 * base image first), naming for each image its Dockerfile, repository, parameter and families.
 */
function imageVariables(images: readonly BuildImage[]): Record<string, string> {
  const [base] = images;
  if (base === undefined) throw new Error('ImageBuild: at least the base image');
  if (images.length === 1 && base.families.length === 1) {
    return { ECR_REPOSITORY_URL: base.repositoryUrl, TASK_FAMILY: base.families[0]!, IMAGE_PARAMETER: base.parameterName };
  }
  return {
    IMAGES: JSON.stringify(images.map((image) => ({
      name: image.name, dockerfile: image.dockerfile, repository: image.repositoryUrl, parameter: image.parameterName, families: image.families,
    }))),
  };
}
