/**
 * The object written beside the batch ZIPs once a callback has been sent: a redelivery that finds it sends nothing
 * again. Named after the archive and the outcome, so whoever lists the output prefix sees which archives were
 * answered, and how.
 */
export function callbackMarkerPrefix(outputPrefix: string, stem: string, status: 'success' | 'failure'): string {
  return `${outputPrefix}${stem}.callback-${status}-`;
}

/** `{OUTPUT_PREFIX}{stem}.callback-{status}-{first 32 of the deduplication id}.json`. */
export function callbackMarkerKey(outputPrefix: string, stem: string, status: 'success' | 'failure', deduplicationId: string): string {
  return `${callbackMarkerPrefix(outputPrefix, stem, status)}${deduplicationId.slice(0, 32)}.json`;
}
