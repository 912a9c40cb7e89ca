import Fastify, { type FastifyRequest } from 'fastify';
import {
  DEFAULT_WEB_HOST,
  EasError,
  silentLogger,
  type Logger,
  type WebTokens,
} from '../core/index.js';
import type { FileRepository } from '../filestore/index.js';
import type { JobQueue } from '../queue/index.js';
import type { TaskDatabase } from '../taskdb/index.js';
import { AggregateViews, registerApi, securityHeaders, sendError } from './api.js';
import { AccessControl, type AccessScope } from './auth.js';
import { FingerprintCache, LiveHub } from './live.js';
import { readStatic, staticFiles } from './static.js';

/** Options of {@link createWebServer}. */
export interface WebServerOptions {
  /** The task database the views read. */
  db: TaskDatabase;
  /** The file repository downloads stream from. */
  files: FileRepository;
  /**
   * The job queue the write actions (cancel, rerun, reschedule) use, or a function opening it.
   * A function is called at the first write action, not before, so the dashboard starts and
   * reads while the queue (Redis) is unreachable; an action that finds it unreachable answers
   * 503 and the next one tries to open it again. A queue it opens stays the caller's to close.
   * Without a queue the write actions are off.
   * @defaultValue none
   */
  queue?: JobQueue | (() => Promise<JobQueue>);
  /** Interface to bind. @defaultValue `'127.0.0.1'` */
  host?: string;
  /** Port; 0 picks a free one (see {@link WebServer.port}). @defaultValue 0 */
  port?: number;
  /**
   * Bearer tokens. Without any the server binds only to loopback and is read-only; with them
   * every API request needs one, and the write token enables the write actions.
   * @defaultValue none
   */
  tokens?: Partial<WebTokens>;
  /** How often live updates look for progress, ms. @defaultValue 1000 */
  liveIntervalMs?: number;
  /** Logger; binds `{ component: 'web' }`. Never given tokens or request headers. @defaultValue silent */
  logger?: Logger;
}

/** A running dashboard. */
export interface WebServer extends AsyncDisposable {
  /** The bound address. */
  readonly host: string;
  /** The bound port. */
  readonly port: number;
  /** `http://host:port/`. */
  readonly url: string;
  /** Whether API requests must carry a bearer token. */
  readonly tokenRequired: boolean;
  /** Stops accepting requests, ends live streams and closes connections (not the database). */
  close(): Promise<void>;
}

/** Largest request body (the write actions take none). */
const BODY_LIMIT = 64 * 1024;

/**
 * Starts the web dashboard (DESIGN §7): the JSON API over the task database and file
 * repository under `/api/`, live progress as server-sent events at `/api/events`, and the
 * browser UI (plain ES modules under `src/web/ui`, plotly from its npm package).
 *
 * Security: loopback by default; bound elsewhere it refuses to start without a bearer token;
 * tokens are compared in constant time; every answer carries a strict CSP, `nosniff` and
 * `frame-ancestors 'none'`. The database, queue and file repository stay the caller's to close.
 *
 * @example
 * ```ts
 * await using web = await createWebServer({ db, files, queue, port: 8080 });
 * console.log(`dashboard on ${web.url}`);
 * ```
 * @throws EasError `USAGE` when bound beyond loopback without a token, or the address cannot
 *   be bound.
 */
export async function createWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? DEFAULT_WEB_HOST;
  const log = (options.logger ?? silentLogger()).child({ component: 'web' });
  const access = new AccessControl(host, {
    readToken: options.tokens?.readToken,
    writeToken: options.tokens?.writeToken,
  });
  const files = staticFiles();
  const bodies = new Map<string, Buffer>();
  const scopes = new WeakMap<FastifyRequest, AccessScope>();
  const cache = new FingerprintCache(options.db);
  const views = new AggregateViews(options.db, cache);
  const live = new LiveHub(cache, () => views.progress(), options.liveIntervalMs ?? 1000, log);

  // Fastify's own logger stays off: request lines would carry nothing we need, and the
  // Authorization header must never reach a log.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: false });

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(securityHeaders())) void reply.header(k, v);
    if (!access.hostAllowed(req.headers.host)) {
      return reply.code(421).send({
        error: 'This dashboard answers only to a loopback host name (127.0.0.1, localhost).',
      });
    }
    if (!req.url.startsWith('/api/')) return;
    void reply.header('cache-control', 'no-store');
    const scope = access.scopeOf(req.headers.authorization);
    if (scope === undefined) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="eas web"')
        .send({ error: 'A bearer token is required: send "Authorization: Bearer <token>".' });
    }
    scopes.set(req, scope);
  });

  app.setErrorHandler((e, _req, reply) => sendError(reply, e, log));
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `Nothing at ${req.method} ${req.url.split('?')[0]}` }),
  );

  registerApi(app, {
    db: options.db,
    files: options.files,
    queue: options.queue === undefined ? undefined : queueOpener(options.queue),
    live,
    views,
    scopeOf: (req) => scopes.get(req) ?? 'read',
    tokenRequired: access.tokenRequired,
    logger: log,
  });

  for (const [url, file] of files) {
    app.get(url, async (_req, reply) =>
      reply
        .header('content-type', file.contentType)
        .header('cache-control', file.immutable ? 'public, max-age=86400' : 'no-cache')
        .send(readStatic(file, bodies)),
    );
  }

  try {
    await app.listen({ host, port: options.port ?? 0 });
  } catch (e) {
    live.close();
    await app.close();
    throw new EasError(
      'USAGE',
      `Cannot listen on ${host}:${options.port ?? 0}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { where: '--port', cause: e },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info({ host, port, tokenRequired: access.tokenRequired }, 'dashboard listening');
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      live.close();
      await app.close();
    })());
  return {
    host,
    port,
    url: `http://${urlHost}:${port}/`,
    tokenRequired: access.tokenRequired,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The queue of the write actions, opened on first use: one opening shared by concurrent
 * actions, kept once it succeeded, and tried again by the next action after it failed. A failure
 * becomes `BACKEND_UNAVAILABLE` (HTTP 503) saying that reads go on.
 */
function queueOpener(queue: JobQueue | (() => Promise<JobQueue>)): () => Promise<JobQueue> {
  if (typeof queue !== 'function') return () => Promise.resolve(queue);
  let opening: Promise<JobQueue> | undefined;
  return () =>
    (opening ??= queue().catch((e: unknown) => {
      opening = undefined;
      throw new EasError(
        'BACKEND_UNAVAILABLE',
        `The job queue is unreachable, so this action cannot run now (${e instanceof Error ? e.message : String(e)}). The dashboard still reads the task database; try again once the queue is back.`,
        { where: 'queue', cause: e, details: { status: 503 } },
      );
    }));
}
