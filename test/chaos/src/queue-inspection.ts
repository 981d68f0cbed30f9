import Database from 'better-sqlite3';

export interface HandedBack {
  readonly messageId: string;
  /** The receive count of the delivery the worker handed back. */
  readonly receiveCount: number;
}

/**
 * Which handed-back messages the local queue still hides: neither visible, nor received again, nor finished. The
 * queue's API has no per-message lookup (SQS has none either), so this reads the queue file directly, read-only, the
 * one place the suite depends on LocalQueue's table layout.
 */
export function stillInvisible(queuePath: string, handedBack: readonly HandedBack[], now = Date.now()): string[] {
  if (handedBack.length === 0) return [];
  const db = new Database(queuePath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT visible_at AS visibleAt, receive_count AS receiveCount FROM messages WHERE message_id = ?');
    return handedBack
      .filter(({ messageId, receiveCount }) => {
        const found = row.get(messageId) as { visibleAt: number; receiveCount: number } | undefined;
        // Gone (deleted or dead-lettered) or received again: another worker took it, so it was visible.
        return found !== undefined && found.receiveCount <= receiveCount && found.visibleAt > now;
      })
      .map(({ messageId }) => messageId);
  } finally {
    db.close();
  }
}

/** A message a queue was sent, as the audit trigger recorded it. */
export interface SentMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
}

/**
 * Makes the queue file remember every message ever sent to it (a trigger on the messages table into a table of its
 * own): a delivered message is deleted, so without it "how many batch messages did this family's queue receive for
 * the run" could not be answered afterwards. The trigger is part of the file, so it fires for every process that
 * sends, the workers included. Idempotent.
 */
export function auditSends(queuePath: string): void {
  const db = new Database(queuePath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS chaos_sent (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL);
      CREATE TRIGGER IF NOT EXISTS chaos_audit_sent AFTER INSERT ON messages BEGIN
        INSERT INTO chaos_sent (message_id, body, sent_at) VALUES (NEW.message_id, NEW.body, NEW.sent_at);
      END;
    `);
  } finally {
    db.close();
  }
}

/** Every message sent to the queue since `auditSends`, oldest first. */
export function sentMessages(queuePath: string): SentMessage[] {
  const db = new Database(queuePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT message_id AS messageId, body, sent_at AS sentAt FROM chaos_sent ORDER BY seq').all() as SentMessage[]);
  } finally {
    db.close();
  }
}

/** The messages still in the queue (visible, in flight or delayed), with their receive counts. */
export function messagesLeft(queuePath: string): { messageId: string; body: string; receiveCount: number }[] {
  const db = new Database(queuePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT message_id AS messageId, body, receive_count AS receiveCount FROM messages ORDER BY seq').all() as { messageId: string; body: string; receiveCount: number }[];
  } finally {
    db.close();
  }
}
