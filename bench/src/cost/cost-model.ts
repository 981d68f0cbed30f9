import type { PerImageRequests, Prices, ScalerRunCost, TaskSize } from '../parameters';
import type { SimulationResult } from '../simulation/scaling-simulation';

export interface CostInputs {
  readonly prices: Prices;
  readonly taskSize: TaskSize;
  readonly perImage: PerImageRequests;
  readonly scalerRun: ScalerRunCost;
}

/** US dollars for one simulated scenario, by service, with Fargate priced three ways. */
export interface ScenarioCost {
  readonly billedTaskSeconds: number;
  readonly fargateSpot: number;
  readonly fargateOnDemand: number;
  /** At the capacity-provider strategy's Spot share. */
  readonly fargateMixed: number;
  readonly sqs: number;
  readonly s3: number;
  readonly scalerLambda: number;
  /** Everything, Fargate at the strategy's mix. */
  readonly total: number;
  readonly totalAllSpot: number;
  readonly totalAllOnDemand: number;
  readonly perMillionFiles: number;
  readonly perMillionFilesAllSpot: number;
  readonly perMillionFilesAllOnDemand: number;
}

export function scenarioCost(result: SimulationResult, inputs: CostInputs): ScenarioCost {
  const { prices, taskSize, perImage, scalerRun } = inputs;
  const billedTaskSeconds = result.tasks.reduce(
    (sum, task) => sum + Math.max(prices.fargateMinimumBilledSeconds, task.exitedAt - task.launchedAt),
    0,
  );
  const taskHours = billedTaskSeconds / 3600;
  const fargateSpot = taskHours * (taskSize.vcpu * prices.fargateSpotPerVcpuHour + taskSize.memoryGb * prices.fargateSpotPerGbHour);
  const fargateOnDemand =
    taskHours * (taskSize.vcpu * prices.fargateOnDemandPerVcpuHour + taskSize.memoryGb * prices.fargateOnDemandPerGbHour);
  const fargateMixed = taskSize.spotShare * fargateSpot + (1 - taskSize.spotShare) * fargateOnDemand;
  const sqsRequests = result.receives + result.files * perImage.sqsOther + result.scalerRuns * scalerRun.sqsRequests;
  const sqs = sqsRequests * prices.sqsPerRequest;
  const s3 = result.files * (perImage.s3Reads * prices.s3GetPerRequest + perImage.s3Writes * prices.s3PutPerRequest);
  const scalerLambda =
    result.scalerRuns *
    (prices.lambdaPerRequest + scalerRun.lambdaMemoryGb * scalerRun.lambdaBilledSeconds * prices.lambdaPerGbSecond);
  const shared = sqs + s3 + scalerLambda;
  const perMillion = (dollars: number): number => (result.files > 0 ? (dollars / result.files) * 1_000_000 : 0);
  return {
    billedTaskSeconds,
    fargateSpot,
    fargateOnDemand,
    fargateMixed,
    sqs,
    s3,
    scalerLambda,
    total: fargateMixed + shared,
    totalAllSpot: fargateSpot + shared,
    totalAllOnDemand: fargateOnDemand + shared,
    perMillionFiles: perMillion(fargateMixed + shared),
    perMillionFilesAllSpot: perMillion(fargateSpot + shared),
    perMillionFilesAllOnDemand: perMillion(fargateOnDemand + shared),
  };
}
