/** s3rver ships no types; this covers the part of its API the local pipeline and the tests use. */
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  namespace S3rver {
    /** Emitted after an object is stored: `eventName` is e.g. `ObjectCreated:Put`, the key is raw (not encoded). */
    interface S3rverEvent {
      Records: {
        eventName: string;
        eventTime: string;
        s3: { bucket: { name: string }; object: { key: string; size: number; eTag?: string; sequencer?: string } };
      }[];
    }
  }

  interface S3rverBucketConfig {
    name: string;
    configs?: (string | Buffer)[];
  }

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: S3rverBucketConfig[];
    serviceEndpoint?: string;
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    on(event: 'event', listener: (event: S3rver.S3rverEvent) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export = S3rver;
}

/** The on-disk store behind s3rver, patched by `local/src/crash-safe-store.ts`. */
declare module 's3rver/lib/stores/filesystem' {
  class FilesystemStore {
    getResourcePath(bucket: string, key: string, resource: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
    putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  }
  export = FilesystemStore;
}
