import { DEFAULT_SIMULATION, type SimulationParameters } from '../src/parameters';
import type { SimulatedTask, SimulationResult } from '../src/simulation/scaling-simulation';

export function simulationParameters(overrides: Partial<SimulationParameters> = {}): SimulationParameters {
  return { ...DEFAULT_SIMULATION, ...overrides };
}

export function simulatedTask(overrides: Partial<SimulatedTask> = {}): SimulatedTask {
  return { launchedAt: 0, startedAt: 60, exitedAt: 3600, processed: 100, startedWhileOthersDrain: false, ...overrides };
}

export function simulationResult(overrides: Partial<SimulationResult> = {}): SimulationResult {
  return {
    rule: 'ours',
    workload: 'burst 1k',
    files: 1000,
    drainSeconds: 200,
    lastExitSeconds: 240,
    tasksLaunched: 1,
    peakTasks: 1,
    launchingRuns: 1,
    scalerRuns: 2,
    taskSeconds: 3600,
    emptyStarts: 0,
    emptyStartsWhileDraining: 0,
    receives: 100,
    emptyReceives: 2,
    meanLatencySeconds: 100,
    maxLatencySeconds: 200,
    tasks: [simulatedTask()],
    timeline: [],
    ...overrides,
  };
}
