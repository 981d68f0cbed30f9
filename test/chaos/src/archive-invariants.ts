/**
 * The invariants of an archive-split chaos run, checked over what it left: the callbacks on the callback queue, the
 * work queue and its DLQ, every object under OUTPUT_PREFIX (each batch ZIP read back and tested), the writes the lane
 * proxies saw completed per part, and what the workers left on disk. Pure, so each invariant is unit-tested by breaking
 * it on purpose (test/chaos/test/archive-invariants.test.ts).
 */

/** What an upload must end as: a split with a success callback, or a failure callback and a dead letter with this reason. */
export type ExportExpectation = 'success' | 'not-an-archive' | 'manifest-missing';

/** The generator's truth about one upload and its request. */
export interface ExportTruth {
  readonly downloadId: string;
  /** The request's `file` (the archive's name). */
  readonly file: string;
  /** The file name without its extension: batch ZIPs and markers are named after it. */
  readonly stem: string;
  readonly expect: ExportExpectation;
  /** A good export's manifest header. */
  readonly header?: readonly string[];
  /** A good export's manifest rows, in manifest order. */
  readonly rows?: readonly TruthRow[];
}

export interface TruthRow {
  readonly values: readonly string[];
  /** The row's image value: the name its file must have in the batch ZIP. */
  readonly image: string;
  /** sha256 (hex) of the image's bytes; absent for a row whose image the export lacks (or names a path outside it). */
  readonly sha256?: string;
}

/** A batch ZIP as the run read it back from S3. */
export interface BatchZipFound {
  readonly key: string;
  /** What `unzip -t` said when it did not pass; absent when it passed. */
  readonly unzipError?: string;
  /** Every entry, in ZIP order, with the sha256 of its bytes. */
  readonly entries: readonly { readonly name: string; readonly sha256: string }[];
  /** manifest.csv's records, header first; absent when the ZIP has none or it is not CSV. */
  readonly manifest?: readonly (readonly string[])[];
  /** problems.csv's records, header first (`kind,row,image,entry,detail`). */
  readonly problems?: readonly (readonly string[])[];
}

export interface DeadLetterFound {
  readonly messageId: string;
  readonly body: string;
  readonly reasons: readonly string[];
}

/** Per batch key: uploads the store completed (PutObject or CompleteMultipartUpload answered 2xx), and distinct bodies. */
export interface PartWrites {
  readonly completed: number;
  readonly distinctBodies: number;
}

export interface ArchiveInvariantInput {
  readonly exports: readonly ExportTruth[];
  readonly batchSize: number;
  readonly outputPrefix: string;
  /** Every message on the callback queue, as sent. */
  readonly callbacks: readonly string[];
  readonly deadLetters: readonly DeadLetterFound[];
  /** Messages still in the work queue. */
  readonly left: readonly { readonly messageId: string; readonly body: string }[];
  /** Every key under OUTPUT_PREFIX. */
  readonly outputKeys: readonly string[];
  /** The batch ZIPs read back, by key (every key that looks like a part). */
  readonly batchZips: ReadonlyMap<string, BatchZipFound>;
  readonly partWrites: ReadonlyMap<string, PartWrites>;
  /** The worker process directories (`<pid>-<random>`) left under WORK_DIR once every worker had exited. */
  readonly workDirs: readonly WorkDirFound[];
  /** Anything else left under WORK_DIR or the workers' TMPDIR. */
  readonly strays: readonly string[];
  /** When the last worker of the run started (epoch ms): every worker start sweeps the directories of dead ones. */
  readonly lastWorkerStartAt: number;
  /**
   * The TAR path's disk use against DISK_BUDGET_MIB: the most any pass said it held spilled (`archive pass` lines), and
   * the most the run saw on disk in one worker's directory at once (sampled).
   */
  readonly disk: { readonly budgetBytes: number; readonly loggedHighWaterBytes: number; readonly observedHighWaterBytes: number };
  readonly unfinished?: string;
}

/** A worker process's directory under WORK_DIR, as found once every worker had exited. */
export interface WorkDirFound {
  readonly path: string;
  /** What is in it (message directories, spilled entries), relative paths; empty for a worker that cleaned up. */
  readonly contents: readonly string[];
  /** Whether its pid is one of the run's workers. */
  readonly known: boolean;
  /** When the run SIGKILLed its worker; absent for one that exited on its own. */
  readonly killedAt?: number;
}

