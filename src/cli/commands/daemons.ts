import type { Command } from 'commander';
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  EasError,
  startOpsServer,
  type Logger,
  type OpsServer,
  type ProbeResult,
  type ResolvedConfig,
} from '../../core/index.js';
import {
  createKubernetesScaler,
  LeaderElection,
  registerControllerMetrics,
  type Scaler,
} from '../../control/index.js';
import { createPipeline, type Pipeline } from '../../pipeline.js';
import { registerWorkerMetrics } from '../../sdk/index.js';
import { configOf, loggerOf, type CommandContext } from '../context.js';

/** `host:port` of `--listen`, or a bare port (on 127.0.0.1). @throws EasError `USAGE` */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new EasError(
      'USAGE',
      `--listen must be host:port or a port (0 for any free one), got "${value}"`,
      { where: '--listen' },
    );
  }
  let host = m[1] ?? '127.0.0.1';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port };
}

/** A daemon's configuration: like every command's, but logging at `info` unless told otherwise. */
function daemonConfig(ctx: CommandContext): ResolvedConfig {
  return configOf(ctx, 'info');
}

/** Ready when the task database and the queue both answer. */
async function backendsReady(p: Pipeline): Promise<ProbeResult> {
  await p.db.sql.all('SELECT 1 AS ok');
  await p.queue.counts();
  return { ok: true, detail: { queue: p.queue.backendName } };
}

async function startOps(
  listen: string | undefined,
  metrics: Registry,
  ready: () => Promise<ProbeResult>,
  log: Logger,
  ctx: CommandContext,
): Promise<OpsServer | undefined> {
  if (listen === undefined) return undefined;
  const { host, port } = parseListen(listen);
  const ops = await startOpsServer({ host, port, metrics, ready, logger: log });
  ctx.output.err(`serving /healthz /readyz /metrics on http://${ops.host}:${ops.port}`);
  return ops;
}

/** What `bin/eas.js` keeps of a stop signal that came while the CLI loaded. */
interface EarlyStop {
  signal?: string;
  handler: (signal: NodeJS.Signals) => void;
}

/**
 * Listens for SIGTERM/SIGINT from the start of a daemon (a pod may be stopped while it starts,
 * and must then exit 0): a signal before `ready` is kept (so is one `bin/eas.js` kept while the
 * CLI loaded) and `stopped()` says so; `ready(stop)` then returns false, for the daemon to end
 * instead of starting, and otherwise true, `stop` running on the first signal from then on.
 * Returns the controls and the function that removes the handlers.
 */
