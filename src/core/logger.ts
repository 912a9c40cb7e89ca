import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

/** The logger every component accepts (pino's). Bind context with `logger.child({...})`. */
export type Logger = PinoLogger;

/**
 * Options of {@link createLogger}.
 *
 * @inline
 */
export interface LoggerOptions {
  /** Minimum level. @defaultValue `'info'` */
  level?: LevelWithSilent;
  /** Human-readable lines instead of JSON. @defaultValue true when stderr is a terminal */
  pretty?: boolean;
  /** Where to write. @defaultValue file descriptor 2 (stderr) */
  destination?: number | string;
}

/**
 * Creates a pino logger writing JSON lines to stderr, or pretty lines when stderr is a
 * terminal. Credentials, payloads and file contents are never passed to it by plato-eas.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const destination = options.destination ?? 2;
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: {
          destination,
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        },
      },
    });
  }
  return pino({ level, base: undefined }, pino.destination({ dest: destination, sync: true }));
}

/** A logger that discards everything: the default of every component. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
