// One task: why it is not ready, every attempt (times, host, heartbeats, error, traceback,
// output metadata, files with download), its metadata, inputs, outputs and logs; redrawn live.
import { api, download, onChange } from '../client.js';
import {
  h,
  replace,
  link,
  route,
  table,
  stateBadge,
  facts,
  section,
  time,
  duration,
  bytes,
  typed,
  empty,
} from '../dom.js';

function metadataTable(m) {
  const entries = Object.entries(m ?? {});
  if (entries.length === 0) return empty('none');
  return table(
    ['key', 'type', 'value'],
    entries.map(([k, v]) => [k, v.type, h('span', { class: 'mono' }, typed(v))]),
  );
}

function versionRow(v) {
  return [
    String(v.id),
    v.semanticType ?? '',
    h('span', { class: 'mono' }, `${v.workingDirectory}/${v.filename}`),
    bytes(v.size),
    h('span', { class: 'mono', title: v.sha256 }, v.sha256.slice(0, 12)),
    v.passedQc
      ? h('span', { class: 'badge state-done' }, 'QC passed')
      : h('span', { class: 'badge state-failed' }, 'QC failed'),
    h(
      'button',
      {
        onclick: () => download(`/api/versions/${v.id}/download`, v.filename),
        'data-download': String(v.id),
      },
      'Download',
    ),
  ];
}

export async function render(root, { arg, params }) {
  const path = `/api/tasks/${encodeURIComponent(arg)}`;
  const job = params.job ?? '';
  const first = await api(path);
  draw(root, first, job);
  // Live: read again on every change of the pipeline, and redraw only when the task changed.
  // The page is rebuilt in one step, so the scroll position stays.
  let shown = JSON.stringify(first);
  return onChange(async () => {
    const next = await api(path);
    const text = JSON.stringify(next);
    if (text === shown) return;
    shown = text;
    replace(root);
    draw(root, next, job);
  });
}

function draw(root, { task: t, logs }, job) {
  root.append(
    h('h1', {}, `Task ${t.id}${t.name ? ` "${t.name}"` : ''} `, stateBadge(t.state)),
    section(
      'Task',
      facts([
        ['job', link(route('progress', { job: t.jobId }), `${t.jobId} ${t.jobName}`)],
        ['type', t.type],
        ['path', h('span', { class: 'mono' }, t.path)],
        ['working directory', t.workingDirectory],
        ['depth', String(t.depth)],
        [
          'parent',
          t.parentId === null
            ? '–'
            : link(route(`task/${t.parentId}`, { job }), String(t.parentId)),
        ],
        ['attempts', String(t.attemptCount)],
        t.reason ? ['reason', t.reason] : null,
        t.childCount
          ? ['children', link(route('tree', { job: t.jobId }), String(t.childCount))]
          : null,
      ]),
    ),
  );
  if (t.state === 'waiting' || t.state === 'blocked' || t.waitingFor.length > 0) {
    root.append(
      section(
        t.state === 'blocked' ? 'Why it is blocked' : 'Why it is not ready',
        t.waitingFor.length === 0
          ? empty(
              t.state === 'waiting'
                ? 'Every input is ready: it will be queued at the next release or reconcile.'
                : 'No unmet input recorded.',
            )
          : h(
              'ul',
              { class: 'why', 'data-testid': 'waiting-for' },
              t.waitingFor.map((w) => h('li', {}, w)),
            ),
      ),
    );
  }
  const attempts = [...t.attempts].reverse();
  root.append(
    section(
      `Attempts (${t.attempts.length})`,
      t.attempts.length === 0
        ? empty(
            t.control
              ? 'A control-flow task: the controller expands it; it never runs on a worker.'
              : 'No attempt yet.',
          )
        : attempts.map((a) =>
            h(
              'div',
              { class: 'attempt', 'data-attempt': String(a.id) },
              h(
                'h3',
                {},
                `Attempt ${a.number} (${a.kind}) `,
                stateBadge(a.state),
                a.qc ? ` QC ${a.qc}` : '',
              ),
              facts([
                ['queued', time(a.queuedAt)],
                ['started', time(a.startedAt)],
                ['ended', time(a.endedAt)],
                ['last heartbeat', time(a.heartbeatAt)],
                ['wall clock', duration(a.wallMs)],
                ['CPU', duration(a.cpuMs)],
                ['CPU incl. children', duration(a.cpuChildrenMs)],
                ['host', a.host ?? '–'],
                ['worker', a.worker ?? '–'],
                a.exitCode !== null ? ['exit code', String(a.exitCode)] : null,
                a.signal ? ['signal', a.signal] : null,
                a.error ? ['error', h('strong', {}, a.error)] : null,
              ]),
              a.traceback
                ? [
                    h('h4', {}, 'Traceback'),
                    h('pre', { class: 'traceback', 'data-testid': 'traceback' }, a.traceback),
                  ]
                : null,
              Object.keys(a.outputMetadata).length
                ? [h('h4', {}, 'Output metadata'), metadataTable(a.outputMetadata)]
                : null,
              a.versions.length
                ? [
                    h('h4', {}, 'Files written'),
                    table(
                      ['version', 'type', 'file', 'size', 'sha256', 'QC', ''],
                      a.versions.map(versionRow),
                    ),
                  ]
                : null,
            ),
          ),
    ),
  );
  root.append(
    section(
      'Inputs',
      t.inputs.length === 0
        ? empty('none')
        : table(
            ['type', 'file', 'producer', 'producer state', 'ready'],
            t.inputs.map((i) => [
              i.semanticType,
              h('span', { class: 'mono' }, `${i.workingDirectory}/${i.filename}`),
              link(route(`task/${i.producerTaskId}`, { job }), i.producerPath),
              stateBadge(i.producerState),
              i.ready ? 'yes' : h('strong', {}, 'no'),
            ]),
          ),
      t.metadataFrom.length
        ? [
            h('h4', {}, 'Metadata from'),
            table(
              ['name', 'provider', 'state', 'ready'],
              t.metadataFrom.map((m) => [
                m.name,
                link(route(`task/${m.providerTaskId}`, { job }), String(m.providerTaskId)),
                stateBadge(m.providerState),
                m.ready ? 'yes' : 'no',
              ]),
            ),
          ]
        : null,
    ),
    section(
      'Outputs',
      t.outputs.length === 0
        ? empty('none')
        : table(
            ['type', 'file', 'optional'],
            t.outputs.map((o) => [
              o.semanticType,
              h('span', { class: 'mono' }, `${o.workingDirectory}/${o.filename}`),
              o.optional ? 'optional' : 'required',
            ]),
          ),
    ),
    section('Task metadata', metadataTable(t.metadata)),
    section('Description', h('pre', {}, JSON.stringify(t.description, null, 2))),
    section(
      'Logs',
      logs.every((l) => l.lines.length === 0)
        ? empty('No log lines.')
        : logs
            .filter((l) => l.lines.length)
            .map((l) => [
              h(
                'h4',
                {},
                `Attempt ${t.attempts.find((a) => a.id === l.attemptId)?.number ?? l.attemptId}${l.truncated ? ' (last lines)' : ''}`,
              ),
              h(
                'pre',
                { 'data-testid': 'logs' },
                l.lines
                  .map((x) => `${time(x.ts)} ${x.level.padEnd(5)} ${x.stream}: ${x.message}`)
                  .join('\n'),
              ),
            ]),
      h('p', {}, link(route('logs', { job: t.jobId, task: t.id }), 'All log lines of this task')),
    ),
  );
}
