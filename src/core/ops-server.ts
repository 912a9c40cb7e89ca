/**
 * The operations endpoint of a daemon (`eas controller`, `eas worker`): `/healthz` (the process
 * answers: Kubernetes' liveness probe), `/readyz` (it can do its work — its database and queue
 * answer: the readiness probe) and `/metrics` (Prometheus text format, from a prom-client
 * registry). Read-only, no secrets in any answer.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { EasError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

/** What a probe answers: ok or not, and a few facts to show (never secrets). */
export interface ProbeResult {
  ok: boolean;
  detail?: Record<string, unknown>;
}

/** Options of {@link startOpsServer}. */
export interface OpsServerOptions {
  /** Interface to bind. @defaultValue 127.0.0.1 */
  host?: string;
  /** Port; 0 picks a free one (see {@link OpsServer.port}). */
  port: number;
  /** The metrics served at `/metrics`. */
  metrics: Registry;
  /** `/readyz`: can the process do its work now? */
  ready: () => Promise<ProbeResult>;
  /** `/healthz`: is the process alive and not wedged? @defaultValue always ok */
  healthy?: () => Promise<ProbeResult>;
  /** Logger; binds `{ component: 'ops' }`. @defaultValue silent */
  logger?: Logger;
}

/** A running operations endpoint. */
export interface OpsServer {
  /** The bound address, e.g. `127.0.0.1`. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

/** How long a probe may take before it counts as failed, ms. */
const PROBE_TIMEOUT_MS = 5000;

async function probe(check: () => Promise<ProbeResult>): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check(),
      new Promise<ProbeResult>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({ ok: false, detail: { error: `no answer within ${PROBE_TIMEOUT_MS} ms` } }),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (e) {
    return { ok: false, detail: { error: e instanceof Error ? e.message : String(e) } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the endpoint.
 *
 * @throws EasError `USAGE` when the address cannot be bound (in use, not permitted).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const log = (options.logger ?? silentLogger()).child({ component: 'ops' });
  const healthy = options.healthy ?? (() => Promise.resolve({ ok: true }));
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const r = await probe(path === '/healthz' ? healthy : options.ready);
      const body = JSON.stringify({ status: r.ok ? 'ok' : 'unavailable', ...r.detail });
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (path === '/metrics') {
      try {
        const text = await options.metrics.metrics();
        res.writeHead(200, { 'content-type': options.metrics.contentType }).end(text);
      } catch (e) {
        log.warn({ err: e }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      }
      return;
    }
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: /healthz /readyz /metrics\n');
  };
  const server = createServer((req, res) => {
    answer(req, res).catch((e: unknown) => {
      log.error({ err: e }, 'ops request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new EasError('USAGE', `Cannot listen on ${host}:${options.port}: ${e.code ?? e.message}`, {
          where: '--listen',
          cause: e,
        }),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  log.info({ host, port: address.port }, 'serving /healthz /readyz /metrics');
  return {
    host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
