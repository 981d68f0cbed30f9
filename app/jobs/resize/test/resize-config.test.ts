import { ConfigError } from '../../../../shared/errors';
import { resizeJobModule } from '..';

const runtime = { cpuCount: 2, memoryLimitBytes: 4 * 1024 ** 3 };
const settings = (env: Record<string, string> = {}, memoryLimitBytes = runtime.memoryLimitBytes) => resizeJobModule.readSettings(env, { ...runtime, memoryLimitBytes });

function problems(env: Record<string, string>): string {
  try {
    settings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('the resize job settings', () => {
  it('accepts raster formats by default, SVG only when asked, and names a wrong format', () => {
    expect(settings().resize.inputFormats).toEqual(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);
    expect(settings({ INPUT_FORMATS: 'JPEG, svg,jpeg' }).resize.inputFormats).toEqual(['jpeg', 'svg']);
    expect(problems({ INPUT_FORMATS: 'jpeg,bmp' })).toMatch(/INPUT_FORMATS="jpeg,bmp" is invalid: expected a comma-separated list of jpeg, png, webp, gif, tiff, avif, heif, svg/);
  });

  it('derives the decode memory budget from the task memory limit, and takes MEMORY_BUDGET_MIB over it', () => {
    const twoGiB = 2 * 1024 ** 3;
    expect(settings({}, twoGiB).memoryBudgetBytes).toBe((Math.floor(2048 * 0.7) - 128) * 1024 * 1024);
    expect(settings({ MEMORY_BUDGET_MIB: '300' }, twoGiB).memoryBudgetBytes).toBe(300 * 1024 * 1024);
    expect(settings({}, 128 * 1024 * 1024).memoryBudgetBytes).toBe(64 * 1024 * 1024);
    expect(problems({ MEMORY_BUDGET_MIB: '8' })).toMatch(/MEMORY_BUDGET_MIB="8" is invalid/);
    expect(settings().resize.renderTimeoutSeconds).toBe(60);
    expect(problems({ RENDER_TIMEOUT_SECONDS: '0' })).toMatch(/RENDER_TIMEOUT_SECONDS="0" is invalid/);
  });

  it('applies the documented defaults', () => {
    expect(settings().resize).toMatchObject({ sizes: [{ width: 224, height: 224 }], fit: 'cover', format: 'jpeg', quality: 85, background: '#ffffff', maxInputPixels: 100000000, failOn: 'warning' });
  });

  it('reads every variable, dropping repeated sizes', () => {
    expect(settings({ SIZES: '224x224, 299x299,224x224', FIT: 'contain', FORMAT: 'webp', QUALITY: '70', BACKGROUND: '#00FF00', MAX_INPUT_PIXELS: '5000', FAIL_ON: 'error' }).resize).toMatchObject({
      sizes: [{ width: 224, height: 224 }, { width: 299, height: 299 }], fit: 'contain', format: 'webp', quality: 70, background: '#00ff00', maxInputPixels: 5000, failOn: 'error',
    });
  });

  it('runs two images per vCPU by default and sizes the pool by the sizes', () => {
    expect(resizeJobModule.defaultConcurrency(3, {})).toBe(6);
    expect(resizeJobModule.poolThreadsPerMessage?.(settings({ SIZES: '1x1,2x2,3x3' }))).toBe(3);
  });

  it.each([
    [{ SIZES: '224x' }, 'SIZES="224x" is invalid: expected a comma-separated list of WIDTHxHEIGHT'],
    [{ SIZES: '0x10' }, 'SIZES="0x10" is invalid'],
    [{ QUALITY: '0' }, 'QUALITY="0" is invalid: expected an integer from 1 to 100'],
    [{ FIT: 'fill' }, 'FIT="fill" is invalid: expected one of cover, contain, inside'],
    [{ FORMAT: 'gif' }, 'FORMAT="gif" is invalid: expected one of jpeg, webp, png'],
    [{ BACKGROUND: 'white' }, 'BACKGROUND="white" is invalid: expected a hex colour #rrggbb'],
  ])('names the variable, the value and the expected form for %j', (env, message) => {
    expect(problems(env)).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(problems({ QUALITY: '500', FIT: 'x' }).split('\n')).toHaveLength(2);
  });
});
