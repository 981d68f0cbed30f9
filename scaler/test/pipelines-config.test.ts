import { ConfigError } from '../../shared/errors';
import { loadScalerPipelines } from '../src/pipelines-config';
import { scalerEnv } from './factories';

const entry = (overrides: Record<string, unknown> = {}) => ({
  name: 'images', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', taskFamily: 'image-worker', ...overrides,
});
const withPipelines = (entries: unknown, overrides: Record<string, string | undefined> = {}) =>
  scalerEnv({ QUEUE_URL: undefined, TASK_FAMILY: undefined, PIPELINES: typeof entries === 'string' ? entries : JSON.stringify(entries), ...overrides });

describe('loadScalerPipelines', () => {
  it('without PIPELINES, is the one unnamed pipeline of the single-pipeline variables, as before', () => {
    const [only, ...rest] = loadScalerPipelines(scalerEnv({ MAX_TASKS: '7' }));
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ pipeline: undefined, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', taskFamily: 'image-worker', maxTasks: 7 });
  });

  it('reads each entry by the single-pipeline rules, sharing the other variables and taking MAX_TASKS and the like as defaults', () => {
    const pipelines = loadScalerPipelines(withPipelines([
      entry(),
      entry({ name: 'geojson', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/geo', taskFamily: 'geo-worker', maxTasks: 3, capacityProviderStrategy: 'FARGATE:1:1', imageParameter: '/x/geojson-image' }),
    ], { MAX_TASKS: '20', CRASH_LOOP_TASKS: '5' }));
    expect(pipelines).toEqual([
      expect.objectContaining({ pipeline: 'images', taskFamily: 'image-worker', maxTasks: 20, imageParameter: undefined, cluster: 'workers', subnets: ['subnet-a', 'subnet-b', 'subnet-c'] }),
      expect.objectContaining({
        pipeline: 'geojson', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/geo', taskFamily: 'geo-worker', maxTasks: 3,
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1, base: 1 }], imageParameter: '/x/geojson-image', cluster: 'workers',
      }),
    ]);
    expect(pipelines.map((p) => p.crashLoop.tasks)).toEqual([5, 5]);
  });

  it('refuses what would be ambiguous or wrong, naming the entry and the field', () => {
    const refuses = (env: NodeJS.ProcessEnv, message: string) => {
      expect(() => loadScalerPipelines(env)).toThrow(ConfigError);
      expect(() => loadScalerPipelines(env)).toThrow(message);
    };
    refuses(withPipelines([entry()], { QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/other' }), 'PIPELINES and QUEUE_URL are both set');
    refuses(withPipelines('[{"name":'), 'PIPELINES is not valid JSON');
    refuses(withPipelines([]), 'PIPELINES must be a non-empty JSON list');
    refuses(withPipelines([entry(), entry()]), 'PIPELINES names "images" twice');
    refuses(withPipelines([entry({ name: 'Bad Name' })]), 'PIPELINES[0].name must be a kebab-case pipeline name');
    refuses(withPipelines([entry({ maxTask: 3 })]), 'PIPELINES "images".maxTask is not a pipeline field');
    refuses(withPipelines([entry({ maxTasks: 0 })]), 'PIPELINES "images": MAX_TASKS must be an integer >= 1, got "0"');
    refuses(withPipelines([entry({ taskFamily: 'image-worker:3' })]), 'PIPELINES "images": TASK_FAMILY must be a family name');
    refuses(withPipelines([entry({ queueUrl: undefined })]), 'PIPELINES "images": QUEUE_URL is required');
  });
});
