import { buildS3Event } from '../../shared/events/s3-event-shape';
import { describeDeadLetters } from '../src/dead-letter-report';
import { mirrorPath } from '../src/output-mirror';

const letter = (keys: string[], attributes: Record<string, string>) => ({
  messageId: 'm', receiveCount: 1, diedAt: 0, attributes,
  body: buildS3Event(keys.map((key) => ({ bucket: 'source', key, size: 1, etag: 'e' }))),
});

describe('describeDeadLetters', () => {
  it('gives each named object its own reason and the last line of its detail', () => {
    const failures = JSON.stringify([
      { record: 0, reason: 'command-failed', kind: 'permanent', detail: 'COMMAND exited with code 65\ngeojson-stats: empty file' },
      { record: 1, reason: 'corrupt-image', kind: 'permanent', detail: 'x.jpg could not be decoded' },
    ]);
    expect(describeDeadLetters([letter(['a.geojson', 'x.jpg'], { failures, 'failure-reasons': 'command-failed,corrupt-image' })])).toEqual([
      { key: 'a.geojson', reason: 'command-failed', why: 'geojson-stats: empty file' },
      { key: 'x.jpg', reason: 'corrupt-image', why: 'x.jpg could not be decoded' },
    ]);
  });

  it('says a message moved by the redrive policy has no reason of its own', () => {
    expect(describeDeadLetters([letter(['a.jpg'], {})])).toEqual([{ key: 'a.jpg', reason: 'moved by the redrive policy', why: '' }]);
  });

  it('never lets a program\'s stderr or a key drive the terminal: control characters are shown as ?', () => {
    const failures = JSON.stringify([{ record: 0, reason: 'command-failed', kind: 'permanent', detail: 'boom \u001b[2J\u001b]0;owned\u0007' }]);
    expect(describeDeadLetters([letter(['evil\u001b[31m.txt'], { failures })])).toEqual([{ key: 'evil?[31m.txt', reason: 'command-failed', why: 'boom ?[2J?]0;owned?' }]);
  });

  it('names the input of a job\'s own request (a batch record), with its id, and nothing for a body naming none', () => {
    const failures = JSON.stringify([{ record: 0, reason: 'undecodable-audio', kind: 'permanent', detail: 'empty file (0 bytes)' }]);
    const record = { messageId: 'm', receiveCount: 1, diedAt: 0, attributes: { failures }, body: '{"kind":"batch-record","v":1,"id":"rec-7","bucket":"b","key":"x/\\u001b7.wav","date":"2026-12-01"}' };
    expect(describeDeadLetters([record])).toEqual([{ key: 'x/?7.wav (record rec-7)', reason: 'undecodable-audio', why: 'empty file (0 bytes)' }]);
    expect(describeDeadLetters([{ ...record, body: 'not json' }])[0]!.key).toBe('(no object named)');
  });
});

describe('mirrorPath', () => {
  it('maps a key to a file under the folder, and refuses keys that are no file name there or would climb out', () => {
    expect(mirrorPath('/data/out', 'a b/ü+x.geojson/stats.json')).toBe('/data/out/a b/ü+x.geojson/stats.json');
    for (const key of ['../x', 'a/../../x', 'folder/', '/abs', 'a//b', './x', 'a/./b', 'nul\0x']) expect(mirrorPath('/data/out', key)).toBeUndefined();
  });
});
