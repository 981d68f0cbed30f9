import { parseArgs } from 'node:util';
import { ConfigError } from '../../../../shared/errors';
import type { LogLevel } from '../../../../shared/log/logger';
import { EnvReader } from '../../../src/job/env-reader';
import { calendarDate, yesterdayUtc } from './discovery-date';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './discover';
import { DEFAULT_SOURCE_ATTRIBUTES, type SourceAttributes } from './dynamodb-record-source';

export const DISCOVER_USAGE = `Usage: npm run discover -- [--date YYYY-MM-DD|yesterday] [--backfill]

Enqueues one date's records that have no result yet onto QUEUE_URL, ten per SendMessageBatch, and moves the date's
watermark past each batch once it is sent. A rerun resumes after the watermark.
  --date       the date to discover (default: DISCOVERY_DATE, which a scheduled task sets to "yesterday", in UTC)
  --backfill   scan the whole date, not from the watermark: re-enqueue records below it that still have no result
  -h, --help   this text

Environment:
  SOURCE_TABLE            the records table (partition key: the date, sort key: the record id)
  RESULTS_TABLE           the batch job's results table (key: id)
  DISCOVERY_STATE_TABLE   the watermarks table (key: name)
  QUEUE_URL               the batch queue: an SQS URL, or a local queue file's path
  AWS_REGION              the tables' region
  SOURCE_ID_ATTRIBUTE, SOURCE_DATE_ATTRIBUTE, SOURCE_BUCKET_ATTRIBUTE, SOURCE_KEY_ATTRIBUTE
                          the source table's attribute names (default id, date, bucket, key)
  DISCOVERY_DATE          YYYY-MM-DD or "yesterday" (UTC), when --date is not given
  DISCOVERY_PAGE_SIZE     records per source Query, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})
  DYNAMODB_ENDPOINT       http(s) URL of a local DynamoDB-protocol server, for testing
  LOG_LEVEL               DEBUG, INFO (default), WARN, ERROR
`;

export interface DiscoverSettings {
  readonly date: string;
  readonly backfill: boolean;
  readonly sourceTable: string;
  readonly resultsTable: string;
  readonly stateTable: string;
  readonly queueUrl: string;
  readonly region: string;
  readonly attributes: SourceAttributes;
  readonly pageSize: number;
  readonly dynamodbEndpoint: string | undefined;
  readonly logLevel: LogLevel;
}

export type DiscoverCommand = { readonly kind: 'help' } | { readonly kind: 'run'; readonly settings: DiscoverSettings };

/** A table's name, or its ARN (a table in another account). */
const TABLE = /^([A-Za-z0-9_.-]{3,255}|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * Pure: the command line and the environment as settings, or one ConfigError naming every problem at once (a
 * scheduled task that fails at 02:00 should not need one deployment per mistake).
 */
export function parseDiscoverCommand(argv: readonly string[], env: NodeJS.ProcessEnv, now: Date): DiscoverCommand {
  let values: { date?: string; backfill?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { date: { type: 'string' }, backfill: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { kind: 'help' };

  const problems: string[] = [];
  const read = new EnvReader(env);
  const dateFrom = (text: string): string | undefined => (text.toLowerCase() === 'yesterday' ? yesterdayUtc(now) : calendarDate(text));
  const DATE_FORM = 'a real calendar date YYYY-MM-DD, or "yesterday" (UTC)';
  let date = '';
  if (values.date !== undefined) {
    date = dateFrom(values.date.trim()) ?? '';
    if (date === '') problems.push(`--date "${values.date.slice(0, 40)}" is invalid: expected ${DATE_FORM}`);
  } else if (read.present('DISCOVERY_DATE') !== undefined) {
    date = read.parsed('DISCOVERY_DATE', '', dateFrom, DATE_FORM);
  } else {
    problems.push('no date: pass --date YYYY-MM-DD, or set DISCOVERY_DATE=yesterday (a scheduled task) or DISCOVERY_DATE=YYYY-MM-DD');
  }

  const table = (name: string, what: string): string => {
    const value = read.required(name, `the ${what} table's name or ARN`);
    if (value !== '' && !TABLE.test(value)) return read.parsed(name, '', () => undefined, `the ${what} table's name (3-255 of A-Z a-z 0-9 _ . -) or ARN`);
    return value;
  };
  const attribute = (name: string, fallback: string): string =>
    read.parsed(name, fallback, (raw) => (Buffer.byteLength(raw) <= 255 ? raw : undefined), 'an attribute name of at most 255 bytes');

  const settings: DiscoverSettings = {
    date,
    backfill: values.backfill ?? false,
    sourceTable: table('SOURCE_TABLE', 'source records'),
    resultsTable: table('RESULTS_TABLE', 'results'),
    stateTable: table('DISCOVERY_STATE_TABLE', 'discovery state'),
    queueUrl: read.required('QUEUE_URL', 'the batch queue: an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or a local queue file\'s path'),
    region: (() => {
      const value = read.required('AWS_REGION', 'the tables\' region, e.g. eu-west-1');
      return value !== '' && !REGION.test(value) ? read.parsed('AWS_REGION', '', () => undefined, 'a region such as eu-west-1') : value;
    })(),
    attributes: {
      id: attribute('SOURCE_ID_ATTRIBUTE', DEFAULT_SOURCE_ATTRIBUTES.id),
      date: attribute('SOURCE_DATE_ATTRIBUTE', DEFAULT_SOURCE_ATTRIBUTES.date),
      bucket: attribute('SOURCE_BUCKET_ATTRIBUTE', DEFAULT_SOURCE_ATTRIBUTES.bucket),
      key: attribute('SOURCE_KEY_ATTRIBUTE', DEFAULT_SOURCE_ATTRIBUTES.key),
    },
    pageSize: read.int('DISCOVERY_PAGE_SIZE', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    dynamodbEndpoint: read.parsed<string | undefined>('DYNAMODB_ENDPOINT', undefined, (raw) => (/^https?:\/\/[^\s/]+/i.test(raw) ? raw : undefined), 'an http(s) URL such as http://127.0.0.1:8000'),
    logLevel: read.oneOf('LOG_LEVEL', ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const, 'INFO'),
  };
  const { attributes } = settings;
  if (new Set(Object.values(attributes)).size < 4) {
    problems.push(`SOURCE_*_ATTRIBUTE: the id, date, bucket and key attributes must be four different names, got ${attributes.id}, ${attributes.date}, ${attributes.bucket}, ${attributes.key}`);
  }
  try {
    read.throwIfInvalid();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.unshift(...error.message.split('\n'));
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return { kind: 'run', settings: Object.freeze(settings) };
}
