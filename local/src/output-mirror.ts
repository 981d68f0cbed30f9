import { createWriteStream } from 'node:fs';
import { mkdir, stat, utimes } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
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
 * the same keys, through the S3 API (the worker's path is untouched). A file is copied again only when its object
 * changed (size or last-modified time, which the copy takes on); bodies stream to disk. A key that cannot be a file
 * here (a name too long, `a` beside `a/b`) is counted, never fatal: the run's summary is what matters.
 */
export async function mirrorObjects(s3: S3Client, bucket: string, objects: readonly ListedObject[], dir: string): Promise<{ written: number; notMirrored: number }> {
  let written = 0;
  let notMirrored = 0;
  for (const object of objects) {
    const path = mirrorPath(dir, object.key);
    if (path === undefined) {
      notMirrored++;
      continue;
    }
    try {
      const existing = await stat(path).catch(() => undefined);
      const modifiedAt = object.lastModified?.getTime();
      if (existing?.isFile() === true && existing.size === object.size && (modifiedAt === undefined || existing.mtimeMs === modifiedAt)) continue;
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
      await mkdir(dirname(path), { recursive: true });
      await pipeline((response.Body as Readable | undefined) ?? Readable.from([]), createWriteStream(path));
      if (object.lastModified !== undefined) await utimes(path, object.lastModified, object.lastModified);
      written++;
    } catch {
      notMirrored++;
    }
  }
  return { written, notMirrored };
}

export function mirrorDir(dataDir: string): string {
  return join(dataDir, 'out');
}