export interface ArchiveInvariantCounts {
  readonly exports: number;
  readonly good: number;
  readonly broken: number;
  /** Good exports with a success callback. */
  readonly succeeded: number;
  /** Uploads with a failure callback and a dead letter. */
  readonly failedAndDeadLettered: number;
  readonly deadLetters: number;
  readonly lost: number;
  readonly callbacks: number;
  /** Uploads whose callback was sent twice (a kill between the send and the marker). */
  readonly callbacksTwice: number;
  readonly partsExpected: number;
  readonly partsChecked: number;
  readonly rowsChecked: number;
  readonly imagesChecked: number;
  /** Part keys whose upload the store completed more than once. */
  readonly finishedPartsRebuilt: number;
  readonly partUploadsCompleted: number;
  /** Empty process directories of workers that exited on their own (the job never removes its own at exit). */
  readonly emptyProcessDirs: number;
  /** Directories of killed workers no later worker start could sweep (on Fargate the task's disk goes with it). */
  readonly awaitingSweep: number;
}

export interface ArchiveInvariantReport {
  readonly violations: string[];
  readonly counts: ArchiveInvariantCounts;
}

interface CallbackBody {
  readonly downloadId: string;
  readonly status: string;
  readonly batchFiles: readonly string[];
  readonly batchFileCount: number;
  readonly rows: number;
  readonly images: number;
  readonly problemCount: number;
  readonly deduplicationId: string;
  readonly reason?: string;
}

const MANIFEST = 'manifest.csv';
const PROBLEMS = 'problems.csv';
/** Problems a row whose image is absent may have: not in the archive, or named outside it. */
const ABSENT_KINDS = new Set(['missing-file', 'unsafe-path']);
/** A kill between the send and the marker repeats a callback once; more is a bug. */
const MAX_CALLBACKS = 2;
const SHOWN = 5;

export function expectedPartKeys(truth: ExportTruth, batchSize: number, outputPrefix: string): string[] {
  const rows = truth.rows?.length ?? 0;
  return Array.from({ length: Math.ceil(rows / batchSize) }, (_, i) => `${outputPrefix}${truth.stem}-part${i + 1}.zip`);
}

export function markerKey(outputPrefix: string, stem: string, status: string, deduplicationId: string): string {
  return `${outputPrefix}${stem}.callback-${status}-${deduplicationId.slice(0, 32)}.json`;
}

