import { StderrTail } from '../stderr-tail';

describe('StderrTail', () => {
  it('keeps the last lines, whatever the chunking', () => {
    const tail = new StderrTail({ lines: 3, bytes: 2048, lineBytes: 512 });
    const text = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') + '\n';
    for (let i = 0; i < text.length; i += 4) tail.push(Buffer.from(text.slice(i, i + 4)));
    expect(tail.toString()).toBe('line 7\nline 8\nline 9');
  });

  it('keeps a last line that has no newline, and drops \\r of CRLF', () => {
    const tail = new StderrTail();
    tail.push(Buffer.from('first\r\nTraceback: boom'));
    expect(tail.toString()).toBe('first\nTraceback: boom');
  });

  it('cuts an enormous line after its first lineBytes bytes, without splitting a character, and keeps the lines after it', () => {
    const tail = new StderrTail({ lines: 20, bytes: 2048, lineBytes: 100 });
    tail.push(Buffer.from('ü'.repeat(10_000)));
    tail.push(Buffer.from('ü'.repeat(10_000) + '\nError: bad geometry\n'));
    const lines = tail.toString().split('\n');
    expect(lines[0]).toBe('ü'.repeat(50) + '…');
    expect(lines[1]).toBe('Error: bad geometry');
  });

  it('never holds more than the byte bound, however much is written', () => {
    const tail = new StderrTail();
    const line = Buffer.from('x'.repeat(300) + '\n');
    for (let i = 0; i < 10_000; i++) tail.push(line);
    tail.push(Buffer.from('the end\n'));
    const text = tail.toString();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2048);
    expect(text.endsWith('the end')).toBe(true);
  });

  it('is empty when nothing was written', () => {
    expect(new StderrTail().toString()).toBe('');
  });
});
