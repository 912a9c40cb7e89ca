import { EasError } from '../core/index.js';

/**
 * A queue (or queue backend) was used after `close()`. Its code is `CLOSED`; the message names
 * the operation so a worker's log says which call came too late.
 */
export class QueueClosedError extends EasError {
  constructor(operation: string, backend: string) {
    super(
      'CLOSED',
      `The ${backend} job queue is closed: ${operation}() was called after close().`,
      {
        where: `queue.${operation}`,
      },
    );
  }
}
