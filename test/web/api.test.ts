/**
 * The dashboard's server without a browser: authentication and scopes, refusal to bind beyond
 * loopback without a token (in code and as `eas web`, exit 2), security headers, the
 * DNS-rebinding check, write actions, keyset pagination, downloads, plots and CSV, on a real
 * pipeline run — on SQLite and on PostgreSQL (same views, same answers).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadWebTokens } from '../../src/core/index.js';
import { createPipeline, type Pipeline } from '../../src/pipeline.js';
import { runChainToEnd } from '../../src/testing/index.js';
import { aggregatePlot, createWebServer, plotCsv, type WebServer } from '../../src/web/index.js';
import type { PlotRow } from '../../src/taskdb/index.js';
import { dropEasVariables, runMain } from '../cli/harness.js';
import { freshPostgresSchema, postgresAvailable, tempDir } from '../helpers/services.js';

const pgOk = await postgresAvailable();
const READ = 'read-token-0123456789';
const WRITE = 'write-token-0123456789';

/**
 * A grid of `set_metadata` tasks over size × period that report an `outcome` and an `sde`, a
 * task that fails, one it blocks (it needs the failing task's file), and a long sibling list so
 * the tree pages.
 */
const CHAIN = {
  job_name: 'api-fixture',
  working_directory: 'grid',
  task_list: [
    {
      task: 'execution_for_loop',
      name: 'sizes',
      parameter: 'size',
      values: [1, 2, 3],
      task_list: [
        {
          task: 'execution_for_loop',
          name: 'periods',
          parameter: 'period',
          values: [10, 20],
          task_list: [
            {
              task: 'set_metadata',
              name: 'search',
              values: { outcome: 'PASS', sde: "(metadata['size'] * 10 + metadata['period'])" },
            },
          ],
        },
      ],
    },
    {
      task: 'error',
      name: 'broken',
      message: 'no light curve today',
      outputs: { lightcurve: 'lc.gz' },
    },
    { task: 'null', name: 'needs_lc', inputs: { lightcurve: 'lc.gz' } },
    ...Array.from({ length: 5 }, (_, i) => ({ task: 'null', name: `extra_${i}` })),
  ],
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request to 127.0.0.1 (so the Host header can be set at will). */
function http(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function getJson<T>(port: number, path: string, token?: string): Promise<T> {
  const r = await http(port, path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

/** The views every engine must answer the same way. */
function viewSuite(
  name: string,
  open: () => Promise<{ pipeline: Pipeline; close: () => Promise<void> }>,
) {
  describe(name, () => {
    let pipeline: Pipeline;
    let close: () => Promise<void>;
    let web: WebServer;
    let jobId: number;

    beforeAll(async () => {
      ({ pipeline, close } = await open());
      ({ jobId } = await runChainToEnd(pipeline, CHAIN));
      web = await createWebServer({
        db: pipeline.db,
        files: pipeline.files,
        queue: pipeline.queue,
      });
    });
    afterAll(async () => {
      await web?.close();
      await close?.();
    });

    it('counts tasks by type and state, per job and in total', async () => {
      const p = await getJson<{
        totals: Record<string, number>;
        taskTypes: Record<string, Record<string, number>>;
        jobs: { id: number; counts: Record<string, number> }[];
      }>(web.port, `/api/progress?job=${jobId}`);
      const status = await pipeline.db.status(jobId);
      expect(p.totals).toEqual(status.totals);
      expect(p.taskTypes).toEqual(status.taskTypes);
      expect(p.totals.failed).toBe(1);
      expect(p.totals.blocked).toBe(1);
      const all = await getJson<{ totals: unknown }>(web.port, '/api/progress');
      expect(all.totals).toEqual((await pipeline.db.status()).totals);
    });

    it('counts work tasks apart for the progress bars: control-flow tasks are left out', async () => {
      const p = await getJson<{
        totals: Record<string, number>;
        workTotals: Record<string, number>;
        jobs: { counts: Record<string, number>; workCounts: Record<string, number> }[];
      }>(web.port, `/api/progress?job=${jobId}`);
      const status = await pipeline.db.status(jobId);
      // The chain's root, the loops and their iterations: all done, none of them work.
      const control = Object.entries(status.taskTypes)
        .filter(([type]) => type.startsWith('execution_'))
        .reduce((n, [, c]) => n + c.done, 0);
      expect(control).toBeGreaterThanOrEqual(5);
      // 2 × 3 searches and 5 extra null tasks did the work.
      expect(status.totals.done - control).toBe(11);
      expect(p.totals).toEqual(status.totals);
      expect(p.workTotals).toEqual({ ...status.totals, done: status.totals.done - control });
      expect(p.jobs[0]!.workCounts).toEqual(p.workTotals);
      expect(p.jobs[0]!.counts).toEqual(status.totals);
    });

    it('pages one level of the tree by sibling position', async () => {
      const roots = await getJson<{ items: { id: number; childCount: number }[] }>(
        web.port,
        `/api/tree?job=${jobId}`,
      );
      expect(roots.items).toHaveLength(1);
      const seen: string[] = [];
      let after: number | null | undefined;
      let pages = 0;
      do {
        const page = await getJson<{
          items: { name: string; position: number }[];
          next: number | null;
        }>(
          web.port,
          `/api/tree?job=${jobId}&parent=${roots.items[0]!.id}&limit=3${after === undefined ? '' : `&after=${after}`}`,
        );
        seen.push(...page.items.map((t) => t.name));
        after = page.next;
        pages++;
      } while (after !== null);
      expect(seen).toEqual([
        'sizes',
        'broken',
        'needs_lc',
        ...Array.from({ length: 5 }, (_, i) => `extra_${i}`),
      ]);
      expect(pages).toBe(3);
      expect(roots.items[0]!.childCount).toBe(8);
    });

    it('lists failed tasks with their error, and a task in full with its traceback and why it waits', async () => {
      const failed = await getJson<{ items: { id: number; error: string }[] }>(
        web.port,
        `/api/tasks?job=${jobId}&state=failed`,
      );
      expect(failed.items).toHaveLength(1);
      expect(failed.items[0]!.error).toContain('no light curve today');
      const detail = await getJson<{
        task: { attempts: { traceback: string | null }[] };
        logs: { lines: { message: string }[] }[];
      }>(web.port, `/api/tasks/${failed.items[0]!.id}`);
      expect(detail.task.attempts[0]!.traceback).toContain('no light curve today');
      expect(detail.logs[0]!.lines.length).toBeGreaterThan(0);
      const blocked = await getJson<{ items: { id: number }[] }>(
        web.port,
        `/api/tasks?job=${jobId}&state=blocked`,
      );
      const why = await getJson<{ task: { waitingFor: string[] } }>(
        web.port,
        `/api/tasks/${blocked.items[0]!.id}`,
      );
      expect(why.task.waitingFor.join('\n')).toContain('lc.gz');
      const bad = await http(web.port, '/api/tasks?state=finished');
      expect(bad.status).toBe(400);
      expect((await http(web.port, '/api/tasks/999999')).status).toBe(404);
    });

    it('plots an output against two loop parameters as a heat map, and as CSV', async () => {
      const fields = await getJson<{ parameters: string[]; outputs: string[] }>(
        web.port,
        `/api/plot/fields?job=${jobId}&type=set_metadata`,
      );
      expect(fields.parameters.slice(0, 2)).toEqual(['param:size', 'param:period']);
      expect(fields.outputs).toEqual(['output:outcome', 'output:sde']);
      const heat = await getJson<{ kind: string; xs: number[]; ys: number[]; z: number[][] }>(
        web.port,
        `/api/plot?job=${jobId}&type=set_metadata&x=param:size&y=param:period&value=output:sde`,
      );
      expect(heat.kind).toBe('heatmap');
      expect(heat.xs).toEqual([1, 2, 3]);
      expect(heat.ys).toEqual([10, 20]);
      expect(heat.z).toEqual([
        [20, 30, 40],
        [30, 40, 50],
      ]);
      const csv = await http(
        web.port,
        `/api/plot?job=${jobId}&type=set_metadata&x=param:size&value=output:outcome&format=csv`,
      );
      expect(csv.headers['content-type']).toContain('text/csv');
      expect(csv.body).toBe('size,tasks,fraction_PASS\n1,2,1\n2,2,1\n3,2,1\n');
    });

    it('summarises timings and outcomes, logs by severity, products by directory', async () => {
      const timings = await getJson<{ taskType: string; state: string; attempts: number }[]>(
        web.port,
        `/api/timings?job=${jobId}`,
      );
      expect(timings.find((t) => t.taskType === 'set_metadata')?.attempts).toBe(6);
      expect(timings.find((t) => t.taskType === 'error')?.state).toBe('failed');
      const outcomes = await getJson<unknown[]>(web.port, `/api/pass-fail?job=${jobId}`);
      expect(outcomes).toEqual([{ taskType: 'set_metadata', outcome: 'PASS', attempts: 6 }]);
      const errors = await getJson<{ items: { level: string }[] }>(
        web.port,
        `/api/logs?job=${jobId}&level=error`,
      );
      expect(errors.items.length).toBeGreaterThan(0);
      expect(new Set(errors.items.map((l) => l.level))).toEqual(new Set(['error']));
      const dirs = await getJson<{ workingDirectory: string; products: number }[]>(
        web.port,
        `/api/products/directories?job=${jobId}`,
      );
      expect(dirs).toEqual([{ workingDirectory: 'grid', products: 1 }]);
      const activity = await getJson<unknown[]>(web.port, `/api/activity?job=${jobId}`);
      expect(activity.length).toBeGreaterThan(0);
    });

    // Last in the suite: it submits two more jobs.
    it('keeps the cached views of each job apart, and answers 404 for a job that does not exist', async () => {
      // Two jobs left running (never run), each with its own directory and task type: views of
      // a running job, or of all jobs, are cached until the database changes.
      const submitted = [];
      for (const [dir, type] of [
        ['first-dir', 'null'],
        ['second-dir', 'error'],
      ] as const) {
        const s = await pipeline.controller().submit({
          chain: {
            job_name: dir,
            working_directory: dir,
            task_list: [{ task: type, name: 'only', outputs: { result: `${dir}.txt` } }],
          },
        });
        submitted.push(s.jobId!);
      }
      const [a, b] = submitted as [number, number];
      const dirsOf = (job: number) =>
        getJson<{ workingDirectory: string }[]>(web.port, `/api/products/directories?job=${job}`);
      expect((await dirsOf(a)).map((d) => d.workingDirectory)).toEqual(['first-dir']);
      expect((await dirsOf(b)).map((d) => d.workingDirectory)).toEqual(['second-dir']);
      const typesOf = async (query: string) =>
        (await getJson<{ type: string }[]>(web.port, `/api/plot/types${query}`)).map((t) => t.type);
      expect(await typesOf(`?job=${a}`)).toEqual(['null']);
      expect(await typesOf(`?job=${b}`)).toEqual(['error']);
      const all = await typesOf('');
      expect(all).toEqual(expect.arrayContaining(['error', 'null', 'set_metadata']));
      const fieldsOf = (query: string) =>
        getJson<{ parameters: string[] }>(web.port, `/api/plot/fields?type=set_metadata${query}`);
      expect((await fieldsOf(`&job=${a}`)).parameters).toEqual([]);
      expect((await fieldsOf('')).parameters).toEqual(
        expect.arrayContaining(['param:period', 'param:size']),
      );

      const missing = 987654;
      for (const path of [
        `/api/progress?job=${missing}`,
        `/api/tree?job=${missing}`,
        `/api/tasks?job=${missing}`,
        `/api/products/directories?job=${missing}`,
        `/api/products?job=${missing}&dir=grid`,
        `/api/logs?job=${missing}`,
        `/api/timings?job=${missing}`,
        `/api/pass-fail?job=${missing}`,
        `/api/activity?job=${missing}`,
        `/api/plot/types?job=${missing}`,
        `/api/plot/fields?job=${missing}&type=set_metadata`,
        `/api/plot?job=${missing}&type=set_metadata&x=param:size&value=output:outcome`,
      ]) {
        const r = await http(web.port, path);
        expect([path, r.status, JSON.parse(r.body)]).toEqual([
          path,
          404,
          { error: `No job ${missing}.` },
        ]);
      }
      // A view asked of a job that does not exist leaves the all-jobs view whole.
      expect(await typesOf('')).toEqual(all);
    });
  });
}

viewSuite('dashboard API on SQLite', async () => {
  dropEasVariables();
  const { dir, remove } = tempDir('eas-web-api-');
  const pipeline = await createPipeline({ config: loadConfig({ cwd: dir, env: {} }) });
  return {
    pipeline,
    close: async () => {
      await pipeline.close();
      remove();
    },
  };
});

describe.runIf(pgOk)('on PostgreSQL', () => {
  viewSuite('dashboard API on PostgreSQL', async () => {
    const { dir, remove } = tempDir('eas-web-pg-');
    const schema = await freshPostgresSchema();
    const config = { ...loadConfig({ cwd: dir, env: {} }), databaseUrl: schema.url };
    const pipeline = await createPipeline({ config });
    return {
      pipeline,
      close: async () => {
        await pipeline.close();
        await schema.drop();
        remove();
      },
    };
  });
});

describe('access control', () => {
  let pipeline: Pipeline;
  let remove: () => void;
  let jobId: number;
  const servers: WebServer[] = [];

  beforeAll(async () => {
    dropEasVariables();
    const t = tempDir('eas-web-auth-');
    remove = t.remove;
    pipeline = await createPipeline({ config: loadConfig({ cwd: t.dir, env: {} }) });
    // A job left running (nothing runs it), so it can be cancelled.
    ({ jobId } = (await pipeline
      .controller()
      .submit({ chain: { task_list: [{ task: 'null' }] } })) as {
      jobId: number;
    });
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await pipeline.close();
    remove();
  });

  async function serve(options: Partial<Parameters<typeof createWebServer>[0]> = {}) {
    const s = await createWebServer({
      db: pipeline.db,
      files: pipeline.files,
      queue: pipeline.queue,
      ...options,
    });
    servers.push(s);
    return s;
  }

  it('refuses to bind beyond loopback without a token, in code and as eas web (exit 2)', async () => {
    await expect(serve({ host: '0.0.0.0' })).rejects.toMatchObject({ code: 'USAGE' });
    const { dir, remove: rm } = tempDir('eas-web-cli-');
    try {
      const r = await runMain(['web', '--host', '0.0.0.0', '--port', '0'], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('without a bearer token');
      expect(r.stderr).toContain('EAS_WEB_TOKEN');
    } finally {
      rm();
    }
  });

  it('needs a bearer token on every API request when tokens are set, compared exactly', async () => {
    const s = await serve({ host: '0.0.0.0', tokens: { readToken: READ } });
    expect((await http(s.port, '/api/progress')).status).toBe(401);
    expect((await http(s.port, '/api/progress')).headers['www-authenticate']).toContain('Bearer');
    for (const wrong of [READ.slice(0, -1), `${READ}x`, READ.toUpperCase(), `Basic ${READ}`]) {
      const r = await http(s.port, '/api/progress', {
        headers: { authorization: wrong.startsWith('Basic') ? wrong : `Bearer ${wrong}` },
      });
      expect(r.status, wrong).toBe(401);
    }
    const ok = await http(s.port, '/api/session', { headers: { authorization: `Bearer ${READ}` } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ scope: 'read', writeActions: false });
    // The page itself carries no data and loads without a token (it then asks for one).
    expect((await http(s.port, '/')).status).toBe(200);
  });

  it('sets a strict content security policy, nosniff and no framing on every answer', async () => {
    const s = await serve();
    for (const path of ['/', '/api/progress', '/ui/app.js', '/nothing-here']) {
      const r = await http(s.port, path);
      expect(r.headers['content-security-policy'], path).toContain("script-src 'self'");
      expect(r.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
      expect(r.headers['x-content-type-options'], path).toBe('nosniff');
    }
    expect((await http(s.port, '/vendor/plotly.min.js')).status).toBe(200);
    expect((await http(s.port, '/ui/../../package.json')).status).toBe(404);
  });

  it('answers only loopback host names when no token protects it (DNS rebinding)', async () => {
    const s = await serve();
    expect(
      (await http(s.port, '/api/session', { headers: { host: 'evil.example:80' } })).status,
    ).toBe(421);
    expect(
      (await http(s.port, '/api/session', { headers: { host: `localhost:${s.port}` } })).status,
    ).toBe(200);
  });

  it('allows cancel, rerun and reschedule only with the write token', async () => {
    const s = await serve({ tokens: { readToken: READ, writeToken: WRITE } });
    const post = (path: string, token: string) =>
      http(s.port, path, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const denied = await post(`/api/jobs/${jobId}/cancel`, READ);
    expect(denied.status).toBe(403);
    expect((await pipeline.db.job(jobId))!.status).toBe('running');
    const session = await getJson<{ scope: string; writeActions: boolean }>(
      s.port,
      '/api/session',
      WRITE,
    );
    expect(session).toEqual(expect.objectContaining({ scope: 'write', writeActions: true }));
    const resch = await post('/api/reschedule', WRITE);
    expect(resch.status).toBe(200);
    expect(JSON.parse(resch.body).queued).toBe(1);
    const cancelled = await post(`/api/jobs/${jobId}/cancel`, WRITE);
    expect(cancelled.status).toBe(200);
    expect((await pipeline.db.job(jobId))!.status).toBe('cancelled');
    expect((await post(`/api/jobs/${jobId}/cancel`, WRITE)).status).toBe(409);
    const rerun = await post(`/api/jobs/${jobId}/rerun`, WRITE);
    expect(rerun.status).toBe(200);
    expect((await pipeline.db.job(jobId))!.status).toBe('running');
  });

  it('reads tokens from the environment or files only, and rejects weak or shared ones', () => {
    const { dir, remove: rm } = tempDir('eas-web-tokens-');
    try {
      writeFileSync(join(dir, 'token'), `${WRITE}\n`);
      expect(
        loadWebTokens({ EAS_WEB_TOKEN: READ, EAS_WEB_WRITE_TOKEN_FILE: join(dir, 'token') }),
      ).toEqual({
        readToken: READ,
        writeToken: WRITE,
      });
      const short = (() => {
        try {
          loadWebTokens({ EAS_WEB_TOKEN: 'abc' });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(short?.message).toContain('EAS_WEB_TOKEN');
      expect(JSON.stringify(short)).not.toContain('abc"');
      expect(() => loadWebTokens({ EAS_WEB_TOKEN: READ, EAS_WEB_WRITE_TOKEN: READ })).toThrow(
        /EAS_WEB_WRITE_TOKEN/,
      );
      expect(() => loadWebTokens({ EAS_WEB_TOKEN_FILE: join(dir, 'missing') })).toThrow(
        /cannot read/,
      );
    } finally {
      rm();
    }
  });
});

describe('plot aggregation', () => {
  const row = (size: number, period: number, outcome: string | null, wall: number): PlotRow => ({
    taskId: size * 100 + period,
    state: 'done',
    metadata: { size: { type: 'float', value: size }, period: { type: 'int', value: period } },
    description: { lc_duration: 730 },
    output: outcome === null ? {} : { outcome: { type: 'str', value: outcome } },
    wallMs: wall,
    cpuMs: wall / 10,
    cpuChildrenMs: wall * 2,
  });
  const rows = [
    row(0.5, 10, 'FAIL', 5),
    row(0.5, 10, 'PASS', 7),
    row(2, 10, 'PASS', 9),
    row(0.5, 20, 'FAIL', 11),
    row(2, 20, null, 13),
  ];

  it('gives the PASS fraction per cell over two parameters, skipping tasks without a value', () => {
    const p = aggregatePlot(rows, {
      taskType: 't',
      x: 'param:size',
      y: 'param:period',
      value: 'output:outcome',
    });
    expect(p.kind).toBe('heatmap');
    expect(p.level).toBe('PASS');
    expect(p.xs).toEqual([0.5, 2]);
    expect(p.ys).toEqual([10, 20]);
    expect(p.z).toEqual([
      [0.5, 1],
      [0, null],
    ]);
    expect(p.counts).toEqual([
      [2, 1],
      [1, 0],
    ]);
    expect(p.used).toBe(4);
    expect(plotCsv(p)).toBe(
      'size,period,tasks,fraction_PASS\n0.5,10,2,0.5\n2,10,1,1\n0.5,20,1,0\n',
    );
  });

  it('gives the mean of a numeric value per x, with the raw points', () => {
    const p = aggregatePlot(rows, {
      taskType: 't',
      x: 'desc:lc_duration',
      value: 'timing:wall_ms',
    });
    expect(p.kind).toBe('xy');
    expect(p.series).toEqual([{ x: 730, value: 9, count: 5 }]);
    expect(p.points.v).toEqual([5, 7, 9, 11, 13]);
    // CPU with child processes, an external code's work, beside the worker's own.
    const cpu = (value: 'timing:cpu_ms' | 'timing:cpu_children_ms') =>
      aggregatePlot(rows, { taskType: 't', x: 'desc:lc_duration', value }).series;
    expect(cpu('timing:cpu_children_ms')).toEqual([{ x: 730, value: 18, count: 5 }]);
    expect(cpu('timing:cpu_ms')).toEqual([{ x: 730, value: expect.closeTo(0.9, 9), count: 5 }]);
  });
});
