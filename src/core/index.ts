/**
 * Foundations shared by every module: errors with codes, the logger, configuration (the only
 * reader of `process.env`), durations, typed metadata values, a JSON reader that reports line
 * and column, and the SQL executor both the task database and the SQL queue run on.
 *
 * @example
 * ```ts
 * import { loadConfig, createLogger } from 'plato-eas';
 * const config = loadConfig();
 * const logger = createLogger({ level: config.logLevel });
 * ```
 * @module
 */
export {
  EasError,
  InvalidInputError,
  isEasError,
  exitCodeFor,
  EXIT_CODES,
  isTransientBackendError,
  transientBackoffMs,
  waitOutTransient,
  retryWhileTransient,
  type TransientLog,
  type EasErrorCode,
  type EasErrorOptions,
  type Problem,
} from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './logger.js';
export {
  loadConfig,
  redactUrl,
  inheritedEnvironment,
  CONFIG_FILE_NAME,
  DEFAULT_LEASE_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_WEB_HOST,
  DEFAULT_WEB_PORT,
  MIN_WEB_TOKEN_LENGTH,
  loadWebTokens,
  type WebTokens,
  type EasConfigFile,
  type KubernetesConfigFile,
  type ResolvedConfig,
  type ConfigOverrides,
  type LoadConfigOptions,
} from './config.js';
export { parseDuration, formatDuration, type Duration } from './durations.js';
export { parseJson, type ParseJsonOptions } from './json.js';
export { Mutex } from './mutex.js';
export { editDistance, misspellingsOf } from './names.js';
export {
  float,
  FloatValue,
  toTyped,
  toTypedMetadata,
  toPlainMetadata,
  formatTyped,
  encodeTypedValue,
  decodeTypedValue,
  serializeTypedMetadata,
  deserializeTypedMetadata,
  parseTypedMetadataJson,
  stringifyKeepingFloats,
  parseJsonKeepingFloats,
  unwrapFloats,
  type MetadataType,
  type TypedValue,
  type TypedMetadata,
} from './typed-value.js';
export { toWire, fromWire } from './wire.js';
export {
  DIALECT_PROFILES,
  dialectOfKnex,
  type Dialect,
  type DialectProfile,
} from './sql/dialects.js';
export {
  openSqlDatabase,
  insertMany,
  placeholders,
  type SqlDatabase,
  type SqlExecutor,
  type SqlParam,
  type Row,
  type OpenSqlOptions,
} from './sql/sql-database.js';
export { TypedEmitter } from './events.js';
export type { PlannedInput, PlannedOutput, PlannedTask } from './plan.js';
export { processAlive } from './process.js';
export { makeDirectory, makeDirectorySync, fileErrorWords } from './fs.js';
export { runMigrations, type Migration } from './sql/migrations.js';
export {
  advisoryLockKeys,
  FileSessionLock,
  PostgresSessionLock,
  type SessionLock,
} from './sql/session-lock.js';
export { parseIni, type IniDocument } from './ini.js';
export {
  startOpsServer,
  type OpsServer,
  type OpsServerOptions,
  type ProbeResult,
} from './ops-server.js';
