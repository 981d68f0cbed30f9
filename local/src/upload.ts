import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * What `aws s3 cp --recursive <dir> s3://bucket/` does: every file, keyed by its path relative to the folder.
 * `last`: files uploaded only after all the others, e.g. manifests, whose events start work on the files they name.
 */
export async function uploadDirectory(s3: S3Client, bucket: string, dir: string, prefix = '', last: (key: string) => boolean = () => false): Promise<string[]> {
  const keys: string[] = [];
  const all = listFiles(dir);
  const keyOf = (file: string) => prefix + relative(dir, file).split(sep).join('/');
  await uploadFiles(all.filter((file) => !last(keyOf(file))));
  await uploadFiles(all.filter((file) => last(keyOf(file))));
  return keys.sort();

  async function uploadFiles(files: string[]): Promise<void> {
    const parallel = 8;
    for (let start = 0; start < files.length; start += parallel) {
      await Promise.all(
        files.slice(start, start + parallel).map(async (file) => {
          const key = keyOf(file);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
          keys.push(key);
        }),
      );
    }
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(path);
    return entry.isFile() ? [path] : [];
  });
}
