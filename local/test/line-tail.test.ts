import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineTail } from '../src/dashboard/line-tail';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'line-tail-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('reads only what is appended after it started, and a line only once its newline is there', async () => {
  const file = join(dir, 'decisions.jsonl');
  writeFileSync(file, 'an earlier run\n');
  const tail = await LineTail.ofFile(file);
  expect(await tail.readNewLines()).toEqual([]);
  appendFileSync(file, 'first\nsec');
  expect(await tail.readNewLines()).toEqual(['first']);
  appendFileSync(file, 'ond\n\nthird\n');
  expect(await tail.readNewLines()).toEqual(['second', 'third']);
  expect(await tail.readNewLines()).toEqual([]);
});

it('waits for a file that does not exist yet and reads it from its start', async () => {
  const file = join(dir, 'later.jsonl');
  const tail = await LineTail.ofFile(file);
  expect(await tail.readNewLines()).toEqual([]);
  writeFileSync(file, 'one\n');
  expect(await tail.readNewLines()).toEqual(['one']);
});

it('follows every log under a directory, a new worker\'s and a companion\'s included, and rereads a replaced file', async () => {
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  writeFileSync(join(logs, 'worker-1.log'), 'old run\n');
  const tail = await LineTail.ofLogDirectory(logs);
  appendFileSync(join(logs, 'worker-1.log'), 'w1\n');
  mkdirSync(join(logs, 'loudness'));
  writeFileSync(join(logs, 'loudness', 'worker-1.log'), 'companion\n');
  writeFileSync(join(logs, 'notes.txt'), 'not a log\n');
  expect((await tail.readNewLines()).sort()).toEqual(['companion', 'w1']);
  writeFileSync(join(logs, 'worker-1.log'), 'new\n');
  expect(await tail.readNewLines()).toEqual(['new']);
});

it('keeps a character whose bytes arrive in two appends whole', async () => {
  const file = join(dir, 'utf8.log');
  const tail = await LineTail.ofFile(file);
  const bytes = Buffer.from('写真\n');
  writeFileSync(file, bytes.subarray(0, 2));
  expect(await tail.readNewLines()).toEqual([]);
  appendFileSync(file, bytes.subarray(2));
  expect(await tail.readNewLines()).toEqual(['写真']);
});