function stopSignals(log: Logger): {
  stopped: () => boolean;
  ready: (stop: (signal: string) => void) => boolean;
  remove: () => void;
} {
  const early = (globalThis as Record<symbol, EarlyStop | undefined>)[
    Symbol.for('plato-eas.early-stop-signal')
  ];
  let signalled = early?.signal;
  let onStop: ((signal: string) => void) | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    log.info({ component: 'daemon', signal }, 'stopping gracefully');
    signalled ??= signal;
    onStop?.(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  if (early) {
    process.off('SIGTERM', early.handler);
    process.off('SIGINT', early.handler);
  }
  return {
    stopped: () => signalled !== undefined,
    ready: (stop) => {
      if (signalled !== undefined) return false;
      onStop = stop;
      return true;
    },
    remove: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

/**
 * Opens the pipeline; a failure after a stop signal (a server away while the daemon was being
 * stopped anyway) ends the daemon quietly, exit 0, instead of as a start-up failure.
 */
async function openUnlessStopped(
  signals: { stopped: () => boolean },
  open: () => Promise<Pipeline>,
): Promise<Pipeline | undefined> {
  try {
    return await open();
  } catch (e) {
    if (signals.stopped()) return undefined;
    throw e;
  }
}

function parseCount(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new EasError('USAGE', `${flag} must be an integer from 1 to ${max}, got "${value}"`, {
      where: flag,
    });
  }
  return n;
}

/** `eas controller` and `eas worker`: the daemons of cluster mode (DESIGN §5). */
export function registerDaemons(program: Command, ctx: CommandContext): void {
  program
    .command('controller')
    .description(
      'run the controller daemon: reaps leases, re-queues stalled work, expands loops and conditionals; ' +
        'one leads among controllers sharing a database, the others stand by and take over',
    )
    .option('--listen <host:port>', 'serve /healthz, /readyz and /metrics (e.g. 0.0.0.0:9464)')
    .option(
      '--scaler <kind>',
      'autoscale worker containers: none, or kubernetes (their Deployments, from inside the cluster or the kubeconfig)',
      'none',
    )
    .action(async (opts: { listen?: string; scaler: string }) => {
      if (opts.listen !== undefined) parseListen(opts.listen);
      if (opts.scaler !== 'none' && opts.scaler !== 'kubernetes') {
        throw new EasError('USAGE', `--scaler must be none or kubernetes, got "${opts.scaler}"`, {
          where: '--scaler',
        });
      }
      const config = daemonConfig(ctx);
      const log = loggerOf(config);
      const signals = stopSignals(log);
      let p: Pipeline | undefined;
      let ops: OpsServer | undefined;
      let scaler: Scaler | undefined;
      try {
        p = await openUnlessStopped(signals, () => createPipeline({ config, logger: log }));
        if (!p) return;
        if (opts.scaler === 'kubernetes') scaler = await createKubernetesScaler({ logger: log });
        const controller = p.controller(scaler ? { scaler } : {});
        const election = new LeaderElection({
          lock: p.db.sql.sessionLock('controller'),
          checkMs: Math.max(100, Math.min(1000, Math.floor(config.leaseMs / 3))),
          logger: log,
        });
        const metrics = new Registry();
        collectDefaultMetrics({ register: metrics });
        const pipeline = p;
        registerControllerMetrics(metrics, { db: p.db, queue: p.queue, controller, election });
        election.on('leader:elected', () => ctx.output.err('controller: leading'));
        election.on('leader:standby', () =>
          ctx.output.err('controller: standing by (another controller leads)'),
        );
        ops = await startOps(
          opts.listen,
          metrics,
          async () => {
            const r = await backendsReady(pipeline);
            return { ok: r.ok, detail: { ...r.detail, role: election.role } };
          },
          log,
          ctx,
        );
        // Stopped while starting: nothing to lead, nothing to hand back.
        if (!signals.ready(() => election.stop())) return;
        await election.run(async (signal) => {
          const stop = (): void => controller.stop('no longer leading');
          signal.addEventListener('abort', stop, { once: true });
          try {
            await controller.run();
          } finally {
            signal.removeEventListener('abort', stop);
          }
        });
      } finally {
        signals.remove();
        await ops?.close();
        await scaler?.close();
        await p?.close();
      }
    });

  program
    .command('worker')
    .description(
      'run a worker daemon: claims attempts of its task types and runs them; on SIGTERM it stops ' +
        'claiming and lets running attempts finish (or hands them back after the grace period)',
    )
    .option('--types <a,b,…>', 'task types to claim (default: every non-control-flow type)')
    .option('--container <name>', 'claim the task types of this registry container')
    .option('--concurrency <n>', 'attempts run at once (default: worker.concurrency, else 4)')
    .option('--grace <seconds>', 'on SIGTERM, how long running attempts may finish', '30')
    .option('--listen <host:port>', 'serve /healthz, /readyz and /metrics (e.g. 0.0.0.0:9464)')
    .option(
      '--dispatch',
      "be served by the leading controller's dispatcher instead of claiming (Redis queue; default: worker.dispatch)",
    )
    .action(
      async (opts: {
        types?: string;
        container?: string;
        concurrency?: string;
        grace: string;
        listen?: string;
        dispatch?: boolean;
      }) => {
        if (opts.listen !== undefined) parseListen(opts.listen);
        const concurrency = parseCount(opts.concurrency, '--concurrency', 1024);
        const grace = Number(opts.grace);
        if (!(grace >= 0) || !Number.isFinite(grace)) {
          throw new EasError(
            'USAGE',
            `--grace must be a number of seconds ≥ 0, got "${opts.grace}"`,
            {
              where: '--grace',
            },
          );
        }
        if (opts.types !== undefined && opts.container !== undefined) {
          throw new EasError('USAGE', 'give --types or --container, not both', {
            where: '--types',
          });
        }
        const config = daemonConfig(ctx);
        const log = loggerOf(config);
        const signals = stopSignals(log);
        let p: Pipeline | undefined;
        let ops: OpsServer | undefined;
        try {
          p = await openUnlessStopped(signals, () => createPipeline({ config, logger: log }));
          if (!p) return;
          const pipeline = p;
          const types = workerTypes(p, opts);
          const harness = p.worker({
            types,
            concurrency: concurrency ?? config.workerConcurrency,
            graceMs: Math.round(grace * 1000),
            dispatch: opts.dispatch === true || config.workerDispatch,
          });
          const metrics = new Registry();
          collectDefaultMetrics({ register: metrics });
          registerWorkerMetrics(metrics, harness);
          ops = await startOps(opts.listen, metrics, () => backendsReady(pipeline), log, ctx);
          // Stopped while starting: it has claimed nothing.
          if (!signals.ready((signal) => harness.stop(signal))) return;
          const dispatched = opts.dispatch === true || config.workerDispatch;
          ctx.output.err(
            `worker: ${dispatched ? 'served by the dispatcher for' : 'claiming'} ${types ? types.join(', ') : 'every task type'} (concurrency ${concurrency ?? config.workerConcurrency})`,
          );
          await harness.run();
        } finally {
          signals.remove();
          await ops?.close();
          await p?.close();
        }
      },
    );
}

/** The task types a worker claims, checked against the registry. @throws EasError `USAGE` */
function workerTypes(
  p: Pipeline,
  opts: { types?: string; container?: string },
): string[] | undefined {
  if (opts.container !== undefined) {
    const names = p.registry.containers().map((c) => c.name);
    if (!names.includes(opts.container)) {
      throw new EasError(
        'USAGE',
        `--container "${opts.container}" is not in the registry (containers: ${names.join(', ')})`,
        { where: '--container' },
      );
    }
    return p.registry.typesOfContainer(opts.container).map((t) => t.name);
  }
  if (opts.types === undefined) return undefined;
  const types = opts.types
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (types.length === 0) {
    throw new EasError('USAGE', '--types names no task type', { where: '--types' });
  }
  const unknown = types.filter((t) => !p.registry.has(t));
  if (unknown.length > 0) {
    throw new EasError(
      'USAGE',
      `--types: unknown task type${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')}`,
      { where: '--types' },
    );
  }
  return types;
}
