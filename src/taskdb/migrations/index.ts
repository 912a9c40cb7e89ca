import type { Migration } from '../../core/index.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-server-lifecycle.js';
import * as m0003 from './0003-dashboard-indexes.js';
import * as m0004 from './0004-run-what-you-release.js';
import * as m0005 from './0005-take-in-one-write.js';
import * as m0006 from './0006-settle-after-lock.js';
import * as m0007 from './0007-start-as-run.js';
import * as m0008 from './0008-job-totals.js';
import * as m0009 from './0009-timing-cpu-children.js';
import * as m0010 from './0010-lock-released-products.js';
import * as m0011 from './0011-job-locks.js';
import * as m0012 from './0012-batch-joins.js';

/**
 * The task database's migrations, in order. Append-only: a released migration is never
 * edited; a change is a new entry.
 */
export const TASKDB_MIGRATIONS: readonly Migration[] = [
  { name: '0001-initial', ...m0001 },
  { name: '0002-server-lifecycle', ...m0002 },
  { name: '0003-dashboard-indexes', ...m0003 },
  { name: '0004-run-what-you-release', ...m0004 },
  { name: '0005-take-in-one-write', ...m0005 },
  { name: '0006-settle-after-lock', ...m0006 },
  { name: '0007-start-as-run', ...m0007 },
  { name: '0008-job-totals', ...m0008 },
  { name: '0009-timing-cpu-children', ...m0009 },
  { name: '0010-lock-released-products', ...m0010 },
  { name: '0011-job-locks', ...m0011 },
  { name: '0012-batch-joins', ...m0012 },
];
