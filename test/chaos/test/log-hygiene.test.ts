import { findLogLeaks } from '../src/log-hygiene';

const rules = { forbidden: [{ label: 'the secret key', value: 'S3CR3T-VALUE' }, { label: 'message body content', value: 'canary-42' }] };

describe('findLogLeaks', () => {
  it('passes ordinary worker log lines', () => {
    const text = [
      JSON.stringify({ level: 'INFO', message: 'processed', key: 'a b/ü+x.jpg', sizes: ['32x32'] }),
      JSON.stringify({ level: 'ERROR', message: 'failed', reason: 'corrupt-image', detail: 'could not be decoded' }),
    ].join('\n');
    expect(findLogLeaks([{ file: 'w.log', text }], rules)).toEqual([]);
  });

  it('names the file and line of each forbidden value', () => {
    const text = ['ok', `{"detail":"body was {\\"x\\":\\"canary-42\\"}"}`, 'key S3CR3T-VALUE'].join('\n');
    expect(findLogLeaks([{ file: 'w.log', text }], rules)).toEqual([
      'w.log:2: message body content appears in a log line',
      'w.log:3: the secret key appears in a log line',
    ]);
  });

  it('names the leaking event by its message and reason, without repeating the leak', () => {
    const text = JSON.stringify({ message: 'failed', reason: 'malformed-message', detail: 'body: canary-42' });
    expect(findLogLeaks([{ file: 'w.log', text }], rules)).toEqual(['w.log:1 (failed, malformed-message): message body content appears in a log line']);
  });

  it('finds credential material whatever its value', () => {
    const lines = [
      'Authorization: AWS4-HMAC-SHA256 Credential=X/20260101/us-east-1/s3/aws4_request',
      'GET /b/k?X-Amz-Signature=abc',
      '{"aws_secret_access_key":"x"}',
      'key id AKIAABCDEFGHIJKLMNOP',
    ];
    expect(findLogLeaks([{ file: 'f', text: lines.join('\n') }], { forbidden: [] })).toHaveLength(4);
  });
});
