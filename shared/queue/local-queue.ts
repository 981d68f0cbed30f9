import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type {
  BatchFailure, Queue, QueueDepth, ReceiveOptions, ReceivedMessage, SendOptions, VisibilityChange,
} from '../ports/queue';
import { abortableSleep } from '../runtime/abortable-sleep';

/**
 * The embedded stand-in for SQS: one SQLite file holds the queue, its dead-letter queue and the queue's attributes.
 *
 * Why SQLite: it gives atomic multi-row transactions and cross-process locking out of the box, so "two processes
 * never receive the same message" and "a crash loses nothing that was acknowledged" come from the database rather
 * than from hand-written rename and lock-file protocols.
 */
export interface LocalQueueAttributes {
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
}

export interface LocalQueueOpenOptions {
  /**
   * Create the file if it is missing. On an existing file the stored attributes are kept, except the ones given
   * here, which overwrite them.
   */
  readonly create?: {
    readonly visibilityTimeoutSeconds?: number;
    readonly maxReceiveCount?: number;
  };
  /** Epoch milliseconds; injected so tests can move time without sleeping. Long polls still wait in real time. */
  readonly clock?: () => number;
}

export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  /** Epoch milliseconds at which the message moved to the dead-letter queue. */
  readonly diedAt: number;
  readonly attributes: Readonly<Record<string, string>>;
}

const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;
const DEFAULT_MAX_RECEIVE_COUNT = 5;
const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
const MAX_DELAY_SECONDS = 900;
const MAX_WAIT_SECONDS = 20;
const MAX_MESSAGES_PER_RECEIVE = 10;
const MAX_MESSAGE_ATTRIBUTES = 10;
const POLL_INTERVAL_MS = 50;
/** Long enough to ride out another process's write transaction, which lasts milliseconds. */
const BUSY_TIMEOUT_MS = 10_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS queue_attributes (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt_handle TEXT UNIQUE,
    attributes TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (visible_at, seq);
  CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    died_at INTEGER NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
  );
