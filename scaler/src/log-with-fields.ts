import type { Log, LogFields } from '../../shared/log/logger';

/** A log whose every line carries `fields` too (the line's own fields win): each pipeline's lines name it. */
export function logWithFields(log: Log, fields: LogFields): Log {
  return {
    debug: (message, own) => log.debug(message, { ...fields, ...own }),
    info: (message, own) => log.info(message, { ...fields, ...own }),
    warn: (message, own) => log.warn(message, { ...fields, ...own }),
    error: (message, own) => log.error(message, { ...fields, ...own }),
  };
}
