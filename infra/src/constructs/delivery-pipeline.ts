import { Construct, type ITerraformDependable } from '../framework/core';
import { Codepipeline, type CodepipelineStageAction, CodestarconnectionsConnection, CodestarnotificationsNotificationRule, DataAwsSecretsmanagerSecretVersion, IamRole, IamRolePolicy } from '../framework/aws';
import { assumableBy } from '../assume-role-policy';

export interface DeliveryPipelineProps {
  readonly name: string;
  /** `owner/repo` */
  readonly repository: string;
  readonly branch: string;
  /** Use this connection; when both this and the secret are empty, a connection is created (approve it once in the console). */
  readonly connectionArn: string;
  /**
   * Fallback only: the original blueprint's way, a GitHub token in Secrets Manager read by the GitHub version 1
   * source action (OAuth token, polled), which AWS no longer recommends. The token is read at plan time and kept in
   * Terraform state. Empty (the default) uses a connection.
   */
  readonly tokenSecretName: string;
  readonly artifactBucketName: string;
  readonly artifactBucketArn: string;
  readonly buildProjectName: string;
  readonly buildProjectArn: string;
  readonly topicArn: string;
  /**
   * What must exist before the notification rule: the topic policy and the key policy of the topic's key. CodeStar
   * Notifications checks that it may publish to the target when the rule is created.
   */
  readonly topicDependencies?: readonly ITerraformDependable[];
}

const SOURCE_VARIABLES = 'SourceVariables';

/**
 * The pipeline type, chosen rather than left to AWS's default (V1). V1: $1.00 a month for each pipeline older than
 * 30 days that ran in the month (the free tier covers one such pipeline per account). V2: $0.002 per action-minute,
 * rounded up per action, with 100 free action-minutes a month per account. One run here is about 10 action-minutes
 * (the source action 1, the build with `npm test` and the image about 9), so V2 is free up to about 10 runs a month
 * and cheaper than a paid V1 pipeline up to about 60 (two a day); at several runs every day it costs more (3 a day:
 * about $1.60). V2 is chosen for a blueprint that is pushed a few times a week, and for what V1 lacks: execution
 * modes, and Git triggers with branch and file-path filters if a copy wants them.
 */
const PIPELINE_TYPE = 'V2';
/**
 * SUPERSEDED (V1's only behaviour): a stage runs one execution at a time, and a newer execution waiting for it
 * replaces any older one waiting there, so an older commit is never built after a newer one and the newest push is
 * the revision the scaler runs. QUEUED would build every intermediate commit, each a full test run and image, only
 * for its revision to be replaced at once.
 */
const EXECUTION_MODE = 'SUPERSEDED';

/** GitHub push -> CodeBuild (test, image, new task-definition revision), with every run's outcome sent to the topic. */
export class DeliveryPipeline extends Construct {
  readonly pipeline: Codepipeline;
  /** The connection the pipeline reads GitHub through, when it uses one. */
  readonly connectionArn?: string;

  constructor(scope: Construct, id: string, props: DeliveryPipelineProps) {
    super(scope, id);
    const [owner, repo] = props.repository.split('/') as [string, string];
    this.connectionArn = props.tokenSecretName !== ''
      ? undefined
      : props.connectionArn !== ''
        ? props.connectionArn
        : new CodestarconnectionsConnection(this, 'github', { name: `${props.name}-github`.slice(0, 32), providerType: 'GitHub' }).arn;
    const role = new IamRole(this, 'role', {
      name: `${props.name}-pipeline`,
      assumeRolePolicy: assumableBy('codepipeline.amazonaws.com'),
    });
    new IamRolePolicy(this, 'policy', {
      role: role.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'], Resource: `${props.artifactBucketArn}/*` },
          { Effect: 'Allow', Action: ['s3:GetBucketVersioning', 's3:GetBucketLocation'], Resource: props.artifactBucketArn },
          { Effect: 'Allow', Action: ['codebuild:StartBuild', 'codebuild:BatchGetBuilds'], Resource: props.buildProjectArn },
          ...(this.connectionArn !== undefined
            ? [{ Effect: 'Allow', Action: ['codestar-connections:UseConnection', 'codeconnections:UseConnection'], Resource: this.connectionArn }]
            : []),
        ],
      }),
    });
    this.pipeline = new Codepipeline(this, 'pipeline', {
      name: `${props.name}-worker`,
      roleArn: role.arn,
      pipelineType: PIPELINE_TYPE,
      executionMode: EXECUTION_MODE,
      artifactStore: [{ location: props.artifactBucketName, type: 'S3' }],
      stage: [
        { name: 'Source', action: [this.sourceAction(props, owner, repo)] },
        {
          // Registering the revision is the rollout: the scaler runs the family's newest revision on its next tick.
          name: 'BuildAndRollOut',
          action: [{
            name: 'TestBuildRegister', category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1',
            inputArtifacts: ['source'], outputArtifacts: ['build'],
            configuration: {
              ProjectName: props.buildProjectName,
              EnvironmentVariables: JSON.stringify([{ name: 'COMMIT_ID', value: `#{${SOURCE_VARIABLES}.CommitId}`, type: 'PLAINTEXT' }]),
            },
          }],
        },
      ],
    });
    new CodestarnotificationsNotificationRule(this, 'notifications', {
      name: `${props.name}-pipeline`,
      resource: this.pipeline.arn,
      detailType: 'BASIC',
      eventTypeIds: ['codepipeline-pipeline-pipeline-execution-failed', 'codepipeline-pipeline-pipeline-execution-succeeded'],
      target: [{ address: props.topicArn }],
      ...(props.topicDependencies !== undefined ? { dependsOn: [...props.topicDependencies] } : {}),
    });
  }

  private sourceAction(props: DeliveryPipelineProps, owner: string, repo: string): CodepipelineStageAction {
    const common = { name: 'GitHub', category: 'Source', outputArtifacts: ['source'], namespace: SOURCE_VARIABLES, version: '1' };
    if (this.connectionArn !== undefined) {
      return {
        ...common, owner: 'AWS', provider: 'CodeStarSourceConnection',
        configuration: { ConnectionArn: this.connectionArn, FullRepositoryId: `${owner}/${repo}`, BranchName: props.branch, DetectChanges: 'true' },
      };
    }
    // The deprecated GitHub version 1 action, kept as the documented fallback for accounts that cannot use a
    // connection. Its token is read at plan time and kept in Terraform state: the reason a connection is the default.
    const token = new DataAwsSecretsmanagerSecretVersion(this, 'github-token', { secretId: props.tokenSecretName });
    return {
      ...common, owner: 'ThirdParty', provider: 'GitHub',
      configuration: { Owner: owner, Repo: repo, Branch: props.branch, OAuthToken: token.secretString, PollForSourceChanges: 'true' },
    };
  }
}
