import { PermanentError } from '../errors';

/**
 * The messages a fan-out run sends between its pipelines. Each carries where things are, never a file list, so no
 * SQS size limit applies whatever the batch size. `bucket` and `root` name the run's home (see run-layout.ts).
 *
 * ```json
 * {"kind":"fanout-batch","v":1,"bucket":"dest","root":"runs/","runId":"r1","family":"loudness","batch":3}
 * {"kind":"fanout-aggregate","v":1,"bucket":"dest","root":"runs/","runId":"r1"}
 * ```
 */
export interface RunHome {
  readonly bucket: string;
  readonly root: string;
  readonly runId: string;
}

export interface BatchMessage extends RunHome {
  readonly kind: 'fanout-batch';
  readonly family: string;
  readonly batch: number;
}

export interface AggregateMessage extends RunHome {
  readonly kind: 'fanout-aggregate';
}

export type FanoutMessage = BatchMessage | AggregateMessage;

export class FanoutMessageError extends PermanentError {
  override readonly name = 'FanoutMessageError';
  readonly reason = 'invalid-fanout-message';
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const RUN_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export function batchMessageBody(home: RunHome, family: string, batch: number): string {
  return JSON.stringify({ kind: 'fanout-batch', v: 1, bucket: home.bucket, root: home.root, runId: home.runId, family, batch });
}

export function aggregateMessageBody(home: RunHome): string {
  return JSON.stringify({ kind: 'fanout-aggregate', v: 1, bucket: home.bucket, root: home.root, runId: home.runId });
}

/** Cheap test before a full parse: is this body meant as a fan-out message at all (and not an S3 event)? */
export function looksLikeFanoutMessage(body: string): boolean {
  return /^\s*\{\s*"kind"\s*:\s*"fanout-/.test(body);
}

/** Pure: a fan-out message, or a FanoutMessageError naming the field. */
export function parseFanoutMessage(body: string): FanoutMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new FanoutMessageError('a fan-out message must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new FanoutMessageError('a fan-out message must be a JSON object');
  const fields = parsed as Record<string, unknown>;
  if (fields.v !== 1) throw new FanoutMessageError(`fan-out message version ${JSON.stringify(fields.v)} is not supported (expected 1)`);
  const text = (name: string, pattern?: RegExp): string => {
    const value = fields[name];
    if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) throw new FanoutMessageError(`fan-out message field "${name}" is missing or malformed`);
    return value;
  };
  const root = text('root');
  if (root !== '' && !root.endsWith('/')) throw new FanoutMessageError('fan-out message field "root" must be empty or end with /');
  const home = { bucket: text('bucket', /^[a-z0-9][a-z0-9.-]{1,62}$/), root, runId: text('runId', RUN_ID) };
  if (fields.kind === 'fanout-aggregate') return { kind: 'fanout-aggregate', ...home };
  if (fields.kind !== 'fanout-batch') throw new FanoutMessageError(`fan-out message kind ${JSON.stringify(fields.kind)} is unknown`);
  const batch = fields.batch;
  if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 0) throw new FanoutMessageError('fan-out message field "batch" must be a batch number');
  return { kind: 'fanout-batch', ...home, family: text('family', NAME), batch };
}
