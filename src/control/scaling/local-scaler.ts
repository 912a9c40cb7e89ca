import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { EasError, silentLogger, TypedEmitter, type Logger } from '../../core/index.js';
import {
  localProcessScalerSettingsSchema,
  resolveSettings,
  START_WINDOW_MS,
  type LocalProcessScalerOptions,
  type LocalWorkerProcess,
  type ResolvedLocalProcessScalerSettings,
  type WorkerStream,
} from './options.js';
import type { Scaler, ScaleRequest, ScaleResult } from './scaler.js';

/** Lines of a worker's stderr kept to explain a worker that died at start. */
const STDERR_TAIL_LINES = 5;

/** Events of {@link LocalProcessScaler}. */
export interface LocalProcessScalerEvents {
  /** A worker process was started. */
  'worker:started': [LocalWorkerProcess];
  /** A worker process was asked to drain (SIGTERM): it stops claiming, finishes, exits. */
  'worker:draining': [LocalWorkerProcess];
  /**
   * A worker process ended. `expected` is false when nobody asked it to stop (it crashed or
   * was killed from outside); the controller re-queues its attempts.
   */
  'worker:exited': [
    {
      worker: LocalWorkerProcess;
      code: number | null;
      signal: NodeJS.Signals | null;
      expected: boolean;
    },
  ];
}

interface Child {
  /** Start order: scale-in drains the newest first. */
  readonly seq: number;
  readonly container: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  readonly stderrTail: string[];
  state: 'running' | 'draining' | 'exited';
  killTimer?: NodeJS.Timeout;
}

/**
 * A {@link Scaler} over worker processes on this machine, for `eas run --workers auto`: one
 * process per replica, started with the given command (e.g. `node bin/eas.js worker
 * --container <name>`), configured through its environment.
 *
 * Scale-in drains: it picks running processes whose worker ids (`<host>:<pid>:<suffix>`) are not
 * among the request's `busy` workers, newest first, sends each SIGTERM — an `eas worker` then
 * stops claiming, finishes what it runs and exits 0 — and counts it out of the replicas at
 * once; `scale` does not wait for the exit ({@link whenDrained} does). It never stops more than
 * asked and never a busy process, so it may keep more replicas than requested (`to` says how
 * many). A draining process that has not exited after `stopTimeout` is killed; its attempts are
 * recovered like those of any dead worker.
 *
 * A process that exits unasked is reported (`worker:exited` with `expected: false`, a warning
 * in the log) and no longer counted, so the next decision replaces it. After
 * `maxStartFailures` processes of a container died in a row right after starting, `scale`
 * refuses to start more and fails with `INTERNAL` quoting the last one's stderr.
 *
 * Prefer the Kubernetes scaler in a cluster; this one is for one machine.
 *
 * @example
 * ```ts
 * const scaler = new LocalProcessScaler({
 *   command: process.execPath,
 *   args: (c) => ['node_modules/plato-eas/bin/eas.js', 'worker', '--container', c],
 *   env: { PATH: '/usr/bin:/bin', EAS_DATABASE_URL: 'sqlite:/data/eas.db' },
 * });
 * await scaler.scale({ container: 'eas-base', replicas: 2, busy: [] });
 * await scaler.close(); // drains every worker and waits for them
 * ```
 */
export class LocalProcessScaler extends TypedEmitter<LocalProcessScalerEvents> implements Scaler {
  /** `local`. */
  readonly name = 'local';
  /** This machine's name: busy workers of other hosts are not this scaler's. */
  readonly host = hostname();
  private readonly options: LocalProcessScalerOptions;
  private readonly settings: ResolvedLocalProcessScalerSettings;
  private readonly log: Logger;
  private readonly children = new Set<Child>();
  private readonly startFailures = new Map<string, { count: number; tail: string[] }>();
  private closed = false;
  private started = 0;

  /** @throws InvalidInputError `USAGE` for a bad setting. */
  constructor(options: LocalProcessScalerOptions) {
    super();
    this.options = options;
    this.settings = resolveSettings(
      localProcessScalerSettingsSchema,
      { stopTimeout: options.stopTimeout, maxStartFailures: options.maxStartFailures },
      'LocalProcessScalerOptions',
    );
    this.log = (options.logger ?? silentLogger()).child({ component: 'scaler', scaler: 'local' });
  }

  /** Running (not draining) worker processes of `container`. */
  async replicas(container: string): Promise<number> {
    return this.running(container).length;
  }

  /** Every worker process started and not yet exited, draining ones included. */
  workers(): LocalWorkerProcess[] {
    return [...this.children].filter((c) => c.state !== 'exited').map(info);
  }

  /**
   * Starts or drains worker processes of `request.container` towards `request.replicas`.
   *
   * @throws EasError `INTERNAL` when a worker cannot be started (the program is missing, or
   *   `maxStartFailures` workers died in a row right after starting); `CLOSED` after close().
   */
  async scale(request: ScaleRequest): Promise<ScaleResult> {
    if (this.closed) throw new EasError('CLOSED', 'the local process scaler is closed');
    const { container } = request;
    const wanted = Math.max(0, Math.floor(request.replicas));
    const running = this.running(container);
    const from = running.length;
    if (wanted > from) {
      this.checkStartFailures(container, running);
      let started = 0;
      try {
        for (; from + started < wanted; started++) await this.start(container);
      } finally {
        if (started > 0) this.log.info({ container, from, to: from + started }, 'workers started');
      }
      return { container, from, to: from + started };
    }
    if (wanted < from) {
      const busy = new Set(
        request.busy.filter((w) => w.host === this.host).map((w) => pidOf(w.workerId)),
      );
      const idle = running.filter((c) => !busy.has(c.pid)).sort((a, b) => b.seq - a.seq);
      const stopping = idle.slice(0, from - wanted);
      for (const c of stopping) this.drain(c);
      if (stopping.length < from - wanted) {
        this.log.info(
          { container, kept: from - stopping.length, requested: wanted },
          'busy workers kept; draining only idle ones',
        );
      }
      return { container, from, to: from - stopping.length };
    }
    return { container, from, to: from };
  }