`;

interface MessageRow {
  readonly seq: number;
  readonly message_id: string;
  readonly body: string;
  readonly receive_count: number;
  readonly attributes: string;
}

interface DeadLetterRow {
  readonly message_id: string;
  readonly body: string;
  readonly receive_count: number;
  readonly died_at: number;
  readonly attributes: string;
}

export class LocalQueue implements Queue {
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private closed = false;

  private readonly statements: {
    readonly insert: Database.Statement<[string, string, number, number, string]>;
    readonly insertDeadLetter: Database.Statement<[string, string, number, number, number, string]>;
    readonly anyVisible: Database.Statement<[number]>;
    readonly visibleBatch: Database.Statement<[number, number]>;
    readonly markReceived: Database.Statement<[string, number, number]>;
    readonly moveToDeadLetters: Database.Statement<[number, number]>;
    readonly deleteBySeq: Database.Statement<[number]>;
    readonly deleteByHandle: Database.Statement<[string]>;
    readonly changeVisibility: Database.Statement<[number, string, number]>;
    readonly depth: Database.Statement<[number, number, number]>;
    readonly dlqDepth: Database.Statement<[]>;
    readonly peekDeadLetters: Database.Statement<[number]>;
    readonly readAttributes: Database.Statement<[]>;
  };

  private constructor(db: Database.Database, clock: () => number) {
    this.db = db;
    this.clock = clock;
    this.statements = {
      insert: db.prepare('INSERT INTO messages (message_id, body, sent_at, visible_at, attributes) VALUES (?, ?, ?, ?, ?)'),
      insertDeadLetter: db.prepare(
        'INSERT INTO dead_letters (message_id, body, sent_at, receive_count, died_at, attributes) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      anyVisible: db.prepare('SELECT 1 FROM messages WHERE visible_at <= ? LIMIT 1'),
      visibleBatch: db.prepare(
        'SELECT seq, message_id, body, receive_count, attributes FROM messages WHERE visible_at <= ? ORDER BY visible_at, seq LIMIT ?',
      ),
      markReceived: db.prepare(
        'UPDATE messages SET receipt_handle = ?, visible_at = ?, receive_count = receive_count + 1 WHERE seq = ?',
      ),
      moveToDeadLetters: db.prepare(
        `INSERT INTO dead_letters (message_id, body, sent_at, receive_count, died_at, attributes)
         SELECT message_id, body, sent_at, receive_count, ?, attributes FROM messages WHERE seq = ?`,
      ),
      deleteBySeq: db.prepare('DELETE FROM messages WHERE seq = ?'),
      deleteByHandle: db.prepare('DELETE FROM messages WHERE receipt_handle = ?'),
      // Only an in-flight message can change visibility (SQS answers MessageNotInflight otherwise).
      changeVisibility: db.prepare('UPDATE messages SET visible_at = ? WHERE receipt_handle = ? AND visible_at > ?'),
      depth: db.prepare(
        `SELECT
           COALESCE(SUM(visible_at <= ?), 0) AS visible,
           COALESCE(SUM(visible_at > ? AND receive_count > 0), 0) AS inFlight,
           COALESCE(SUM(visible_at > ? AND receive_count = 0), 0) AS delayed
         FROM messages`,
      ),
      dlqDepth: db.prepare('SELECT COUNT(*) AS count FROM dead_letters'),
      peekDeadLetters: db.prepare(
        'SELECT message_id, body, receive_count, died_at, attributes FROM dead_letters ORDER BY seq LIMIT ?',
      ),
      readAttributes: db.prepare('SELECT name, value FROM queue_attributes'),
    };
  }

  /**
   * Opens the queue file. Without `create`, a missing file is an error naming the path, so a typo in a queue
   * location never silently starts an empty queue.
   */
  static open(path: string, options: LocalQueueOpenOptions = {}): LocalQueue {
    const { create } = options;
    if (create !== undefined) {
      validateInteger('visibilityTimeoutSeconds', create.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
      validateInteger('maxReceiveCount', create.maxReceiveCount, 1, 1000);
    } else if (!existsSync(path)) {
      throw new Error(`Local queue file not found: ${path}. Create the queue first (LocalQueue.open(path, { create: {} })).`);
    }
    const db = new Database(path, { fileMustExist: create === undefined });
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      // In WAL mode with synchronous=NORMAL a commit is complete once its frames are written to the WAL file; the
      // fsync is deferred to checkpoints. A killed process (kill -9, OOM) cannot lose what the OS already holds, so
      // every acknowledged send, receive and delete survives; only an OS crash or power loss could drop the last
      // commits, which is acceptable for a local stand-in and far cheaper than FULL.
      db.pragma('synchronous = NORMAL');
      if (create !== undefined) initialise(db, create, (options.clock ?? Date.now)());
      else if (!hasSchema(db)) throw new Error(`Not a local queue file (no queue_attributes table): ${path}`);
      addAttributeColumns(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new LocalQueue(db, options.clock ?? Date.now);
  }

  get maxReceiveCount(): number {
    return this.attributes().maxReceiveCount;
  }

  attributes(): LocalQueueAttributes {
    const values = new Map(
      (this.statements.readAttributes.all() as { name: string; value: number }[]).map((row) => [row.name, row.value]),
    );
    return {
      visibilityTimeoutSeconds: values.get('visibilityTimeoutSeconds') ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: values.get('maxReceiveCount') ?? DEFAULT_MAX_RECEIVE_COUNT,
      createdAt: values.get('createdAt') ?? 0,
    };
  }

  /** Returns the new message's id. */
  async send(body: string, options: SendOptions = {}): Promise<string> {
    return this.insertAll([body], options)[0];
  }

  async sendToDeadLetterQueue(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    this.assertOpen();
    const now = this.clock();
    this.statements.insertDeadLetter.run(randomUUID(), body, now, 0, now, encodeAttributes(attributes));
  }

  /** Sends any number of bodies in one transaction (all or none); returns their ids in order. */
  async sendBatch(bodies: readonly string[], options: SendOptions = {}): Promise<string[]> {
    return this.insertAll(bodies, options);
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    validateInteger('maxMessages', options.maxMessages, 1, MAX_MESSAGES_PER_RECEIVE);
    validateNumber('waitSeconds', options.waitSeconds, 0, MAX_WAIT_SECONDS);
    validateInteger('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
    const deadline = performance.now() + options.waitSeconds * 1000;
    for (;;) {
      if (options.signal?.aborted) return [];
      const received = this.receiveNow(options.maxMessages, options.visibilityTimeoutSeconds);
      if (received.length > 0) return received;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return [];
      await abortableSleep(Math.min(POLL_INTERVAL_MS, remaining), options.signal);
    }
  }

  async deleteMessages(receiptHandles: readonly string[]): Promise<BatchFailure[]> {
    this.assertOpen();
    const failures: BatchFailure[] = [];
    this.db.transaction(() => {
      for (const receiptHandle of receiptHandles) {
        // A handle from an earlier receive no longer matches once the message was received again, as in SQS.
        if (this.statements.deleteByHandle.run(receiptHandle).changes === 0) {
          failures.push({ receiptHandle, reason: 'ReceiptHandleIsInvalid: no message with this receipt handle' });
        }
      }
    }).immediate();
    return failures;
  }

  async changeVisibility(changes: readonly VisibilityChange[]): Promise<BatchFailure[]> {
    this.assertOpen();
    const failures: BatchFailure[] = [];
    this.db.transaction(() => {
      const now = this.clock();
      for (const { receiptHandle, timeoutSeconds } of changes) {
        if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_VISIBILITY_TIMEOUT_SECONDS) {
          failures.push({ receiptHandle, reason: `InvalidParameterValue: timeoutSeconds must be 0..${MAX_VISIBILITY_TIMEOUT_SECONDS}` });
        } else if (this.statements.changeVisibility.run(now + timeoutSeconds * 1000, receiptHandle, now).changes === 0) {
          failures.push({ receiptHandle, reason: 'MessageNotInflight: no in-flight message with this receipt handle' });
        }
      }
    }).immediate();
    return failures;
  }

  async depth(): Promise<QueueDepth> {
    this.assertOpen();
    const now = this.clock();
    return this.statements.depth.get(now, now, now) as QueueDepth;
  }

  async dlqDepth(): Promise<number> {
    this.assertOpen();
    return (this.statements.dlqDepth.get() as { count: number }).count;
  }

  /** The oldest dead letters first. */
  async peekDeadLetters(limit = 100): Promise<DeadLetter[]> {
    this.assertOpen();
    return (this.statements.peekDeadLetters.all(limit) as DeadLetterRow[]).map((row) => ({
      messageId: row.message_id,
      body: row.body,
      receiveCount: row.receive_count,
      diedAt: row.died_at,
      attributes: decodeAttributes(row.attributes),
    }));
  }

  /** Moves every dead letter back to the queue, visible at once with its receive count reset; returns how many. */
  async redriveDeadLetters(): Promise<number> {
    this.assertOpen();
    return this.db.transaction(() => {
      const moved = this.db
        .prepare(
          `INSERT INTO messages (message_id, body, sent_at, visible_at, receive_count, attributes)
           SELECT message_id, body, sent_at, ?, 0, attributes FROM dead_letters ORDER BY seq`,
        )
        .run(this.clock()).changes;
      this.db.prepare('DELETE FROM dead_letters').run();
      return moved;
    }).immediate();
  }

  /** Deletes every message in the queue (not the dead-letter queue, which SQS purges separately). */
  async purge(): Promise<number> {
    this.assertOpen();
    return this.db.prepare('DELETE FROM messages').run().changes;
  }

  async purgeDeadLetters(): Promise<number> {
    this.assertOpen();
    return this.db.prepare('DELETE FROM dead_letters').run().changes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private insertAll(bodies: readonly string[], options: SendOptions): string[] {
    this.assertOpen();
    validateInteger('delaySeconds', options.delaySeconds, 0, MAX_DELAY_SECONDS);
    const attributes = encodeAttributes(options.attributes ?? {});
    return this.db.transaction(() => {
      const now = this.clock();
      const visibleAt = now + (options.delaySeconds ?? 0) * 1000;
      return bodies.map((body) => {
        const messageId = randomUUID();
        this.statements.insert.run(messageId, body, now, visibleAt, attributes);
        return messageId;
      });
    }).immediate();
  }

  /**
   * One receive attempt. A cheap read first keeps idle pollers off the write lock; the claim itself runs in an
   * IMMEDIATE transaction, which takes the write lock before reading, so two processes can never claim one message.
   */
  private receiveNow(maxMessages: number, visibilityTimeoutSeconds: number | undefined): ReceivedMessage[] {
    this.assertOpen();
    if (this.statements.anyVisible.get(this.clock()) === undefined) return [];
    return this.db.transaction(() => {
      const now = this.clock();
      const attributes = this.attributes();
      const visibleAt = now + (visibilityTimeoutSeconds ?? attributes.visibilityTimeoutSeconds) * 1000;
      const received: ReceivedMessage[] = [];
      // Like SQS, a message moves to the DLQ when it would be received once more than maxReceiveCount allows.
      // Moving it frees its slot, so look again until the batch is full or nothing visible is left.
      for (;;) {
        const candidates = this.statements.visibleBatch.all(now, maxMessages - received.length) as MessageRow[];
        let movedAny = false;
        for (const row of candidates) {
          if (row.receive_count >= attributes.maxReceiveCount) {
            this.statements.moveToDeadLetters.run(now, row.seq);
            this.statements.deleteBySeq.run(row.seq);
            movedAny = true;
            continue;
          }
          const receiptHandle = `${row.message_id}#${randomUUID()}`;
          this.statements.markReceived.run(receiptHandle, visibleAt, row.seq);
          received.push({
            messageId: row.message_id,
            receiptHandle,
            body: row.body,
            receiveCount: row.receive_count + 1,
            attributes: decodeAttributes(row.attributes),
          });
        }
        if (!movedAny || received.length >= maxMessages) return received;
      }
    }).immediate();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('LocalQueue is closed');
  }
}

