import { join } from 'node:path';
import S3rver from 's3rver';
import { makeS3rverStoreCrashSafe } from './crash-safe-store';

/** s3rver accepts any signature from these; the same pair goes into the workers' environment. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3Server {
  readonly endpoint: string;
  readonly server: S3rver;
  close(): Promise<void>;
}

/** An S3-protocol server on 127.0.0.1 only, its objects kept on disk so a restart continues where it stopped. */
export async function startS3Server(options: { dataDir: string; port: number; buckets: readonly string[] }): Promise<LocalS3Server> {
  makeS3rverStoreCrashSafe();
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    silent: true,
    directory: join(options.dataDir, 's3'),
    configureBuckets: options.buckets.map((name) => ({ name })),
    // The AWS CLI addresses buckets by path when given --endpoint-url; virtual hosts would need DNS tricks.
    vhostBuckets: false,
  });
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, server, close: () => server.close() };
}
