import { SQSClient } from '@aws-sdk/client-sqs';
import { httpHandler, type ClientOptions } from '../store/s3-client';

/** Region, credentials and `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_SQS` come from the SDK's own standard settings. */
export function createSqsClient(_env: NodeJS.ProcessEnv, options: ClientOptions = {}): SQSClient {
  return new SQSClient({ maxAttempts: 3, requestHandler: httpHandler(options.maxSockets ?? 10) });
}
