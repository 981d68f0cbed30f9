import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';

export interface ClientOptions {
  /** Sockets kept open per host: enough for every in-flight get and put. */
  readonly maxSockets?: number;
}

/**
 * Region, credentials and `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3` are the SDK's own standard settings and are read by
 * it; this only adds path-style addressing when an endpoint is overridden (S3-compatible servers need it) and
 * keep-alive sockets sized for the worker's concurrency.
 */
export function createS3Client(env: NodeJS.ProcessEnv, options: ClientOptions = {}): S3Client {
  const endpointOverridden = Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  return new S3Client({
    forcePathStyle: endpointOverridden,
    maxAttempts: 3,
    // By default the SDK asks S3 for each object's checksum and recomputes it on every GET: for objects that the AWS
    // CLI uploaded (CRC64NVME) that is 16-29 ms of this process's CPU per 4 MB photo, a third of the resize itself.
    // TLS already guards the transfer and a damaged image fails to decode, so GETs skip it; PUTs keep theirs.
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: httpHandler(options.maxSockets ?? 50),
  });
}

/** The SDK builds its Node HTTP handler from these options, so no direct dependency on @smithy is needed. */
export function httpHandler(maxSockets: number) {
  return {
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    httpsAgent: new Agent({ keepAlive: true, maxSockets }),
    connectionTimeout: 5_000,
    requestTimeout: 60_000,
  };
}
