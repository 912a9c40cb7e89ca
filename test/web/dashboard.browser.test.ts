/**
 * The dashboard in a real browser (playwright-core driving Debian's Chromium, never a downloaded
 * browser) against a real pipeline run: `eas demo` (SQLite, external commands, a failing task,
 * a blocked one, a grid of transit searches). Every view loads without console errors, a failed
 * task is two clicks from the progress view and shows its traceback, a file downloads with its
 * checksum, a count changes live while a job runs, the read-only mode hides write actions, and
 * beyond loopback a request without the token is refused. Screenshots of every view go to
 * test-output/screenshots/ (gitignored).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TaskDescriptor } from '../../src/chain/index.js';
import { cancelJob } from '../../src/control/index.js';
import { createPipeline, type Pipeline } from '../../src/pipeline.js';
import { runChainToEnd } from '../../src/testing/index.js';
import { createWebServer, type WebServer } from '../../src/web/index.js';
import { dropEasVariables, REPO, runMain, tempDir } from '../cli/harness.js';
import { chromiumAvailable, launchChromium, waitForText } from './browser.js';

// Globals of the page, for the functions that run in the browser (tests compile without the DOM lib).
declare const document: {
  getElementById(
    id: string,
  ): { hasAttribute(name: string): boolean; children: { length: number } } | null;
  querySelector(selector: string): { textContent: string | null } | null;
};
declare const location: { hash: string };

const SHOTS = join(REPO, 'test-output', 'screenshots');
const DOCS_SHOT = join(REPO, 'docs', 'images', 'dashboard.png');
const WRITE_TOKEN = 'w'.repeat(8) + 'write-token-for-tests';
const READ_TOKEN = 'r'.repeat(8) + 'read-token-for-tests';

const haveBrowser = chromiumAvailable();
// Read now: the suite removes every EAS_* variable before it runs the CLI.
const UPDATE_DOCS_SHOT = process.env.EAS_UPDATE_DOCS_SCREENSHOT === '1';

describe.skipIf(!haveBrowser)('dashboard in Chromium against an eas demo run', () => {
  let dir: string;
  let remove: () => void;
  let pipeline: Pipeline;
  let readOnly: WebServer;
  let writable: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let demoJob: number;

  beforeAll(async () => {
    dropEasVariables();
    ({ dir, remove } = tempDir('web'));
    const demo = await runMain(['demo', 'survey'], dir);
    expect(demo.code, demo.stderr).toBe(0);
    pipeline = await createPipeline({ cwd: join(dir, 'survey') });
    demoJob = (await pipeline.db.jobs())[0]!.id;
    readOnly = await createWebServer({
      db: pipeline.db,
      files: pipeline.files,
      queue: pipeline.queue,
      liveIntervalMs: 150,
    });
    writable = await createWebServer({
      db: pipeline.db,
      files: pipeline.files,
      queue: pipeline.queue,
      tokens: { writeToken: WRITE_TOKEN },
      liveIntervalMs: 150,
    });
    browser = await launchChromium();
    // One context for every page: plotly (4.8 MB) is fetched and compiled once.
    context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await readOnly?.close();
    await writable?.close();
    await pipeline?.close();
    remove?.();
  });

  /** A page that records console errors and uncaught exceptions. */
  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    return { page, errors };
  }

  async function settled(page: Page): Promise<void> {
    await page.waitForFunction(() => {
      const main = document.getElementById('view');
      return main !== null && !main.hasAttribute('aria-busy') && main.children.length > 0;
    });
  }

  /** The plots view opens on the detection heat map of the demo's grid and exports it. */
  async function checkPlot(page: Page): Promise<void> {
    await page.locator('[data-testid=plot] .main-svg').first().waitFor();
    expect(await page.locator('select[aria-label="task type"]').inputValue()).toBe(
      'transit_search_bls',
    );
    expect(await page.locator('select[aria-label="value"]').inputValue()).toBe('output:outcome');
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'CSV', exact: true }).click(),
    ]);
    const text = readFileSync((await csv.path())!, 'utf8');
    // The demo's grid is planet size × orbital period: a heat map, one cell per pair.
    await page.locator('[data-testid=plot] .hm').first().waitFor({ state: 'attached' });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('planet_size,orbital_period,tasks,fraction_PASS');
    expect(lines).toHaveLength(1 + 5 * 3);
    const [png] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'PNG', exact: true }).click(),
    ]);
    expect(png.suggestedFilename()).toMatch(/\.png$/);
  }

  it('loads every view without console errors and saves a screenshot of each', async () => {
    const { page, errors } = await openPage();
    const detail = (await pipeline.db.errors(demoJob))[0]!;
    const views = [
      ['progress', '#/progress'],
      ['jobs', '#/jobs'],
      ['tree', `#/tree?job=${demoJob}&depth=3`],
      ['tasks', `#/tasks?job=${demoJob}`],
      ['task', `#/task/${detail.taskId}?job=${demoJob}`],
      ['products', `#/products?job=${demoJob}`],
      ['logs', `#/logs?job=${demoJob}`],
      ['timings', `#/timings?job=${demoJob}`],
      ['pass-fail', `#/pass-fail?job=${demoJob}`],
      ['activity', `#/activity?job=${demoJob}`],
      ['plots', `#/plots?job=${demoJob}`],
    ] as const;
    await page.goto(readOnly.url);
    for (const [name, hash] of views) {
      await page.evaluate((h) => (location.hash = h), hash);
      await settled(page);
      expect(await page.locator('main .error').count(), `${name} shows an error`).toBe(0);
      if (name === 'plots') await checkPlot(page);
      if (name === 'tree') await page.locator('[data-testid=tree] li li li').first().waitFor();
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reaches a failed task from the progress view in two clicks and shows its traceback', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${readOnly.url}#/progress`);
    await settled(page);
    // Click 1: the failed count of the task type that failed.
    await page.locator('table.by-type tr[data-type="error"] td.failed a').click();
    await settled(page);
    // Click 2: the failed task in that list.
    await page.locator('tr[data-task] a').first().click();
    await settled(page);
    const traceback = page.locator('[data-testid=traceback]');
    await waitForText(traceback, 'detector readout failed');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows why a blocked task is not ready', async () => {
    const blocked = (await pipeline.db.tasks({ jobId: demoJob, states: ['blocked'] }))[0]!;
    const { page } = await openPage();
    await page.goto(`${readOnly.url}#/task/${blocked.id}`);
    await settled(page);
    await waitForText(page.locator('[data-testid=waiting-for]'), 'star_2.gz');
    await page.close();
  });

  it('downloads a file product with the checksum the task database recorded', async () => {
    const producer = (await pipeline.db.tasks({ jobId: demoJob, type: 'make_lightcurve' }))[0]!;
    const detail = (await pipeline.db.task(producer.id))!;
    const version = detail.attempts.at(-1)!.versions[0]!;
    const { page, errors } = await openPage();
    await page.goto(`${readOnly.url}#/task/${producer.id}`);
    await settled(page);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`button[data-download="${version.id}"]`).click(),
    ]);
    expect(download.suggestedFilename()).toBe('star_1.gz');
    const saved = join(dir, 'downloaded.gz');
    await download.saveAs(saved);
    expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(version.sha256);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a PASS fraction heat map over two loop parameters', async () => {
    // A detection grid in miniature: planet size × orbital period × 4 trials, each recording a
    // PASS or FAIL outcome whose odds grow with size and shrink with period.
    const loop = (parameter: string, values: number[], body: TaskDescriptor[]): TaskDescriptor => ({
      task: 'execution_for_loop',
      parameter,
      values,
      task_list: body,
    });
    const chain = {
      job_name: 'grid',
      task_list: [
        loop(
          'planet_size',
          [0.5, 1, 1.5, 2, 3, 4],
          [
            loop(
              'orbital_period',
              [5, 10, 20, 40, 80],
              [
                loop(
                  'trial',
                  [0, 1, 2, 3],
                  [
                    {
                      task: 'set_metadata',
                      name: 'search',
                      values: {
                        outcome:
                          "('PASS' if random.random() < metadata['planet_size'] ** 2 * 8 / metadata['orbital_period'] else 'FAIL')",
                      },
                    },
                  ],
                ),
              ],
            ),
          ],
        ),
      ],
    };
    const { jobId } = await runChainToEnd(pipeline, chain);
    const { page, errors } = await openPage();
    await page.goto(`${readOnly.url}#/plots?job=${jobId}`);
    await settled(page);
    await page.locator('[data-testid=plot] .main-svg').first().waitFor();
    expect(await page.locator('select[aria-label="x"]').inputValue()).toBe('param:planet_size');
    expect(await page.locator('select[aria-label="y (optional)"]').inputValue()).toBe(
      'param:orbital_period',
    );
    expect(await page.locator('select[aria-label="value"]').inputValue()).toBe('output:outcome');
    await page.locator('[data-testid=plot] .hm').first().waitFor({ state: 'attached' });
    await waitForText(page.locator('main p.empty'), '120 of 120 tasks');
    await page.screenshot({ path: join(SHOTS, 'plots-heatmap.png'), fullPage: true });
    // The README's picture, taken by this run; replaced only on request, so a test run does not
    // change a tracked file.
    if (!existsSync(DOCS_SHOT) || UPDATE_DOCS_SHOT) {
      mkdirSync(join(REPO, 'docs', 'images'), { recursive: true });
      copyFileSync(join(SHOTS, 'plots-heatmap.png'), DOCS_SHOT);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('labels a heat map compactly, shows values as plain text, picks the fraction by menu and exports', async () => {
    const { jobId } = await runChainToEnd(pipeline, {
      job_name: 'labels',
      task_list: [
        // A type without loop parameters, first in the alphabet: not the default plot.
        { task: 'null', name: 'setup' },
        {
          task: 'execution_for_loop',
          parameter: 'ratio',
          values: [1.1721022975334803, 2.5, 3.141592653589793],
          task_list: [
            {
              task: 'execution_for_loop',
              parameter: 'label',
              values: ['<b>bold</b>', 'plain'],
              task_list: [
                {
                  task: 'set_metadata',
                  name: 'judge',
                  values: { outcome: "('PASS' if metadata['ratio'] > 2 else 'FAIL')" },
                },
              ],
            },
          ],
        },
      ],
    });
    const { page, errors } = await openPage();
    await page.goto(`${readOnly.url}#/plots?job=${jobId}`);
    await settled(page);
    await page.locator('[data-testid=plot] .hm').first().waitFor({ state: 'attached' });
    expect(await page.locator('select[aria-label="task type"]').inputValue()).toBe('set_metadata');
    const xTicks = await page.locator('[data-testid=plot] .xtick text').allTextContents();
    expect(xTicks).toEqual(['1.172', '2.5', '3.142']);
    const yTicks = await page.locator('[data-testid=plot] .ytick text').allTextContents();
    expect(yTicks).toContain('<b>bold</b>');
    await page.screenshot({ path: join(SHOTS, 'plots-labels.png'), fullPage: true });
    // The category whose fraction is plotted, by menu.
    const level = page.locator('select[aria-label="fraction of"]');
    expect(await level.inputValue()).toBe('PASS');
    await level.selectOption('FAIL');
    await waitForText(page.locator('main p.empty'), 'the plot shows the fraction FAIL');
    expect(await page.evaluate(() => location.hash)).toContain('level=FAIL');
    await page.locator('[data-testid=plot] .hm').first().waitFor({ state: 'attached' });
    const [svg] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'SVG', exact: true }).click(),
    ]);
    expect(svg.suggestedFilename()).toMatch(/\.svg$/);
    // A type with nothing to plot offers no image to export.
    await page.evaluate((j) => (location.hash = `#/plots?job=${j}&type=null`), jobId);
    await waitForText(page.locator('main p.empty'), 'no loop parameters');
    expect(await page.getByRole('button', { name: 'PNG', exact: true }).isDisabled()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('updates a count on screen while a job runs, without reloading', async () => {
    const { page, errors } = await openPage();
    const chain = {
      job_name: 'live',
      task_list: Array.from({ length: 12 }, (_, i) => ({
        task: 'null',
        name: `n${i}`,
        sleep: 0.1,
      })),
    };
    await page.goto(`${readOnly.url}#/progress`);
    await settled(page);
    const done = page.locator('[data-testid=total-done] .n');
    const before = await done.textContent();
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const run = runChainToEnd(pipeline, chain);
    await page.waitForFunction(
      (b) => document.querySelector('[data-testid=total-done] .n')?.textContent !== b,
      before,
    );
    const { status } = await run;
    // The 12 null tasks and the chain's own root task.
    expect(status.totals.done).toBe(13);
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid=total-done] .n')?.textContent === n,
      String(Number(before!.replace(/,/g, '')) + 13),
    );
    expect(navigations).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a task, a task list and the tree (a control node by its children) change from running to done without reloading', async () => {
    const run = runChainToEnd(pipeline, {
      job_name: 'live-views',
      task_list: [{ task: 'null', name: 'slow', sleep: 8 }],
    });
    let slow: { id: number; jobId: number } | undefined;
    for (let i = 0; i < 200 && !slow; i++) {
      const job = (await pipeline.db.jobs()).find((j) => j.name === 'live-views');
      if (job)
        slow = (await pipeline.db.tasks({ jobId: job.id, states: ['running'] })).find(
          (t) => t.name === 'slow',
        );
      if (!slow) await new Promise((r) => setTimeout(r, 50));
    }
    expect(slow, 'the slow task started').toBeDefined();
    const { id, jobId } = slow!;
    const views = [
      [`#/task/${id}?job=${jobId}`, 'main h1 .badge'],
      [`#/tasks?job=${jobId}`, `tr[data-task="${id}"] .badge`],
      [`#/tree?job=${jobId}&depth=2`, `li[data-task="${id}"] .badge`],
      // The chain's root, a control-flow task (done once expanded), reads as its child runs.
      [`#/tree?job=${jobId}&depth=1`, '[data-testid=tree] > li > .node > .badge'],
    ] as const;
    const pages = await Promise.all(
      views.map(async ([hash, badge]) => {
        const { page, errors } = await openPage();
        await page.goto(`${readOnly.url}${hash}`);
        await settled(page);
        await waitForText(page.locator(badge), 'running');
        const navigations: string[] = [];
        page.on('framenavigated', (f) => navigations.push(f.url()));
        return { page, errors, navigations };
      }),
    );
    await run;
    for (const [i, { page, errors, navigations }] of pages.entries()) {
      await waitForText(page.locator(views[i]![1]), 'done');
      expect(navigations).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it('renders its data in eight tabs of one browser at once (one shared live stream)', async () => {
    // Chromium opens at most six connections to one host; a stream per tab would starve the
    // seventh tab of connections for ever.
    const tabs = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const pages: Page[] = [];
      for (let i = 0; i < 8; i++) {
        const page = await tabs.newPage();
        page.setDefaultTimeout(15_000);
        await page.goto(`${readOnly.url}#/progress`);
        pages.push(page);
      }
      for (const [i, page] of pages.entries()) {
        await settled(page);
        const done = await page.locator('[data-testid=total-done] .n').textContent();
        expect(Number(done!.replace(/,/g, '')), `tab ${i + 1}`).toBeGreaterThan(0);
        await waitForText(page.locator('#live'), '● live');
      }
      // Every tab still gets live updates: a job run now shows in the last tab opened.
      const last = pages.at(-1)!;
      const before = await last.locator('[data-testid=total-done] .n').textContent();
      await runChainToEnd(pipeline, { job_name: 'tabs', task_list: [{ task: 'null' }] });
      await last.waitForFunction(
        (b) => document.querySelector('[data-testid=total-done] .n')?.textContent !== b,
        before,
      );
      // Closing the tab that reads the stream hands it to another.
      await pages[0]!.close();
      const second = pages[1]!;
      const now = await second.locator('[data-testid=total-done] .n').textContent();
      await runChainToEnd(pipeline, { job_name: 'tabs', task_list: [{ task: 'null' }] });
      await second.waitForFunction(
        (b) => document.querySelector('[data-testid=total-done] .n')?.textContent !== b,
        now,
      );
    } finally {
      await tabs.close();
    }
  });

  it('hides write actions in read-only mode and shows them with the write token', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${readOnly.url}#/jobs`);
    await settled(page);
    expect(await page.locator('#scope').textContent()).toBe('read-only');
    expect(await page.getByRole('button', { name: /Rerun|Cancel|Reschedule/ }).count()).toBe(0);
    // The write token travels in the fragment, which never reaches the server.
    await page.goto(`${writable.url}#token=${WRITE_TOKEN}`);
    await page.evaluate(() => (location.hash = '#/jobs'));
    await settled(page);
    await waitForText(page.locator('#scope'), 'write access');
    await page.getByRole('button', { name: 'Rerun failed' }).first().waitFor();
    await page.getByRole('button', { name: 'Reschedule' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'jobs-write.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('marks the current view, titles the tab, announces the live state and names the rerun button', async () => {
    // A job cancelled before anything ran: nothing failed, its tasks are cancelled.
    const { jobId: cancelled } = await pipeline
      .controller()
      .submit({ chain: { job_name: 'cancelled', task_list: [{ task: 'null' }] } });
    await cancelJob({ db: pipeline.db, queue: pipeline.queue }, cancelled!);
    const { page, errors } = await openPage();
    await page.goto(`${writable.url}#token=${WRITE_TOKEN}`);
    await page.evaluate(() => (location.hash = '#/jobs'));
    await settled(page);
    await waitForText(page.locator('#scope'), 'write access');
    expect(await page.locator('nav a[aria-current=page]').allTextContents()).toEqual(['Jobs']);
    expect(await page.title()).toMatch(/^Jobs · /);
    expect(await page.locator('#live').getAttribute('aria-live')).toBe('polite');
    const row = page.locator(
      `[data-testid=jobs] tbody tr:has(a[href="#/progress?job=${cancelled}"])`,
    );
    await row.getByRole('button', { name: 'Rerun cancelled' }).waitFor();
    expect(await row.getByRole('button', { name: 'Rerun failed' }).count()).toBe(0);
    await page.evaluate(
      (j) => (location.hash = `#/tree?job=${j}&depth=3`),
      (await pipeline.db.jobs()).at(-1)!.id,
    );
    await settled(page);
    expect(await page.title()).toMatch(/^Task tree · job /);
    // Only nodes with children have an open button.
    const toggles = await page
      .locator('[data-testid=tree] button.toggle')
      .evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label')));
    expect(toggles.length).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=tree] span.toggle').count()).toBeGreaterThan(0);
    // A string, so the test's bundler leaves the page's own dynamic import alone.
    const shown = await page.evaluate(
      "import('/ui/dom.js').then((d) => [0.215, 4.56, 412.4, 3200].map((ms) => d.duration(ms)))",
    );
    expect(shown).toEqual(['0.21 ms', '4.6 ms', '412 ms', '3.2 s']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses API requests without the token when bound beyond loopback', async () => {
    const open = await createWebServer({
      db: pipeline.db,
      files: pipeline.files,
      host: '0.0.0.0',
      tokens: { readToken: READ_TOKEN },
    });
    try {
      const base = `http://127.0.0.1:${open.port}`;
      expect((await fetch(`${base}/api/progress`)).status).toBe(401);
      expect(
        (await fetch(`${base}/api/progress`, { headers: { authorization: 'Bearer wrong-token' } }))
          .status,
      ).toBe(401);
      const ok = await fetch(`${base}/api/progress`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(ok.status).toBe(200);
      // In the browser: the token form appears, and with the token the view loads.
      const { page, errors } = await openPage();
      await page.goto(`${base}/#/progress`);
      await page.locator('#token-dialog input').fill(READ_TOKEN);
      await page.locator('#token-dialog button').click();
      await settled(page);
      await page.locator('[data-testid=total-done]').waitFor();
      expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
      await page.close();
    } finally {
      await open.close();
    }
  });
});
