import type { JobDemo } from '../../src/job/job-demo';
import { writeDemoSet } from './demo-set';
import { readResizeJobConfig } from './resize-config';
import { OUTPUT_FORMATS, resizeOutputName } from './resize-output-key';
import { EnvReader } from '../../src/job/env-reader';

/** `npm start`: about 40 photo-like images with awkward keys and three broken files, resized to 224x224 and 299x299. */
export const resizeDemo: JobDemo = {
  job: 'resize',
  noun: 'images',
  defaultSettings: () => ({ SIZES: '224x224,299x299' }),
  settingNames: ['SIZES', 'FIT', 'FORMAT', 'QUALITY', 'BACKGROUND', 'MAX_INPUT_PIXELS', 'FAIL_ON', 'INPUT_FORMATS', 'RENDER_TIMEOUT_SECONDS', 'MEMORY_BUDGET_MIB'],
  writeDemoSet,
  expectedOutputs(settings) {
    const { resize } = readResizeJobConfig(new EnvReader(settings), 4 * 1024 ** 3);
    const sizeNames = resize.sizes.map((size) => `${size.width}x${size.height}`);
    return (relativeKey) => ({ names: sizeNames.map((sizeName) => resizeOutputName(relativeKey, sizeName, OUTPUT_FORMATS[resize.format].extension)) });
  },
};
