import { GAP, sparkline } from '../src/cloudwatch-status/sparkline';

describe('sparkline', () => {
  it('draws one character per value, from the lowest bar at zero to the highest at the maximum', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
  });

  it('measures from zero, so a small change near the top stays near the top', () => {
    expect(sparkline([80, 100])).toBe('▇█');
  });

  it('never draws a value above zero as nothing', () => {
    expect(sparkline([0, 1, 1000])).toBe('▁▂█');
  });

  it('shows a minute with no datapoint as a gap, not as zero', () => {
    expect(sparkline([4, null, 0, null])).toBe(`█${GAP}▁${GAP}`);
  });

  it('draws a flat zero line low and a flat non-zero line full', () => {
    expect(sparkline([0, 0, 0])).toBe('▁▁▁');
    expect(sparkline([3, 3])).toBe('██');
  });

  it('is all gaps when nothing was measured, one per minute', () => {
    expect(sparkline([null, null, null])).toBe(GAP.repeat(3));
    expect(sparkline([])).toBe('');
  });

  it('scales from the minimum when a value is negative', () => {
    expect(sparkline([-7, 0])).toBe('▁█');
  });
});
