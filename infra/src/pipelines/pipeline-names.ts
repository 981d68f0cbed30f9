/**
 * Construct ids and resource names per pipeline. The first pipeline keeps exactly the ids and names the stack had when
 * it knew one pipeline (construct `work`, queue `<name>-jobs`, family `<name>-worker`, ...), so an existing deployment
 * plans no change, and adding a pipeline later creates resources beside it instead of replacing it. The others carry
 * their pipeline name in both. Pure.
 */
export interface PipelineNames {
  /** Prefix of the pipeline's construct ids: '' for the first, `<pipeline>-` for the others. */
  readonly idPrefix: string;
  /** The base of its resource names: `<stack>` for the first, `<stack>-<pipeline>` for the others. */
  readonly resourceBase: string;
  readonly queueName: string;
  readonly taskFamily: string;
}

export function pipelineNames(stackName: string, pipelineName: string, index: number): PipelineNames {
  const first = index === 0;
  const resourceBase = first ? stackName : `${stackName}-${pipelineName}`;
  return {
    idPrefix: first ? '' : `${pipelineName}-`,
    resourceBase,
    queueName: `${resourceBase}-jobs`,
    taskFamily: `${resourceBase}-worker`,
  };
}

/** The base image keeps the construct ids `registry` and `image` and its names; a derived image carries its name. */
export function imageNames(stackName: string, imageName: string, isBase: boolean): { idPrefix: string; repositoryName: string; parameterName: string } {
  return {
    idPrefix: isBase ? '' : `${imageName}-`,
    repositoryName: `${stackName}-${imageName}`,
    parameterName: `/${stackName}/${imageName}-image`,
  };
}
