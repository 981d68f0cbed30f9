import type { MessageSender } from '../../../../src/ports/message-sender';
import type { ResultStore } from '../../result-store';
import type { RecordSource } from '../record-source';
import type { WatermarkStore } from '../watermark-store';

export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** Before: the call never happens. After: it takes effect, then the process "dies" before it hears back. */
export type CrashMoment = 'before' | 'after';

export interface Ports {
  readonly source: RecordSource;
  readonly watermarks: WatermarkStore;
  readonly results: Pick<ResultStore, 'existing'>;
  readonly sender: Pick<MessageSender, 'sendAll'>;
}

/**
 * Wraps discovery's ports so the `crashAt`-th call of any of them (counted together, from 1) throws a SimulatedCrash,
 * and remembers the ids of the chunk in flight (the last one asked about) as the only ones a rerun may send twice.
 * Every call after a crash throws too: a dead process makes no further calls.
 */
export function crashingPorts(ports: Ports, crashAt: number, moment: CrashMoment) {
  const state = { calls: [] as string[], crashed: false, chunkInFlight: [] as string[] };
  const step = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
    if (state.crashed) throw new SimulatedCrash(`${name} called after the crash`);
    state.calls.push(name);
    const crashes = state.calls.length === crashAt;
    if (crashes && moment === 'before') {
      state.crashed = true;
      throw new SimulatedCrash(`crash before ${name} (call ${crashAt})`);
    }
    const value = await call();
    if (crashes) {
      state.crashed = true;
      throw new SimulatedCrash(`crash after ${name} (call ${crashAt})`);
    }
    return value;
  };
  const wrapped: Ports = {
    source: { page: (date, afterId, limit) => step('page', () => ports.source.page(date, afterId, limit)) },
    watermarks: {
      read: (date) => step('read', () => ports.watermarks.read(date)),
      advance: (date, id) => step('advance', () => ports.watermarks.advance(date, id)),
    },
    results: {
      existing: (ids) => {
        state.chunkInFlight = [...ids];
        return step('existing', () => ports.results.existing(ids));
      },
    },
    sender: { sendAll: (queueUrl, bodies) => step('sendAll', () => ports.sender.sendAll(queueUrl, bodies)) },
  };
  return { ports: wrapped, state };
}