  /** Resolves once every worker asked to stop so far has exited. */
  async whenDrained(): Promise<void> {
    await Promise.all(
      [...this.children].filter((c) => c.state === 'draining').map((c) => c.exited),
    );
  }

  /**
   * Drains every worker process (SIGTERM: they finish what they run) and waits until all have
   * exited. Later `scale` calls fail with `CLOSED`. Safe to call twice.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.children) if (c.state === 'running') this.drain(c);
    await Promise.all([...this.children].map((c) => c.exited));
  }

  /** `await using scaler = …` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private running(container: string): Child[] {
    return [...this.children].filter((c) => c.container === container && c.state === 'running');
  }

  /** Refuses to start more workers of a container whose workers keep dying at start. */
  private checkStartFailures(container: string, running: Child[]): void {
    const failures = this.startFailures.get(container);
    if (!failures) return;
    // A worker that has lived through the start window shows the container can start.
    if (running.some((c) => Date.now() - c.startedAt >= START_WINDOW_MS)) {
      this.startFailures.delete(container);
      return;
    }
    if (failures.count < this.settings.maxStartFailures) return;
    const tail = failures.tail.length > 0 ? `; its last lines:\n${failures.tail.join('\n')}` : '';
    throw new EasError(
      'INTERNAL',
      `${failures.count} worker processes of container "${container}" in a row exited within ${START_WINDOW_MS / 1000} s of starting; not starting more. Start one by hand to see why${tail}`,
      { where: container, details: { container, startFailures: failures.count } },
    );
  }

  private async start(container: string): Promise<void> {
    const args = [...this.options.args(container)];
    const proc = spawn(this.options.command, args, {
      cwd: this.options.cwd,
      env: this.options.env === undefined ? undefined : { ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (proc.pid === undefined) {
      const [error] = (await once(proc, 'error').catch((e: unknown) => [e])) as [Error];
      throw new EasError(
        'INTERNAL',
        `cannot start a worker of container "${container}" with ${this.options.command}: ${error.message}`,
        { where: container, cause: error },
      );
    }
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.once('close', (code, signal) => resolve([code, signal])),
    );
    const child: Child = {
      seq: this.started++,
      container,
      pid: proc.pid,
      startedAt: Date.now(),
      process: proc,
      stderrTail: [],
      state: 'running',
      exited: closed.then(([code, signal]) => this.exited(child, code, signal)),
    };
    proc.on('error', (e) =>
      this.log.warn({ container, pid: child.pid, err: e.message }, 'worker process error'),
    );
    this.pipe(child, 'stdout');
    this.pipe(child, 'stderr');
    this.children.add(child);
    this.log.debug({ container, pid: child.pid }, 'worker process started');
    this.emit('worker:started', info(child));
  }

  private pipe(child: Child, stream: WorkerStream): void {
    const source = child.process[stream];
    if (!source) return;
    const lines = createInterface({ input: source, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (stream === 'stderr') {
        child.stderrTail.push(line);
        if (child.stderrTail.length > STDERR_TAIL_LINES) child.stderrTail.shift();
      }
      if (this.options.onOutput) this.options.onOutput(line, info(child), stream);
      else {
        const fields = { container: child.container, pid: child.pid, stream, line };
        if (stream === 'stderr') this.log.warn(fields, 'worker output');
        else this.log.info(fields, 'worker output');
      }
    });
  }

  private drain(child: Child): void {
    child.state = 'draining';
    child.process.kill('SIGTERM');
    child.killTimer = setTimeout(() => {
      this.log.warn(
        { container: child.container, pid: child.pid, ms: this.settings.stopTimeout },
        'worker did not exit after SIGTERM; killing it',
      );
      child.process.kill('SIGKILL');
    }, this.settings.stopTimeout);
    child.killTimer.unref();
    this.log.debug({ container: child.container, pid: child.pid }, 'worker draining');
    this.emit('worker:draining', info(child));
  }

  private exited(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(child.killTimer);
    const expected = child.state === 'draining';
    const worker = info(child);
    child.state = 'exited';
    this.children.delete(child);
    const fields = { container: child.container, pid: child.pid, code, signal };
    if (!expected) {
      this.log.warn(fields, 'worker process exited unexpectedly; its attempts will be re-queued');
      if (Date.now() - child.startedAt < START_WINDOW_MS) {
        const f = this.startFailures.get(child.container) ?? { count: 0, tail: [] };
        this.startFailures.set(child.container, {
          count: f.count + 1,
          tail: [...child.stderrTail],
        });
      } else this.startFailures.delete(child.container);
    } else if (code === 0 || signal === 'SIGTERM') {
      // SIGTERM itself ends a worker still starting (before it handles the signal): no work lost.
      this.log.debug(fields, 'worker process exited');
    } else this.log.warn(fields, 'worker process ended with a failure');
    this.emit('worker:exited', { worker, code, signal, expected });
  }
}

function info(c: Child): LocalWorkerProcess {
  return {
    container: c.container,
    pid: c.pid,
    state: c.state === 'running' ? 'running' : 'draining',
    startedAt: c.startedAt,
  };
}

/** The pid part of a worker id `<host>:<pid>:<suffix>`; NaN when it has none. */
function pidOf(workerId: string): number {
  const part = workerId.split(':')[1];
  return part !== undefined && /^\d+$/.test(part) ? Number(part) : NaN;
}
