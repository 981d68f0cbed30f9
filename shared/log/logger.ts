import { Logger } from '@aws-lambda-powertools/logger';

/** The logging port: one JSON line per event. Callers pass facts (keys, sizes, reasons), never message bodies. */
export type LogFields = Record<string, string | number | boolean | undefined | readonly string[]>;

export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Powertools Logger: the same JSON shape in Fargate, in Lambda and on a laptop, ready for CloudWatch Logs Insights. */
export function createLog(serviceName: string, logLevel: LogLevel = 'INFO', persistent: LogFields = {}): Log {
  const logger = new Logger({ serviceName, logLevel, persistentKeys: persistent as Record<string, string> });
  return {
    debug: (message, fields) => logger.debug(message, fields ?? {}),
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
  };
}

/** Collects log lines in memory: for tests that assert what was logged. */
export class MemoryLog implements Log {
  readonly lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
  debug(message: string, fields: LogFields = {}): void { this.lines.push({ level: 'DEBUG', message, fields }); }
  info(message: string, fields: LogFields = {}): void { this.lines.push({ level: 'INFO', message, fields }); }
  warn(message: string, fields: LogFields = {}): void { this.lines.push({ level: 'WARN', message, fields }); }
  error(message: string, fields: LogFields = {}): void { this.lines.push({ level: 'ERROR', message, fields }); }
  messages(message: string): LogFields[] { return this.lines.filter((l) => l.message === message).map((l) => l.fields); }
}
