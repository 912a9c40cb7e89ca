/** Column lists of the rows the task database writes in bulk, one place each. */

/** Columns of `eas_products` rows written by `insertMany`. */
export const PRODUCT_COLUMNS = [
  'id',
  'job_id',
  'working_directory',
  'filename',
  'semantic_type',
  'producer_task_id',
  'optional',
] as const;

/** Columns of `eas_versions` rows written by `insertMany`. */
export const VERSION_COLUMNS = [
  'id',
  'product_id',
  'attempt_id',
  'sha256',
  'size',
  'passed_qc',
  'created_at',
] as const;

/** Columns of `eas_metadata` rows written by `insertMany`. */
export const METADATA_COLUMNS = ['owner_kind', 'owner_id', 'key', 'type', 'value'] as const;

/** Columns of `eas_file_deps` rows written by `insertMany`. */
export const FILE_DEP_COLUMNS = ['consumer_task_id', 'semantic_type', 'product_id', 'met'] as const;

/** Columns of `eas_metadata_deps` rows written by `insertMany`. */
export const METADATA_DEP_COLUMNS = ['consumer_task_id', 'provider_task_id', 'name'] as const;

/** Columns of `eas_log_lines` rows written by `insertMany`. */
export const LOG_LINE_COLUMNS = [
  'attempt_id',
  'task_id',
  'job_id',
  'ts',
  'level',
  'stream',
  'message',
] as const;
