/**
 * The worker-thread side of {@link boxLeastSquaresInThreads}: receives prepared inputs and a
 * share of the periods, answers with that share's spectrum (its buffers transferred, not
 * copied). Built as its own file (`dist/science/bls-thread.js`) because a worker thread starts
 * from a module path.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { blsSpectrum } from './bls.js';
import type { BlsThreadReply, BlsThreadRequest } from './bls-threads.js';

const port = parentPort;
if (port === null) throw new Error('bls-thread.js runs as a worker thread only');

port.on('message', (request: BlsThreadRequest) => {
  let reply: BlsThreadReply;
  try {
    const spectrum = blsSpectrum(request.prep, request.periods);
    reply = { id: request.id, spectrum };
    port.postMessage(
      reply,
      Object.values(spectrum).map((a: Float64Array) => a.buffer as ArrayBuffer),
    );
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id: request.id, error: { message: err.message, stack: err.stack ?? err.message } };
    port.postMessage(reply);
  }
});
