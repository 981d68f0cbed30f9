/**
 * Sends messages to other pipelines' queues (a fan-out's batches to each family, a family's aggregation request).
 * Adapters: SQS (SendMessageBatch) and the local queue files; `openMessageSender` picks by the URL's form.
 */
export interface MessageSender {
  /**
   * Puts every body on the queue. Resolves once all are accepted; throws (a TransientError) when some could not be,
   * after which a retry may send the others twice: receivers must be idempotent, as SQS's delivery requires anyway.
   */
  sendAll(queueUrl: string, bodies: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
