import { Construct } from '../framework/core';
import { S3Bucket, S3BucketLifecycleConfiguration, type S3BucketLifecycleConfigurationRule, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock, S3BucketServerSideEncryptionConfigurationA, S3BucketVersioningA } from '../framework/aws';

export interface SecureBucketProps {
  readonly bucketPrefix: string;
  readonly forceDestroy: boolean;
  /** SSE-KMS with this key; SSE-S3 when absent. */
  readonly kmsKeyArn?: string;
  readonly versioning?: boolean;
  /** Objects expire this many days after creation; 0 or absent keeps them. */
  readonly expirationDays?: number;
}

const NONCURRENT_VERSION_DAYS = 30;
const INCOMPLETE_UPLOAD_DAYS = 7;

/** A bucket nobody can make public: access blocked, owner-enforced, encrypted at rest, TLS-only, no stale uploads. */
export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, 'bucket', { bucketPrefix: props.bucketPrefix, forceDestroy: props.forceDestroy });
    new S3BucketPublicAccessBlock(this, 'public-access', {
      bucket: this.bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, 'ownership', { bucket: this.bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [{
        applyServerSideEncryptionByDefault: props.kmsKeyArn !== undefined ? { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn } : { sseAlgorithm: 'AES256' },
        // One KMS call per bucket and hour instead of per object: at millions of objects that is the KMS bill.
        bucketKeyEnabled: true,
      }],
    });
    const versioning = props.versioning === true
      ? new S3BucketVersioningA(this, 'versioning', { bucket: this.bucket.id, versioningConfiguration: { status: 'Enabled' } })
      : undefined;
    const rules: S3BucketLifecycleConfigurationRule[] = [
      // Interrupted `aws s3 cp` multipart uploads are billed until aborted.
      { id: 'abort-incomplete-uploads', status: 'Enabled', filter: [{ prefix: '' }], abortIncompleteMultipartUpload: [{ daysAfterInitiation: INCOMPLETE_UPLOAD_DAYS }] },
    ];
    if ((props.expirationDays ?? 0) > 0) rules.push({ id: 'expire-objects', status: 'Enabled', filter: [{ prefix: '' }], expiration: [{ days: props.expirationDays }] });
    if (versioning !== undefined) rules.push({ id: 'expire-old-versions', status: 'Enabled', filter: [{ prefix: '' }], noncurrentVersionExpiration: [{ noncurrentDays: NONCURRENT_VERSION_DAYS }] });
    new S3BucketLifecycleConfiguration(this, 'lifecycle', { bucket: this.bucket.id, rule: rules, ...(versioning !== undefined ? { dependsOn: [versioning] } : {}) });
    new S3BucketPolicy(this, 'tls-only', {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{
          Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*',
          Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }],
      }),
    });
  }
}
