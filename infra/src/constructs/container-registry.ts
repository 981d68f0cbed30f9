import { Construct } from '../framework/core';
import { EcrLifecyclePolicy, EcrRepository } from '../framework/aws';

export interface ContainerRegistryProps {
  readonly name: string;
  /** The image it holds: `worker` (the default) for the base image, a derived image's name otherwise. */
  readonly imageName?: string;
  readonly keepImages: number;
  /** `cdktf destroy` deletes the repository with its images (ECR force_delete); otherwise it fails while images remain. */
  readonly forceDestroy: boolean;
  /** KMS encryption with this key; AES-256 when absent. */
  readonly kmsKeyArn?: string;
}

/** Where CodeBuild pushes one image (the worker, or an image derived from it): scanned on push, tags immutable (one commit, one image), old images expire. */
export class ContainerRegistry extends Construct {
  readonly repository: EcrRepository;

  constructor(scope: Construct, id: string, props: ContainerRegistryProps) {
    super(scope, id);
    this.repository = new EcrRepository(this, 'repository', {
      name: `${props.name}-${props.imageName ?? 'worker'}`,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [props.kmsKeyArn !== undefined ? { encryptionType: 'KMS', kmsKey: props.kmsKeyArn } : { encryptionType: 'AES256' }],
      forceDelete: props.forceDestroy,
    });
    new EcrLifecyclePolicy(this, 'lifecycle', {
      repository: this.repository.name,
      policy: JSON.stringify({
        rules: [{
          rulePriority: 1, description: `keep the last ${props.keepImages} images`,
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: props.keepImages }, action: { type: 'expire' },
        }],
      }),
    });
  }
}
