import { ConfigError } from '../../../../../shared/errors';
import { parseDiscoverCommand, type DiscoverSettings } from '../discover-settings';

const NOW = new Date('2026-12-02T02:00:00.000Z');
const ENV = {
  SOURCE_TABLE: 'recordings',
  RESULTS_TABLE: 'batch-results',
  DISCOVERY_STATE_TABLE: 'discovery-state',
  QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/batch',
  AWS_REGION: 'eu-west-1',
};

function settings(argv: string[], env: NodeJS.ProcessEnv = ENV): DiscoverSettings {
  const command = parseDiscoverCommand(argv, env, NOW);
  if (command.kind !== 'run') throw new Error('expected a run');
  return command.settings;
}

function problems(argv: string[], env: NodeJS.ProcessEnv): string[] {
  try {
    parseDiscoverCommand(argv, env, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('parseDiscoverCommand', () => {
  it('reads a one-off run with the defaults', () => {
    expect(settings(['--date', '2026-11-30'])).toEqual({
      date: '2026-11-30', backfill: false, sourceTable: 'recordings', resultsTable: 'batch-results', stateTable: 'discovery-state',
      queueUrl: ENV.QUEUE_URL, region: 'eu-west-1', attributes: { id: 'id', date: 'date', bucket: 'bucket', key: 'key' },
      pageSize: 100, dynamodbEndpoint: undefined, logLevel: 'INFO',
    });
    expect(settings(['--date=2026-11-30', '--backfill']).backfill).toBe(true);
  });

  it('takes the date from DISCOVERY_DATE when --date is absent: "yesterday" is the UTC day before now', () => {
    expect(settings([], { ...ENV, DISCOVERY_DATE: 'yesterday' }).date).toBe('2026-12-01');
    expect(settings([], { ...ENV, DISCOVERY_DATE: '2026-10-10' }).date).toBe('2026-10-10');
    expect(settings(['--date', '2026-11-11'], { ...ENV, DISCOVERY_DATE: 'yesterday' }).date).toBe('2026-11-11');
    expect(settings(['--date', 'yesterday']).date).toBe('2026-12-01');
  });

  it('reads the optional settings', () => {
    const read = settings(['--date', '2026-11-30'], {
      ...ENV, SOURCE_ID_ATTRIBUTE: 'recordingId', SOURCE_DATE_ATTRIBUTE: 'day', SOURCE_BUCKET_ATTRIBUTE: 's3Bucket', SOURCE_KEY_ATTRIBUTE: 's3Key',
      DISCOVERY_PAGE_SIZE: '250', DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000', LOG_LEVEL: 'debug', QUEUE_URL: '/tmp/queues/batch.sqlite',
      SOURCE_TABLE: 'arn:aws:dynamodb:eu-west-1:123456789012:table/recordings',
    });
    expect(read).toMatchObject({
      attributes: { id: 'recordingId', date: 'day', bucket: 's3Bucket', key: 's3Key' }, pageSize: 250,
      dynamodbEndpoint: 'http://127.0.0.1:8000', logLevel: 'DEBUG', queueUrl: '/tmp/queues/batch.sqlite',
      sourceTable: 'arn:aws:dynamodb:eu-west-1:123456789012:table/recordings',
    });
    expect(Object.isFrozen(read)).toBe(true);
  });

  it('names every problem at once', () => {
    expect(problems(['--date', '2026-02-30'], { DISCOVERY_PAGE_SIZE: '5000', DYNAMODB_ENDPOINT: 'localhost:8000', RESULTS_TABLE: 'x', AWS_REGION: 'Europe' })).toEqual([
      'SOURCE_TABLE is missing: expected the source records table\'s name or ARN',
      'RESULTS_TABLE="x" is invalid: expected the results table\'s name (3-255 of A-Z a-z 0-9 _ . -) or ARN',
      'DISCOVERY_STATE_TABLE is missing: expected the discovery state table\'s name or ARN',
      'QUEUE_URL is missing: expected the batch queue: an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or a local queue file\'s path',
      'AWS_REGION="Europe" is invalid: expected a region such as eu-west-1',
      'DISCOVERY_PAGE_SIZE="5000" is invalid: expected an integer from 1 to 1000',
      'DYNAMODB_ENDPOINT="localhost:8000" is invalid: expected an http(s) URL such as http://127.0.0.1:8000',
      '--date "2026-02-30" is invalid: expected a real calendar date YYYY-MM-DD, or "yesterday" (UTC)',
    ]);
  });

  it('asks for a date when neither --date nor DISCOVERY_DATE gives one, and refuses a bad DISCOVERY_DATE', () => {
    expect(problems([], ENV)).toEqual(['no date: pass --date YYYY-MM-DD, or set DISCOVERY_DATE=yesterday (a scheduled task) or DISCOVERY_DATE=YYYY-MM-DD']);
    expect(problems([], { ...ENV, DISCOVERY_DATE: 'today' })).toEqual(['DISCOVERY_DATE="today" is invalid: expected a real calendar date YYYY-MM-DD, or "yesterday" (UTC)']);
  });

  it('refuses attribute names that collide', () => {
    expect(problems(['--date', '2026-11-30'], { ...ENV, SOURCE_KEY_ATTRIBUTE: 'bucket' })).toEqual([
      'SOURCE_*_ATTRIBUTE: the id, date, bucket and key attributes must be four different names, got id, date, bucket, bucket',
    ]);
  });

  it('answers --help, and refuses unknown options and stray arguments', () => {
    expect(parseDiscoverCommand(['--help'], {}, NOW)).toEqual({ kind: 'help' });
    expect(parseDiscoverCommand(['-h'], {}, NOW)).toEqual({ kind: 'help' });
    expect(() => parseDiscoverCommand(['--dates', '2026-11-30'], ENV, NOW)).toThrow(ConfigError);
    expect(() => parseDiscoverCommand(['2026-11-30'], ENV, NOW)).toThrow(ConfigError);
    expect(() => parseDiscoverCommand(['--date'], ENV, NOW)).toThrow(/--date/);
  });
});
