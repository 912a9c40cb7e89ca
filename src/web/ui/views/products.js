// Files: a job's products by working directory, each with its versions, QC and download.
/* global URLSearchParams */
import { api, download, go } from '../client.js';
import { h, replace, link, route, table, stateBadge, bytes, time, empty, section } from '../dom.js';
import { defaultJob, jobPicker } from './common.js';

export async function render(root, { params }) {
  const job = defaultJob(params.job);
  root.append(
    h('h1', {}, 'Files'),
    h(
      'div',
      { class: 'filters' },
      h(
        'label',
        {},
        'job',
        jobPicker(job, (v) => go('products', { job: v })),
      ),
    ),
  );
  if (!job) {
    root.append(empty('No jobs.'));
    return;
  }
  const dirs = await api(`/api/products/directories?job=${encodeURIComponent(job)}`);
  if (dirs.length === 0) {
    root.append(section('Products', empty('This job declares no file products.')));
    return;
  }
  const dir = params.dir ?? dirs[0].workingDirectory;
  const tbody = h('tbody');
  const more = h('button', { class: 'more', hidden: true }, 'More');
  const products = table(['file', 'type', 'producer', 'versions (newest last)'], []);
  products.replaceChild(tbody, products.querySelector('tbody'));
  root.append(
    h(
      'div',
      { class: 'split' },
      section(
        'Directories',
        h(
          'div',
          { class: 'dirs' },
          dirs.map((d) =>
            h(
              'a',
              {
                href: route('products', { job, dir: d.workingDirectory }),
                class: d.workingDirectory === dir ? 'active' : '',
              },
              `${d.workingDirectory || '(job root)'} (${d.products})`,
            ),
          ),
        ),
      ),
      section(`Products in ${dir || '(job root)'}`, products, more),
    ),
  );
  let after;
  const load = async () => {
    const q = new URLSearchParams({ job, dir, limit: '100' });
    if (after !== undefined) q.set('after', after);
    const page = await api(`/api/products?${q}`);
    for (const p of page.items) {
      tbody.append(
        h(
          'tr',
          { 'data-product': p.filename },
          h('td', { class: 'mono' }, p.filename),
          h('td', {}, p.semanticType, p.optional ? ' (optional)' : ''),
          h(
            'td',
            {},
            link(route(`task/${p.producerTaskId}`, { job }), String(p.producerTaskId)),
            ' ',
            stateBadge(p.producerState),
          ),
          h(
            'td',
            {},
            p.versions.length === 0
              ? empty('not written')
              : p.versions.map((v, i) =>
                  h(
                    'div',
                    { class: 'version', title: `version id ${v.id}, attempt ${v.attemptId}` },
                    // Numbered within the file, as eas products counts them.
                    `version ${i + 1} · ${bytes(v.size)} · `,
                    h('span', { class: 'mono', title: v.sha256 }, v.sha256.slice(0, 12)),
                    ' · ',
                    v.passedQc
                      ? h('span', { class: 'badge state-done' }, 'QC passed')
                      : h('span', { class: 'badge state-failed' }, 'QC failed'),
                    ` · ${time(v.createdAt)} `,
                    h(
                      'button',
                      {
                        onclick: () => download(`/api/versions/${v.id}/download`, p.filename),
                        'data-download': String(v.id),
                      },
                      'Download',
                    ),
                  ),
                ),
          ),
        ),
      );
    }
    after = page.next ?? undefined;
    more.hidden = page.next === null;
  };
  more.addEventListener('click', () => void load());
  await load();
  void replace;
}
