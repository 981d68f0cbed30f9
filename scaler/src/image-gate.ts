/**
 * Whether the worker task definition runs a real worker yet. Until the pipeline's first build, Terraform's bootstrap
 * image (a plain Node image) stands in: its tasks exit at once without receiving, so the s3:TestEvent that creating
 * the bucket notification leaves in the queue would start a task on every run, indefinitely. Pure.
 */
export interface ImageGateDecision {
  readonly ready: boolean;
  readonly image: string;
  /** For the decision line, when not ready. */
  readonly reason?: string;
}

export function decideImageGate(currentImage: string, bootstrapImage: string): ImageGateDecision {
  const image = currentImage.trim();
  if (image === '') return { ready: false, image, reason: 'the worker image parameter is empty -> launch 0' };
  if (image === bootstrapImage.trim()) {
    return {
      ready: false,
      image,
      reason: `worker image is still the bootstrap image ${image} (no pipeline build has replaced it yet) -> launch 0`,
    };
  }
  return { ready: true, image };
}
