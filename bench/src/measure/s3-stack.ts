import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import S3rver from 's3rver';

/** s3rver's own fixed credentials; nothing real. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const SOURCE_BUCKET = 'source';
export const DEST_BUCKET = 'destination';

export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
}

export interface S3Stack {
  readonly port: number;
  readonly objects: readonly StoredObject[];
  close(): Promise<void>;
}

/**
 * An S3-protocol server on loopback with the source and destination buckets, loaded with the given files under
 * `keyPrefix` (a folder and a space, so the events carry AWS's key encoding like real uploads do).
 */
export async function startS3Stack(directory: string, files: readonly string[], keyPrefix = 'bench photos/'): Promise<S3Stack> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    resetOnClose: true,
    configureBuckets: [{ name: SOURCE_BUCKET }, { name: DEST_BUCKET }],
  });
  const address = await server.run();
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
  });
  try {
    const objects: StoredObject[] = [];
    for (const [index, file] of files.entries()) {
      const body = readFileSync(file);
      const key = `${keyPrefix}${String(index).padStart(4, '0')}-${basename(file)}`;
      const response = await client.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body }));
      objects.push({ key, size: body.length, etag: response.ETag ?? '' });
    }
    return { port: address.port, objects, close: () => server.close() };
  } catch (error) {
    await server.close();
    throw error;
  } finally {
    client.destroy();
  }
}
