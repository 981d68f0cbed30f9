import { loadConfig } from '../../app/src/config';
import { RESIZE_METRIC_QUERIES } from './factories';
import { metricDataQueries, metricSeriesFor, metricWindow, processedSeriesFor, queueNameFromUrl } from '../src/cloudwatch-status/metric-queries';

const OUTPUTS = {
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-work',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-dlq',
};

describe('metricWindow', () => {
  it('ends at the start of the current minute and spans the 60 finished minutes before it', () => {
    const window = metricWindow(Date.parse('2026-12-03T10:00:42.123Z'));
    expect(window).toEqual({ start: new Date('2026-12-03T09:00:00Z'), end: new Date('2026-12-03T10:00:00Z') });
  });

  it('keeps a time already on the minute as the end', () => {
    expect(metricWindow(Date.parse('2026-12-03T10:00:00Z')).end).toEqual(new Date('2026-12-03T10:00:00Z'));
  });
});

describe('queueNameFromUrl', () => {
  it('is the last path segment of the queue URL', () => {
    expect(queueNameFromUrl(OUTPUTS.queueUrl)).toBe('blueprint-work');
    expect(queueNameFromUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo/')).toBe('jobs.fifo');
  });

  it('names the URL when it has no queue name or is not a URL', () => {
    expect(() => queueNameFromUrl('https://sqs.eu-west-1.amazonaws.com/')).toThrow('queue URL "https://sqs.eu-west-1.amazonaws.com/" has no queue name');
    expect(() => queueNameFromUrl('blueprint-work')).toThrow('queue URL "blueprint-work" is not a URL');
  });
});

describe('processedSeriesFor', () => {
  it.each([
    ['resize', 'S3QueueWorker', 'ImagesProcessed', { service: 'worker' }, 'images/min'],
    ['command', 'S3QueueWorker', 'ImagesProcessed', { service: 'worker' }, 'files/min'],
    ['batch', 'S3QueueWorker', 'RecordsScored', { service: 'worker' }, 'records/min'],
    ['fanout', 'AWS/SQS', 'NumberOfMessagesDeleted', { QueueName: 'blueprint-work' }, 'messages/min'],
    ['archive-split', 'AWS/SQS', 'NumberOfMessagesDeleted', { QueueName: 'blueprint-work' }, 'messages/min'],
  ])('for the %s job reads %s %s in %s', (job, namespace, metricName, dimensions, unit) => {
    const spec = processedSeriesFor(job, 'blueprint-work');
    expect(spec).toMatchObject({ namespace, metricName, dimensions, unit, stat: 'Sum' });
    expect(spec.source).toContain(metricName);
  });

  it('says that acknowledged messages include the ones the worker dead-lettered', () => {
    expect(processedSeriesFor('fanout', 'blueprint-work').source).toContain('dead-lettered');
  });
});

describe('metricDataQueries', () => {
  it('asks for the processed sum, the oldest age on the work queue and the DLQ depth, each per minute', () => {
    expect(metricDataQueries(metricSeriesFor(OUTPUTS, 'resize'))).toEqual(RESIZE_METRIC_QUERIES);
  });

  it('uses ids CloudWatch accepts (a lower-case letter, then letters, digits, underscores), unique per call', () => {
    const ids = metricDataQueries(metricSeriesFor(OUTPUTS, 'fanout')).map((query) => query.Id);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('the worker metric names', () => {
  it('match the namespace the worker publishes under by default, which the stack leaves as it is', () => {
    const config = loadConfig({ QUEUE_URL: OUTPUTS.queueUrl, DLQ_URL: OUTPUTS.dlqUrl, DEST_BUCKET: 'destination' }, 2);
    expect(processedSeriesFor('resize', 'blueprint-work').namespace).toBe(config.metricsNamespace);
  });
});
