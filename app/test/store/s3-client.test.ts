import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/store/s3-client';

/**
 * A stand-in S3 endpoint on 127.0.0.1 that answers every GET with a body and a CRC64NVME checksum that does not match
 * it: a client that validates response checksums fails, one that skips them returns the body.
 */
let server: Server;
let endpoint: string;
let lastHeaders: IncomingHttpHeaders = {};

beforeAll(async () => {
  server = createServer((request, response) => {
    lastHeaders = request.headers;
    request.resume();
    response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '5', etag: '"abc"', 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' });
    response.end('bytes');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The SDK reads region, credentials and endpoint from the process environment, as in a task. */
const SDK_SETTINGS = ['AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = Object.fromEntries(SDK_SETTINGS.map((name) => [name, process.env[name]]));
  Object.assign(process.env, { AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const get = (client: S3Client) => client.send(new GetObjectCommand({ Bucket: 'b', Key: 'photo.jpg' })).then((response) => response.Body!.transformToString());

it('does not ask for or recompute the object checksum on GET, so no CPU goes to CRC64NVME', async () => {
  const client = createS3Client(process.env);
  await expect(get(client)).resolves.toBe('bytes');
  expect(lastHeaders['x-amz-checksum-mode']).toBeUndefined();
  client.destroy();
});

it('is a real saving: the SDK default asks for the checksum and validates it', async () => {
  const validating = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  await expect(get(validating)).rejects.toThrow(/checksum/i);
  expect(lastHeaders['x-amz-checksum-mode']).toBe('ENABLED');
  validating.destroy();
});
