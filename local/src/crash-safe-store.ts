import { rename, rm } from 'node:fs/promises';
import FilesystemStore from 's3rver/lib/stores/filesystem';

/**
 * s3rver rewrites an object's metadata file in place, so a `kill -9` in the middle leaves it empty or cut off, and
 * from then on every GET, HEAD and listing that touches it answers 500 (the chaos suite's whole-pipeline kill found
 * this). The local pipeline promises to survive such a kill, so its store writes metadata to a temporary file and
 * renames it into place, and treats a torn file left by an older run as absent metadata instead of failing forever.
 */
let patched = false;

export function makeS3rverStoreCrashSafe(): void {
  if (patched) return;
  patched = true;
  const proto = FilesystemStore.prototype;
  const putMetadata = proto.putMetadata;
  const getMetadata = proto.getMetadata;
  let sequence = 0;

  proto.putMetadata = async function putMetadataAtomically(bucket, key, metadata, md5) {
    // s3rver skips a falsy md5 the same way. Not ending in `_S3rver_object`, so listings never mistake a temporary file for an object.
    const suffix = `.tmp-${process.pid}-${sequence++}`;
    const temporary = Object.create(this, {
      getResourcePath: { value: (b: string, k: string, resource: string) => `${this.getResourcePath(b, k, resource)}${suffix}` },
    }) as FilesystemStore;
    await putMetadata.call(temporary, bucket, key, metadata, md5);
    const md5Path = this.getResourcePath(bucket, key, 'object.md5');
    if (md5) await rename(`${md5Path}${suffix}`, md5Path);
    const metadataPath = this.getResourcePath(bucket, key, 'metadata.json');
    await rename(`${metadataPath}${suffix}`, metadataPath);
  };

  proto.getMetadata = async function getMetadataTolerantly(bucket, key) {
    try {
      return await getMetadata.call(this, bucket, key);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      await rm(this.getResourcePath(bucket, key, 'metadata.json'), { force: true });
      return getMetadata.call(this, bucket, key);
    }
  };
}
