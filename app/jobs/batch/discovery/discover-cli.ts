import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '../../../../shared/errors';
import { createLog } from '../../../../shared/log/logger';
import { openMessageSender } from '../../../src/queue/open-message-sender';
import { realSleep, retryTransient } from '../../../../shared/retry';
import { httpHandler } from '../../../src/store/s3-client';
import { DynamoDbResultStore } from '../dynamodb-result-store';
import { discover } from './discover';
import { DISCOVER_USAGE, parseDiscoverCommand } from './discover-settings';
import { DynamoDbRecordSource } from './dynamodb-record-source';
import { DynamoDbWatermarkStore } from './dynamodb-watermark-store';

/**
 * `node dist/app/discover.js`: one discovery run, then exit. In AWS the schedule (EventBridge → ECS RunTask) is the
 * loop, so there is none here. Exit codes: 0 done, 1 failed or stopped early (a rerun resumes), 2 bad settings.
 */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let command;
  try {
    command = parseDiscoverCommand(argv, env, new Date());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`discover: the settings are invalid:\n  ${error.message.split('\n').join('\n  ')}\n\n${DISCOVER_USAGE}`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(DISCOVER_USAGE);
    return 0;
  }
  const { settings } = command;
  const log = createLog('discover', settings.logLevel, { date: settings.date });
  const raw = new DynamoDBClient({
    region: settings.region,
    maxAttempts: 5,
    requestHandler: httpHandler(10),
    ...(settings.dynamodbEndpoint !== undefined ? { endpoint: settings.dynamodbEndpoint } : {}),
  });
  const dynamo = DynamoDBDocumentClient.from(raw);
  const sender = openMessageSender(env, 1);
  // A chunk SQS partly refused (throttling, a 5xx) is sent again, whole, before the run gives up: a scheduled run
  // that stopped would leave its date to a person's backfill. Resending the accepted ones is at-least-once, as ever.
  const retryingSender = {
    sendAll: (queueUrl: string, bodies: readonly string[]) =>
      retryTransient(() => sender.sendAll(queueUrl, bodies), { retries: 4, baseDelayMs: 500, maxDelayMs: 10_000, sleep: realSleep }),
  };
  // Fargate's SIGTERM (a Spot notice, a stopped task): finish the chunk in flight so the watermark stays exact.
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    log.warn('discovery stopping', { signal });
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    const summary = await discover({
      date: settings.date,
      backfill: settings.backfill,
      source: new DynamoDbRecordSource(dynamo, { table: settings.sourceTable, attributes: settings.attributes }),
      watermarks: new DynamoDbWatermarkStore(dynamo, { table: settings.stateTable }),
      results: new DynamoDbResultStore(dynamo, { table: settings.resultsTable }),
      sender: retryingSender,
      queueUrl: settings.queueUrl,
      pageSize: settings.pageSize,
      log,
      signal: stop.signal,
    });
    log.info('discovery summary', summary);
    if (!summary.complete) log.warn('discovery stopped before the end of the date; a rerun resumes after the watermark', { watermark: summary.watermark });
    return summary.complete ? 0 : 1;
  } catch (error) {
    log.error('discovery failed; a rerun resumes after the last chunk sent', {
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      sourceTable: settings.sourceTable,
      queueUrl: settings.queueUrl,
    });
    return 1;
  } finally {
    await sender.close();
    // The document client's destroy() is a no-op: the sockets belong to the client underneath.
    raw.destroy();
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`discover: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
