import { createWriteStream, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { pack } from 'tar-stream';
import { ZipFile } from 'yazl';
import { manifestCsv, type ManifestRow } from './manifest';

/**
 * The demo's citizen-science exports, generated (never downloaded): a ZIP of a few thousand small photos and a
 * manifest whose captions need CSV quoting, with rows naming files the export lacks and one naming a path outside it;
 * a smaller TAR.GZ stored in shuffled order, so its batches need the spill to disk; and two uploads that are no export
 * at all, each ending in a failure callback and the DLQ.
 */
export interface DemoExport {
  /** Keys under the demo's upload folder. */
  readonly key: string;
  readonly rows: number;
  /** Rows whose image the export lacks or that name an unsafe path. */
  readonly problemRows: number;
  readonly broken: boolean;
}

export const DEMO_ZIP = 'citizen-export-2026-12.zip';
export const DEMO_TAR = 'citizen-export-2026-11.tar.gz';
export const DEMO_ZIP_ROWS = 4500;
export const DEMO_TAR_ROWS = 900;
const MISSING_EVERY = 700;
const SPECIES = ['Robin', 'Blue tit', 'Great tit, juvenile', 'Wren "jenny"', 'Blackbird\n(female)', 'Chaffinch'];

export const DEMO_EXPORTS: readonly DemoExport[] = [
  { key: DEMO_ZIP, rows: DEMO_ZIP_ROWS, problemRows: Math.floor(DEMO_ZIP_ROWS / MISSING_EVERY) + 1, broken: false },
  { key: DEMO_TAR, rows: DEMO_TAR_ROWS, problemRows: Math.floor(DEMO_TAR_ROWS / MISSING_EVERY), broken: false },
  { key: 'not-an-archive.zip', rows: 0, problemRows: 0, broken: true },
  { key: 'no-manifest.zip', rows: 0, problemRows: 0, broken: true },
];

/** Writes the demo's uploads into `dir` once; returns how many are exports and how many are broken on purpose. */
export async function writeDemoExports(dir: string): Promise<{ good: number; broken: number }> {
  const photos = await photoPalette(48);
  await once(join(dir, DEMO_ZIP), (path) => writeZipExport(path, DEMO_ZIP_ROWS, photos));
  await once(join(dir, DEMO_TAR), (path) => writeTarExport(path, DEMO_TAR_ROWS, photos));
  await once(join(dir, 'not-an-archive.zip'), async (path) => writeFileSync(path, 'this is a text file with a .zip name\n'));
  await once(join(dir, 'no-manifest.zip'), (path) => writeZip(path, [{ name: 'photos/one.jpg', bytes: photos[0]! }]));
  return { good: DEMO_EXPORTS.filter((item) => !item.broken).length, broken: DEMO_EXPORTS.filter((item) => item.broken).length };
}

interface ExportFile {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The rows of an export, and the files it holds: every `missingEvery`-th row's photo is left out. */
export function demoExportContent(rows: number, photos: readonly Buffer[], unsafeRow: boolean, missingEvery = MISSING_EVERY): { header: string[]; rows: ManifestRow[]; files: ExportFile[] } {
  const header = ['subject_id', 'image', 'caption', 'observed_at'];
  const manifestRows: ManifestRow[] = [];
  const files: ExportFile[] = [];
  for (let i = 1; i <= rows; i++) {
    const id = `S${String(i).padStart(6, '0')}`;
    const image = `images/${id.slice(0, 4)}/${id}.jpg`;
    const caption = `${SPECIES[i % SPECIES.length]} at feeder ${i % 17}`;
    manifestRows.push({ line: i, values: [id, image, caption, `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T0${i % 10}:00:00Z`] });
    if (i % missingEvery !== 0) files.push({ name: `export/${image}`, bytes: photos[i % photos.length]! });
  }
  if (unsafeRow) manifestRows.push({ line: rows + 1, values: ['S-unsafe', '../../etc/passwd', 'a row naming a path outside the export', ''] });
  return { header, rows: manifestRows, files };
}

export async function writeZipExport(path: string, rows: number, photos: readonly Buffer[], missingEvery = MISSING_EVERY): Promise<void> {
  const content = demoExportContent(rows - 1, photos, true, missingEvery);
  // As a spreadsheet saves it on Windows: a byte-order mark and CRLF line ends (the captions' own line breaks stay LF).
  const csv = stringify([content.header, ...content.rows.map((row) => row.values)], { record_delimiter: 'windows', quoted_match: /[\r\n]/ });
  const manifest = { name: 'export/Manifest.csv', bytes: Buffer.from(`\ufeff${csv}`, 'utf8') };
  await writeZip(path, [manifest, ...content.files]);
}

export async function writeTarExport(path: string, rows: number, photos: readonly Buffer[], missingEvery = MISSING_EVERY): Promise<void> {
  const content = demoExportContent(rows, photos, false, missingEvery);
  // Shuffled, as an export tool that writes files as its workers finish them does: batches then need the spill.
  const files = [...content.files];
  let state = 20261203;
  for (let i = files.length - 1; i > 0; i--) {
    state = (state * 1664525 + 1013904223) >>> 0;
    const j = state % (i + 1);
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  const tar = pack();
  const written = pipeline(tar, createGzip(), createWriteStream(path));
  const add = (name: string, bytes: Buffer) => new Promise<void>((resolve, reject) => tar.entry({ name, size: bytes.length, mtime: new Date(2026, 10, 30) }, bytes, (error) => (error ? reject(error) : resolve())));
  for (const file of files) await add(file.name, file.bytes);
  // At the end, as many exporters write it: the listing read has to reach it before any batch is planned.
  await add('export/manifest.csv', Buffer.from(manifestCsv(content.header, content.rows), 'utf8'));
  tar.finalize();
  await written;
}

async function writeZip(path: string, files: readonly ExportFile[]): Promise<void> {
  const zip = new ZipFile();
  const written = pipeline(zip.outputStream, createWriteStream(path));
  for (const file of files) zip.addBuffer(file.bytes, file.name, { mtime: new Date(2026, 11, 1), compress: file.name.endsWith('.csv') });
  zip.end();
  await written;
}

/** A few dozen small photo-like JPEGs, reused across rows: the demo is about the split, not the pictures. */
export async function photoPalette(count: number): Promise<Buffer[]> {
  const photos: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(4 * 3 * 3);
    for (let p = 0; p < pixels.length; p++) pixels[p] = (i * 37 + p * 91) % 256;
    photos.push(await sharp(pixels, { raw: { width: 4, height: 3, channels: 3 } }).resize(96, 72).blur(1).jpeg({ quality: 80 }).toBuffer());
  }
  return photos;
}

/** Written to a temporary name and renamed: a run killed midway never leaves a half archive that later runs keep. */
async function once(path: string, write: (path: string) => Promise<void>): Promise<void> {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await write(partial);
  renameSync(partial, path);
}