export function checkArchiveInvariants(input: ArchiveInvariantInput): ArchiveInvariantReport {
  const violations: string[] = [];
  const problem = (text: string) => violations.push(text);
  if (input.unfinished !== undefined) problem(`the run did not finish: ${input.unfinished}`);
  const byId = new Map(input.exports.map((truth) => [truth.downloadId, truth]));
  const outputKeys = new Set(input.outputKeys);

  const callbacksOf = new Map<string, CallbackBody[]>();
  for (const body of input.callbacks) {
    const callback = parseCallback(body);
    if (callback === undefined) {
      problem(`the callback queue holds a message that is no callback: ${body.slice(0, 80)}`);
      continue;
    }
    if (!byId.has(callback.downloadId)) {
      problem(`a callback names download ${JSON.stringify(callback.downloadId.slice(0, 80))}, which no request asked for`);
      continue;
    }
    callbacksOf.set(callback.downloadId, [...(callbacksOf.get(callback.downloadId) ?? []), callback]);
  }
  const lettersOf = new Map<string, DeadLetterFound[]>();
  for (const letter of input.deadLetters) {
    const downloadId = downloadIdOf(letter.body);
    if (downloadId === undefined || !byId.has(downloadId)) {
      problem(`the DLQ holds message ${letter.messageId}, which is no request's (${letter.reasons.join(',') || 'no reason'})`);
      continue;
    }
    lettersOf.set(downloadId, [...(lettersOf.get(downloadId) ?? []), letter]);
  }

  let lost = 0;
  let succeeded = 0;
  let failedAndDeadLettered = 0;
  let callbacksTwice = 0;
  let partsExpected = 0;
  let partsChecked = 0;
  let rowsChecked = 0;
  let imagesChecked = 0;
  /** Keys an export accounts for: its parts and its markers. */
  const accounted = new Set<string>();
  for (const truth of input.exports) {
    const name = `${truth.expect === 'success' ? 'export' : `broken upload (${truth.expect})`} ${truth.file} (${truth.downloadId})`;
    const callbacks = callbacksOf.get(truth.downloadId) ?? [];
    const successes = callbacks.filter((callback) => callback.status === 'success');
    const failures = callbacks.filter((callback) => callback.status === 'failure');
    const letters = lettersOf.get(truth.downloadId) ?? [];
    if (successes.length === 0 && !(letters.length > 0 && failures.length > 0)) {
      lost++;
      problem(`${name}: lost (${successes.length} success and ${failures.length} failure callbacks, ${letters.length} dead letters)`);
    }
    if (successes.length > 0 && letters.length > 0) problem(`${name}: called back as a success, yet its message is in the DLQ (${letters.map((letter) => letter.reasons.join(',') || 'redrive').join('; ')})`);
    if (successes.length > 0 && failures.length > 0) problem(`${name}: both a success and a failure callback (${failures[0]!.reason ?? 'no reason'})`);
    for (const [status, sent] of [['success', successes], ['failure', failures]] as const) {
      if (sent.length > MAX_CALLBACKS) problem(`${name}: ${sent.length} ${status} callbacks, at most ${MAX_CALLBACKS} allowed`);
      const ids = new Set(sent.map((callback) => callback.deduplicationId));
      if (ids.size > 1) problem(`${name}: its ${status} callbacks carry ${ids.size} different deduplication ids`);
      for (const id of ids) {
        const marker = markerKey(input.outputPrefix, truth.stem, status, id);
        accounted.add(marker);
        if (!outputKeys.has(marker)) problem(`${name}: no marker ${marker} for its ${status} callback`);
      }
    }
    if (callbacks.length > 1) callbacksTwice++;

    const partKeys = expectedPartKeys(truth, input.batchSize, input.outputPrefix);
    for (const key of partKeys) accounted.add(key);
    const partPattern = new RegExp(`^${escapeRegExp(`${input.outputPrefix}${truth.stem}-part`)}(\\d+)\\.zip$`);
    const extra = input.outputKeys.filter((key) => partPattern.test(key) && !partKeys.includes(key));
    for (const key of extra) {
      accounted.add(key);
      problem(`${name}: an extra batch ZIP ${key} (${partKeys.length} expected)`);
    }

    if (truth.expect !== 'success') {
      if (successes.length > 0) problem(`${name}: a success callback for an upload that is no export`);
      if (failures.length === 0) problem(`${name}: no failure callback`);
      if (letters.length === 0) problem(`${name}: its message is not in the DLQ`);
      for (const letter of letters) if (!letter.reasons.includes(truth.expect)) problem(`${name}: dead-lettered for ${letter.reasons.join(',') || 'no reason (redrive)'}, expected ${truth.expect}`);
      if (failures.length > 0 && letters.length > 0) failedAndDeadLettered++;
      continue;
    }

    if (failures.length > 0) problem(`${name}: a failure callback (${failures[0]!.reason ?? 'no reason'})`);
    if (successes.length === 0) continue;
    succeeded++;
    const rows = truth.rows ?? [];
    const present = rows.filter((row) => row.sha256 !== undefined);
    const callback = successes[0]!;
    const claimed = { batchFiles: callback.batchFiles.join(','), batchFileCount: callback.batchFileCount, rows: callback.rows, images: callback.images, problemCount: callback.problemCount };
    const truthful = { batchFiles: partKeys.join(','), batchFileCount: partKeys.length, rows: rows.length, images: present.length, problemCount: rows.length - present.length };
    for (const field of Object.keys(truthful) as (keyof typeof truthful)[]) {
      if (claimed[field] !== truthful[field]) problem(`${name}: its callback says ${field} ${shorten(String(claimed[field]))}, the export has ${shorten(String(truthful[field]))}`);
    }

    partsExpected += partKeys.length;
    partKeys.forEach((key, index) => {
      const zip = input.batchZips.get(key);
      if (!outputKeys.has(key) || zip === undefined) {
        problem(`${name}: its batch ZIP ${key} does not exist`);
        return;
      }
      partsChecked++;
      const slice = rows.slice(index * input.batchSize, (index + 1) * input.batchSize);
      const firstRow = index * input.batchSize + 1;
      const checked = checkBatchZip(zip, truth.header ?? [], slice, firstRow);
      rowsChecked += checked.rows;
      imagesChecked += checked.images;
      for (const text of checked.violations) problem(`${key}: ${text}`);
    });
  }

  for (const message of input.left) problem(`the work queue still holds message ${message.messageId} (download ${downloadIdOf(message.body) ?? '?'})`);
  for (const key of input.outputKeys) if (!accounted.has(key)) problem(`an object no export accounts for under the output prefix: ${key}`);
  let finishedPartsRebuilt = 0;
  let partUploadsCompleted = 0;
  for (const [key, writes] of input.partWrites) {
    partUploadsCompleted += writes.completed;
    if (writes.completed > 1) {
      finishedPartsRebuilt++;
      problem(`${key} was uploaded whole ${writes.completed} times: a finished part was rebuilt, not kept`);
    }
    if (writes.distinctBodies > 1) problem(`${key} was written with ${writes.distinctBodies} different bodies: the same plan must give the same bytes`);
  }
  let emptyProcessDirs = 0;
  let awaitingSweep = 0;
  for (const dir of input.workDirs) {
    const inside = dir.contents.length === 0 ? 'empty' : `holding ${list(dir.contents)}`;
    if (!dir.known) problem(`a directory under WORK_DIR of no worker of the run (${inside}): ${dir.path}`);
    else if (dir.killedAt === undefined && dir.contents.length > 0) problem(`a worker that exited on its own left its work behind: ${dir.path} ${inside}`);
    else if (dir.killedAt !== undefined && input.lastWorkerStartAt > dir.killedAt) problem(`a killed worker's directory was not swept by the workers started after the kill: ${dir.path} (${inside})`);
    else if (dir.killedAt !== undefined) awaitingSweep++;
    else emptyProcessDirs++;
  }
  for (const path of input.strays) problem(`left on disk after every worker exited: ${path}`);
  const { budgetBytes, loggedHighWaterBytes, observedHighWaterBytes } = input.disk;
  if (loggedHighWaterBytes > budgetBytes) problem(`a TAR pass spilled ${loggedHighWaterBytes} bytes, over DISK_BUDGET_MIB (${budgetBytes} bytes)`);
  if (observedHighWaterBytes > budgetBytes) problem(`one worker's directory held ${observedHighWaterBytes} bytes at once, over DISK_BUDGET_MIB (${budgetBytes} bytes)`);

  return {
    violations,
    counts: {
      exports: input.exports.length,
      good: input.exports.filter((truth) => truth.expect === 'success').length,
      broken: input.exports.filter((truth) => truth.expect !== 'success').length,
      succeeded,
      failedAndDeadLettered,
      deadLetters: input.deadLetters.length,
      lost,
      callbacks: input.callbacks.length,
      callbacksTwice,
      partsExpected,
      partsChecked,
      rowsChecked,
      imagesChecked,
      finishedPartsRebuilt,
      partUploadsCompleted,
      emptyProcessDirs,
      awaitingSweep,
    },
  };
}

