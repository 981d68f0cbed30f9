import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ListedObject {
  readonly key: string;
  readonly size: number;
}

/**
 * The local file for an object key under `dir`, or undefined for a key that is no file name there (a folder marker,
 * an empty segment, `.` or `..` that would climb out). Pure.
 */
export function mirrorPath(dir: string, key: string): string | undefined {
  const segments = key.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'))) return undefined;
  const path = resolve(dir, ...segments);
  return path.startsWith(resolve(dir) + sep) ? path : undefined;
}

/**
 * s3rver keeps objects as `<key>._S3rver_object` files: this copies a bucket to plain files a person can open, at
 * the same keys, through the S3 API (the worker's path is untouched). Files already there with the object's size are
 * kept, so a rerun copies only what changed in size. Returns how many files were written.
 */
export async function mirrorObjects(s3: S3Client, bucket: string, objects: readonly ListedObject[], dir: string): Promise<number> {
  let written = 0;
  for (const object of objects) {
    const path = mirrorPath(dir, object.key);
    if (path === undefined) continue;
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isFile() === true && existing.size === object.size) continue;
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
    const body = await response.Body?.transformToByteArray();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body ?? new Uint8Array());
    written++;
  }
  return written;
}

export function mirrorDir(dataDir: string): string {
  return join(dataDir, 'out');
}
