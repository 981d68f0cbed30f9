import { account } from '../src/accounting';
import { resizeDemo } from '../../app/jobs/resize/local-demo';
import { commandDemo } from '../../app/jobs/command/local-demo';
import { fanoutDemo } from '../../app/jobs/fanout/local-demo';

describe('account', () => {
  it('counts a manifest done when its run\'s report exists, and never counts or waits for the files it names', () => {
    const expectedOutputs = fanoutDemo.expectedOutputs({});
    const pending = account({
      destPrefix: 'runs/', sourcePrefix: '', expectedOutputs,
      sourceKeys: ['audio/a.wav', 'audio/b.wav', 'manifests/dawn/manifest.json'],
      destinationKeys: ['runs/dawn/run.json', 'runs/dawn/summary.csv'],
      deadLetteredKeys: [],
    });
    expect(pending).toEqual({ loaded: 1, done: 0, deadLettered: 0, pending: ['manifests/dawn/manifest.json'], outputs: 2 });
    const done = account({
      destPrefix: 'runs/', sourcePrefix: '', expectedOutputs,
      sourceKeys: ['audio/a.wav', 'manifests/dawn/manifest.json'],
      destinationKeys: ['runs/dawn/report.json'],
      deadLetteredKeys: [],
    });
    expect(done).toMatchObject({ loaded: 1, done: 1, pending: [] });
  });

  it('counts an image done only when every size exists, dead-lettered when its message is in the DLQ, pending otherwise', () => {
    const result = account({
      destPrefix: '', sourcePrefix: '',
      expectedOutputs: resizeDemo.expectedOutputs({ SIZES: '224x224,299x299' }),
      sourceKeys: ['a/x.png', 'b/x.png', 'broken.jpg', 'half.jpg', 'folder/'],
      destinationKeys: ['224x224/a/x.jpg', '299x299/a/x.jpg', '224x224/b/x.jpg', '299x299/b/x.jpg', '224x224/half.jpg'],
      deadLetteredKeys: ['broken.jpg'],
    });
    expect(result).toEqual({ loaded: 4, done: 2, deadLettered: 1, pending: ['half.jpg'], outputs: 5 });
  });

  it('counts a program\'s source done when any output sits under its folder, and never mistakes a sibling with a longer name', () => {
    const result = account({
      destPrefix: 'out/', sourcePrefix: 'in/',
      expectedOutputs: commandDemo.expectedOutputs({}),
      sourceKeys: ['in/a.geojson', 'in/a.geojson.bak', 'in/b c.geojson', 'in/broken.geojson'],
      destinationKeys: ['out/a.geojson.bak2/stats.json', 'out/a.geojson/stats.json', 'out/b c.geojson/nested/x.txt'],
      deadLetteredKeys: ['in/broken.geojson'],
    });
    expect(result).toEqual({ loaded: 4, done: 2, deadLettered: 1, pending: ['in/a.geojson.bak'], outputs: 3 });
  });
});