/** One batch ZIP against its slice of the truth: `unzip -t`, exactly its rows, exactly its images byte for byte, its problems. */
export function checkBatchZip(zip: BatchZipFound, header: readonly string[], slice: readonly TruthRow[], firstRow: number): { violations: string[]; rows: number; images: number } {
  const violations: string[] = [];
  if (zip.unzipError !== undefined) violations.push(`unzip -t fails: ${shorten(zip.unzipError)}`);

  if (zip.manifest === undefined) {
    violations.push(`no readable ${MANIFEST}`);
  } else {
    const [got, ...records] = zip.manifest;
    if (!sameRecord(got ?? [], header)) violations.push(`${MANIFEST} header is ${shorten(JSON.stringify(got ?? []))}, expected ${shorten(JSON.stringify(header))}`);
    if (records.length !== slice.length) violations.push(`${MANIFEST} holds ${records.length} rows, expected ${slice.length}`);
    const wrong = slice.map((_row, i) => i).filter((i) => records[i] !== undefined && !sameRecord(records[i]!, slice[i]!.values));
    if (wrong.length > 0) {
      violations.push(`${MANIFEST} rows differ from the export's at ${wrong.length} places, first row ${firstRow + wrong[0]!}: ${shorten(JSON.stringify(records[wrong[0]!]))} instead of ${shorten(JSON.stringify(slice[wrong[0]!]!.values))}`);
    }
  }

  const expected = new Map(slice.filter((row) => row.sha256 !== undefined).map((row) => [row.image, row.sha256!]));
  const names = zip.entries.map((entry) => entry.name);
  const twice = names.filter((entryName, i) => names.indexOf(entryName) !== i);
  if (twice.length > 0) violations.push(`entries stored twice: ${list(twice)}`);
  const extra = names.filter((entryName) => entryName !== MANIFEST && entryName !== PROBLEMS && !expected.has(entryName));
  if (extra.length > 0) violations.push(`${extra.length} entries the batch's rows do not name: ${list(extra)}`);
  const missing = [...expected.keys()].filter((image) => !names.includes(image));
  if (missing.length > 0) violations.push(`${missing.length} of its rows' images missing: ${list(missing)}`);
  if (!names.includes(PROBLEMS)) violations.push(`no ${PROBLEMS}`);
  else if (zip.problems === undefined) violations.push(`${PROBLEMS} is not CSV`);
  let images = 0;
  const corrupt: string[] = [];
  for (const entry of zip.entries) {
    const sha = expected.get(entry.name);
    if (sha === undefined) continue;
    images++;
    if (entry.sha256 !== sha) corrupt.push(entry.name);
  }
  if (corrupt.length > 0) violations.push(`${corrupt.length} images whose bytes are not the export's: ${list(corrupt)}`);

  if (zip.problems !== undefined) {
    const absent = slice.map((row, i) => (row.sha256 === undefined ? String(firstRow + i) : undefined)).filter((row): row is string => row !== undefined);
    const reported = zip.problems.slice(1).filter((record) => ABSENT_KINDS.has(record[0] ?? '')).map((record) => record[1] ?? '');
    const unreported = absent.filter((row) => !reported.includes(row));
    const wrongly = reported.filter((row) => !absent.includes(row));
    if (unreported.length > 0) violations.push(`${PROBLEMS} does not name ${unreported.length} rows whose image the export lacks: rows ${list(unreported)}`);
    if (wrongly.length > 0) violations.push(`${PROBLEMS} names ${wrongly.length} rows whose image the export has: rows ${list(wrongly)}`);
    const others = zip.problems.slice(1).filter((record) => !ABSENT_KINDS.has(record[0] ?? ''));
    if (others.length > 0) violations.push(`${PROBLEMS} lists ${others.length} problems the export does not have: ${list(others.map((record) => `${record[0]} row ${record[1]}`))}`);
  }
  return { violations, rows: zip.manifest === undefined ? 0 : Math.max(0, zip.manifest.length - 1), images };
}

export function parseCallback(body: string): CallbackBody | undefined {
  try {
    const parsed = JSON.parse(body) as Partial<CallbackBody>;
    if (typeof parsed.downloadId !== 'string' || typeof parsed.status !== 'string' || typeof parsed.deduplicationId !== 'string') return undefined;
    return {
      downloadId: parsed.downloadId, status: parsed.status, deduplicationId: parsed.deduplicationId,
      batchFiles: Array.isArray(parsed.batchFiles) ? parsed.batchFiles.map(String) : [],
      batchFileCount: Number(parsed.batchFileCount), rows: Number(parsed.rows), images: Number(parsed.images), problemCount: Number(parsed.problemCount),
      ...(typeof parsed.reason === 'string' ? { reason: parsed.reason } : {}),
    };
  } catch {
    return undefined;
  }
}

/** A request message's downloadId. */
export function downloadIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { downloadId?: unknown };
    return typeof parsed.downloadId === 'string' ? parsed.downloadId : undefined;
  } catch {
    return undefined;
  }
}

function sameRecord(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function list(items: readonly string[]): string {
  return `${items.slice(0, SHOWN).join(', ')}${items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ''}`;
}

function shorten(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)}…`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
