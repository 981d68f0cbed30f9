import { LAMBDA_MAX_VCPU, LAMBDA_MB_PER_VCPU, type LambdaAlternative, type PerImageRequests, type Prices } from '../parameters';

export interface LambdaCostPerMillion {
  readonly vcpus: number;
  /** Billed resize time per image at those vCPUs. */
  readonly secondsPerImage: number;
  readonly compute: number;
  readonly requests: number;
  readonly sqs: number;
  readonly s3: number;
  readonly total: number;
}

/**
 * The same resize in Lambda behind the same queue, per million images. Compute time comes from the measured
 * per-core throughput of the resize itself, scaled by the vCPUs the memory setting buys; a batch of images is
 * resized in parallel when the function has more than one vCPU, so only the vCPU count matters, not the batch.
 */
export function lambdaCostPerMillion(
  perCoreImagesPerSecond: number,
  lambda: LambdaAlternative,
  prices: Prices,
  perImage: PerImageRequests,
): LambdaCostPerMillion {
  if (!(perCoreImagesPerSecond > 0)) throw new RangeError(`perCoreImagesPerSecond must be positive, got ${perCoreImagesPerSecond}`);
  const images = 1_000_000;
  const vcpus = Math.min(LAMBDA_MAX_VCPU, (lambda.memoryGb * 1024) / LAMBDA_MB_PER_VCPU);
  // Below one vCPU Lambda throttles the CPU share; above it the batch's images run side by side (one libvips thread
  // each), which holds while the batch is at least as large as the vCPU count.
  const secondsPerImage = 1 / (perCoreImagesPerSecond * vcpus);
  const invocations = Math.ceil(images / lambda.batchSize);
  const billedSeconds =
    images * secondsPerImage +
    invocations * (lambda.overheadSecondsPerInvocation + lambda.coldStartShare * lambda.coldStartSeconds);
  const compute = billedSeconds * lambda.memoryGb * prices.lambdaPerGbSecond;
  const requests = invocations * prices.lambdaPerRequest;
  // The event source's receives are batched like the worker's; S3's SendMessage and the deletes are the same.
  const sqs = (invocations + images * perImage.sqsOther) * prices.sqsPerRequest;
  const s3 = images * (perImage.s3Reads * prices.s3GetPerRequest + perImage.s3Writes * prices.s3PutPerRequest);
  return { vcpus, secondsPerImage, compute, requests, sqs, s3, total: compute + requests + sqs + s3 };
}
