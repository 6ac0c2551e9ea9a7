// The artifact storage on an S3-compatible object store (AWS S3, MinIO, Ceph, R2 …), with the
// same semantics as the local directory: a writer streams under a temporary key
// ("<key>.<uuid>.partial", multipart, a few parts in memory at most) and publishes with
// CopyObject + delete of the temporary key, so a reader of <key> sees the whole object or none;
// listing skips temporary keys and sweepPartials removes those a crashed writer left behind.
// Nothing touches the local disk. Credentials come from the AWS SDK's default chain.
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStorage, StoredObject } from './storage.js';

const PARTIAL_SUFFIX = '.partial';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Keys per ListObjectsV2 page (S3's maximum is 1000; tests use a small one to cover paging). */
  pageSize?: number;
  /** Bytes per multipart part (S3's minimum is 5 MiB) and parts in flight: memory is about their product. */
  partSize?: number;
  queueSize?: number;
  /** Extra client settings (tests pass credentials). */
  client?: Partial<S3ClientConfig>;
}

export type S3ArtifactStorage = ArtifactStorage & { close(): void };

const isNotFound = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
};

/** The same keys the local driver accepts: relative, no "..", no empty segment, no NUL. */
function checkKey(key: string): string {
  if (!key || key.includes('\0') || key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new Error(`invalid storage key: ${key}`);
  }
  return key;
}

export function createS3Storage(options: S3StorageOptions): S3ArtifactStorage {
  const { bucket } = options;
  const s3 = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    ...options.client,
  });

  async function* listAll(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: options.pageSize ?? 1000 }));
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  const remove = (key: string) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  return {
    async put(key, source) {
      checkKey(key);
      const temporary = `${key}.${randomUUID()}${PARTIAL_SUFFIX}`;
      // Upload reads a Readable; an async iterable is adapted. The PassThrough carries errors of
      // the source into the upload, which then aborts the multipart upload.
      const body = new PassThrough();
      const feeding = pipeline(source instanceof Readable ? source : Readable.from(source), body);
      const upload = new Upload({
        client: s3,
        params: { Bucket: bucket, Key: temporary, Body: body },
        partSize: options.partSize ?? 5 * 1024 * 1024,
        queueSize: options.queueSize ?? 2,
        leavePartsOnError: false,
      });
      try {
        await Promise.all([feeding, upload.done()]);
        // Publish: a server-side copy makes <key> appear complete in one step.
        await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${encodeURIComponent(temporary).replace(/%2F/g, '/')}` }));
      } catch (error) {
        body.destroy();
        await upload.abort().catch(() => {});
        await remove(temporary).catch(() => {});
        throw error;
      }
      await remove(temporary).catch(() => {}); // a leftover is swept like a crashed writer's
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ContentLength ?? 0;
    },
    async get(key, range) {
      checkKey(key);
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }));
      if (!(out.Body instanceof Readable)) throw new Error(`storage object ${key} has no readable body`);
      return out.Body;
    },
    async stat(key) {
      checkKey(key);
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async delete(key) {
      // DeleteObject succeeds on a missing key; the interface reports whether something was removed.
      if (!(await this.stat(key))) return false;
      await remove(key);
      return true;
    },
    // includePartials: main's ArtifactStorage gains this option (an erasure removes temporary objects too).
    async list(prefix: string, listOptions: { includePartials?: boolean } = {}) {
      const objects: StoredObject[] = [];
      for await (const o of listAll(prefix)) if (listOptions.includePartials || !o.key.endsWith(PARTIAL_SUFFIX)) objects.push(o);
      return objects.sort((a, b) => a.key.localeCompare(b.key));
    },
    async sweepPartials(olderThanMs) {
      let removed = 0;
      for await (const o of listAll('')) {
        if (o.key.endsWith(PARTIAL_SUFFIX) && Date.now() - o.modifiedAt.getTime() > olderThanMs) {
          await remove(o.key);
          removed += 1;
        }
      }
      return removed;
    },
    close() {
      s3.destroy();
    },
  };
}
