import { Construct } from '../framework/core';
import { SsmParameter } from '../framework/aws';

export interface ImagePointerProps {
  readonly name: string;
  /** `worker` (the default) for the base image, a derived image's name otherwise: `/<name>/<imageName>-image`. */
  readonly imageName?: string;
  /** What tasks run before the first build has pushed an image. */
  readonly bootstrapImage: string;
}

/**
 * The image the worker task definition runs, owned by the pipeline, read by Terraform. CodeBuild writes each new
 * image here before it registers a task-definition revision; Terraform creates the parameter once and ignores its
 * value afterwards, so every `cdktf deploy` builds the task definition from the newest pushed image and can change
 * the worker's settings without rolling its code back.
 */
export class ImagePointer extends Construct {
  readonly parameter: SsmParameter;
  /** The image reference, for the task definition. */
  readonly image: string;

  constructor(scope: Construct, id: string, props: ImagePointerProps) {
    super(scope, id);
    this.parameter = new SsmParameter(this, 'parameter', {
      name: `/${props.name}/${props.imageName ?? 'worker'}-image`,
      type: 'String',
      description: 'Worker image the next task-definition revision uses; written by CodeBuild after each push',
      insecureValue: props.bootstrapImage,
      lifecycle: { ignoreChanges: ['insecure_value'] },
    });
    this.image = this.parameter.insecureValue;
  }
}