function initialise(db: Database.Database, create: NonNullable<LocalQueueOpenOptions['create']>, now: number): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const keep = db.prepare('INSERT OR IGNORE INTO queue_attributes (name, value) VALUES (?, ?)');
    const overwrite = db.prepare('INSERT OR REPLACE INTO queue_attributes (name, value) VALUES (?, ?)');
    keep.run('createdAt', now);
    if (create.visibilityTimeoutSeconds !== undefined) overwrite.run('visibilityTimeoutSeconds', create.visibilityTimeoutSeconds);
    else keep.run('visibilityTimeoutSeconds', DEFAULT_VISIBILITY_TIMEOUT_SECONDS);
    if (create.maxReceiveCount !== undefined) overwrite.run('maxReceiveCount', create.maxReceiveCount);
    else keep.run('maxReceiveCount', DEFAULT_MAX_RECEIVE_COUNT);
  }).immediate();
}

/** Queue files made before message attributes existed gain the columns, so a rerun keeps its messages. */
function addAttributeColumns(db: Database.Database): void {
  // IMMEDIATE: several workers may open an old file at once, and only one of them may add the column.
  db.transaction(() => {
    for (const table of ['messages', 'dead_letters']) {
      const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      if (!columns.some((column) => column.name === 'attributes')) {
        db.exec(`ALTER TABLE ${table} ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'`);
      }
    }
  }).immediate();
}

function encodeAttributes(attributes: Readonly<Record<string, string>>): string {
  const names = Object.keys(attributes);
  if (names.length > MAX_MESSAGE_ATTRIBUTES) throw new RangeError(`a message may carry at most ${MAX_MESSAGE_ATTRIBUTES} attributes, got ${names.length}`);
  return JSON.stringify(attributes);
}

function decodeAttributes(text: string): Record<string, string> {
  return JSON.parse(text) as Record<string, string>;
}

function hasSchema(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue_attributes'").get() !== undefined;
}

function validateInteger(name: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function validateNumber(name: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number from ${min} to ${max}, got ${value}`);
  }
}
