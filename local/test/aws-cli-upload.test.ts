import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { objectsNamedIn } from '../../shared/events/parse-message';
import { LocalQueue } from '../../shared/queue/local-queue';
import { connectEventBridge } from '../src/event-bridge';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../src/s3-server';

/**
 * The documented way to load work: the real AWS CLI (Debian package `awscli`) against the local endpoint. No skip when
 * it is missing: CI must install it, or this fails saying so.
 */
const run = promisify(execFile);
let dir: string;
let server: LocalS3Server;
let queue: LocalQueue;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aws-cli-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['source', 'destination'] });
  queue = LocalQueue.open(join(dir, 'queue.db'), { create: {} });
  connectEventBridge(server.server, queue, { bucket: 'source', prefix: '' }, (body) => {
    throw new Error(`event not queued: ${body}`);
  });
  const files: Record<string, Buffer> = {
    'a b/ü+x.jpg': Buffer.from('small'),
    'nested/deeper/100% real.png': Buffer.from('small too'),
    // Above the CLI's 8 MB multipart threshold: s3rver calls its completion Post, AWS CompleteMultipartUpload.
    'big.jpg': randomBytes(9 * 1024 * 1024),
  };
  for (const [key, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, 'photos', key)), { recursive: true });
    writeFileSync(join(dir, 'photos', key), bytes);
  }
});

afterAll(async () => {
  await queue?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('aws s3 cp --recursive --endpoint-url queues one AWS-shaped event per file, multipart included', async () => {
  const aws = await run('aws', ['--version']).catch(() => {
    throw new Error('the AWS CLI is not on PATH: install it (Debian package awscli) to run this test');
  });
  expect(aws.stdout + aws.stderr).toMatch(/aws-cli/);

  await run('aws', ['s3', 'cp', '--recursive', '--only-show-errors', join(dir, 'photos'), 's3://source/', '--endpoint-url', server.endpoint], {
    env: {
      PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: join(dir, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });

  const messages = await queue.receive({ maxMessages: 10, waitSeconds: 0 });
  const records = messages.map((message) => JSON.parse(message.body).Records[0]).sort((a, b) => a.s3.object.key.localeCompare(b.s3.object.key));
  expect(records.map((record) => [record.eventName, record.s3.object.key])).toEqual([
    ['ObjectCreated:Put', 'a+b/%C3%BC%2Bx.jpg'],
    ['ObjectCreated:CompleteMultipartUpload', 'big.jpg'],
    ['ObjectCreated:Put', 'nested/deeper/100%25+real.png'],
  ]);
  const objects = messages.flatMap((message) => objectsNamedIn(message.body));
  expect(objects.map((object) => object.key).sort()).toEqual(['a b/ü+x.jpg', 'big.jpg', 'nested/deeper/100% real.png']);
  expect(objects.find((object) => object.key === 'big.jpg')?.size).toBe(9 * 1024 * 1024);
}, 60_000);
