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
