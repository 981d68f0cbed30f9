import { scenarioCost } from '../src/cost/cost-model';
import { lambdaCostPerMillion } from '../src/cost/lambda-cost';
import { DEFAULT_LAMBDA, DEFAULT_PER_IMAGE_REQUESTS, PRICES, type Prices } from '../src/parameters';
import { simulatedTask, simulationResult } from './factories';

const roundPrices: Prices = {
  fargateOnDemandPerVcpuHour: 0.04,
  fargateOnDemandPerGbHour: 0.004,
  fargateSpotPerVcpuHour: 0.01,
  fargateSpotPerGbHour: 0.001,
  fargateMinimumBilledSeconds: 60,
  sqsPerRequest: 0.4e-6,
  s3PutPerRequest: 5e-6,
  s3GetPerRequest: 0.4e-6,
  lambdaPerGbSecond: 1e-5,
  lambdaPerRequest: 2e-7,
};

describe('scenarioCost', () => {
  const inputs = {
    prices: roundPrices,
    taskSize: { vcpu: 2, memoryGb: 4, spotShare: 0.8 },
    perImage: { s3Reads: 1, s3Writes: 2, sqsOther: 1.1 },
    scalerRun: { lambdaMemoryGb: 0.25, lambdaBilledSeconds: 0.4, sqsRequests: 1 },
  };

  it('prices task hours by vCPU and memory, Spot and on-demand, and mixes them by the Spot share', () => {
    const cost = scenarioCost(simulationResult({ tasks: [simulatedTask({ launchedAt: 0, exitedAt: 3600 })] }), inputs);
    expect(cost.fargateSpot).toBeCloseTo(2 * 0.01 + 4 * 0.001, 12);
    expect(cost.fargateOnDemand).toBeCloseTo(2 * 0.04 + 4 * 0.004, 12);
    expect(cost.fargateMixed).toBeCloseTo(0.8 * 0.024 + 0.2 * 0.096, 12);
  });

  it('bills a task that ran less than a minute for the full minute', () => {
    const cost = scenarioCost(simulationResult({ tasks: [simulatedTask({ launchedAt: 100, exitedAt: 130 })] }), inputs);
    expect(cost.billedTaskSeconds).toBe(60);
  });

  it('counts every receive, the per-image requests and the scaler runs', () => {
    const cost = scenarioCost(simulationResult({ files: 1000, receives: 150, scalerRuns: 4 }), inputs);
    expect(cost.sqs).toBeCloseTo((150 + 1000 * 1.1 + 4) * 0.4e-6, 15);
    expect(cost.s3).toBeCloseTo(1000 * (0.4e-6 + 2 * 5e-6), 15);
    expect(cost.scalerLambda).toBeCloseTo(4 * (2e-7 + 0.25 * 0.4 * 1e-5), 15);
    expect(cost.perMillionFiles).toBeCloseTo(cost.total * 1000, 9);
    expect(cost.totalAllOnDemand).toBeGreaterThan(cost.total);
    expect(cost.totalAllSpot).toBeLessThan(cost.total);
  });
});

describe('lambdaCostPerMillion', () => {
  it('divides the per-core resize time by the vCPUs the memory buys', () => {
    const oneVcpu = lambdaCostPerMillion(10, { ...DEFAULT_LAMBDA, memoryGb: 1769 / 1024 }, PRICES, DEFAULT_PER_IMAGE_REQUESTS);
    expect(oneVcpu.vcpus).toBeCloseTo(1, 9);
    expect(oneVcpu.secondsPerImage).toBeCloseTo(0.1, 9);
    const halfVcpu = lambdaCostPerMillion(10, { ...DEFAULT_LAMBDA, memoryGb: 1769 / 2048 }, PRICES, DEFAULT_PER_IMAGE_REQUESTS);
    expect(halfVcpu.secondsPerImage).toBeCloseTo(0.2, 9);
  });

  it('charges one request per batch and the same S3 requests as the worker', () => {
    const cost = lambdaCostPerMillion(10, { ...DEFAULT_LAMBDA, batchSize: 10 }, PRICES, DEFAULT_PER_IMAGE_REQUESTS);
    expect(cost.requests).toBeCloseTo(100_000 * PRICES.lambdaPerRequest, 12);
    expect(cost.s3).toBeCloseTo(1_000_000 * (2 * PRICES.s3GetPerRequest + 2 * PRICES.s3PutPerRequest), 9);
    expect(cost.total).toBeCloseTo(cost.compute + cost.requests + cost.sqs + cost.s3, 12);
  });

  it('refuses a throughput of zero', () => {
    expect(() => lambdaCostPerMillion(0, DEFAULT_LAMBDA, PRICES, DEFAULT_PER_IMAGE_REQUESTS)).toThrow(RangeError);
  });
});
