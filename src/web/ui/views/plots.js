// Result plots: any output metadata (or timing, or state) of one task type against one or two
// loop parameters — a heat map over two (e.g. PASS fraction over planet size × period), or the
// mean / fraction per value of one (e.g. detection fraction against size) — computed on the
// server, drawn with plotly, downloadable as PNG, SVG and CSV.
/* global URLSearchParams */
import { api, download, go } from '../client.js';
import { h, section, empty, count } from '../dom.js';
import { plain, plotly, plotConfig } from './plotting.js';

const label = (f) => (f ? f.replace(/^(param|output|desc|timing):/, '') : '');
/** Task types whose fields are read to find one with loop parameters for the default plot. */
const TYPES_TRIED = 12;

/**
 * Compact axis labels for numeric loop values: the fewest significant digits (4 at least) that
 * keep distinct values distinct, so 1.1721022975334803 reads 1.172. Text values stay as they are
 * (as plain text).
 */
export function tickLabels(values) {
  if (!values.every((v) => typeof v === 'number')) return values.map((v) => plain(v));
  const distinct = new Set(values).size;
  for (let digits = 4; digits < 17; digits++) {
    const labels = values.map((v) =>
      Number.isInteger(v) && Math.abs(v) < 1e9 ? String(v) : String(Number(v.toPrecision(digits))),
    );
    if (new Set(labels).size === distinct) return labels;
  }
  return values.map(String);
}

function choose(preferred, options, fallback) {
  return options.includes(preferred) ? preferred : fallback;
}

export async function render(root, { params }) {
  const job = params.job ?? '';
  const jq = job ? `&job=${encodeURIComponent(job)}` : '';
  const types = await api(`/api/plot/types?${jq.slice(1)}`);
  root.append(h('h1', {}, `Result plots${job ? ` of job ${job}` : ''}`));
  if (types.length === 0) {
    root.append(section('Plot', empty('No tasks to plot yet.')));
    return;
  }
  const typeNames = types.map((t) => t.type);
  const fieldsOf = (t) => api(`/api/plot/fields?type=${encodeURIComponent(t)}${jq}`);
  let type = params.type && typeNames.includes(params.type) ? params.type : undefined;
  let fields = type ? await fieldsOf(type) : undefined;
  if (!type) {
    // The first type with loop parameters to plot against (transit searches first), else the
    // first type: a type without parameters has nothing to show.
    const order = [
      ...typeNames.filter((t) => t === 'transit_search_bls'),
      ...typeNames.filter((t) => t !== 'transit_search_bls'),
    ];
    let first;
    for (const t of order.slice(0, TYPES_TRIED)) {
      const f = await fieldsOf(t);
      first ??= f;
      if (f.parameters.length > 0) {
        type = t;
        fields = f;
        break;
      }
    }
    if (!type) {
      type = order[0];
      fields = first ?? (await fieldsOf(type));
    }
  }
  const paramFields = fields.parameters;
  const valueFields = [
    ...fields.outputs,
    ...fields.timings,
    ...fields.descriptions,
    ...fields.parameters,
  ];
  const mainParams = paramFields.filter((p) => !p.endsWith('_index'));
  const x = choose(
    params.x,
    [...paramFields, ...fields.descriptions],
    mainParams[0] ?? paramFields[0] ?? fields.descriptions[0],
  );
  const yDefault = params.x === undefined ? (mainParams.find((p) => p !== x) ?? '') : '';
  const y = params.y !== undefined ? choose(params.y, paramFields, '') : yDefault;
  const value = choose(
    params.value,
    valueFields,
    fields.outputs.includes('output:outcome')
      ? 'output:outcome'
      : (fields.outputs[0] ?? 'timing:wall_ms'),
  );
  const state = { job, type, x, y, value, level: params.level ?? '' };
  const set = (k, v) =>
    go('plots', {
      ...state,
      [k]: v,
      ...(k === 'type' ? { x: '', y: '', value: '', level: '' } : {}),
    });
  const select = (name, current, options, allowNone) =>
    h(
      'label',
      {},
      name,
      h(
        'select',
        {
          'aria-label': name,
          onchange: (e) =>
            set(
              name === 'task type' ? 'type' : name === 'y (optional)' ? 'y' : name,
              e.target.value,
            ),
        },
        allowNone ? h('option', { value: '' }, '(none: x–y plot)') : null,
        options.map((o) =>
          h(
            'option',
            { value: o, selected: o === current },
            label(o) +
              (o.startsWith('output:')
                ? ' (output)'
                : o.startsWith('desc:')
                  ? ' (description)'
                  : o.startsWith('param:')
                    ? ' (parameter)'
                    : ''),
          ),
        ),
      ),
    );
  const chart = h('div', { class: 'plot', 'data-testid': 'plot' });
  const info = h('p', { class: 'empty' });
  // Plotly, once the plot is drawn; until then the image exports are off.
  let Plotly;
  const exportImage = (format) => {
    if (!Plotly) return;
    void Plotly.downloadImage(chart, {
      format,
      filename: `${type}-${label(value)}`,
      width: 1200,
      height: 800,
    });
  };
  const png = h('button', { onclick: () => exportImage('png'), disabled: true }, 'PNG');
  const svg = h('button', { onclick: () => exportImage('svg'), disabled: true }, 'SVG');
  const buttons = h(
    'div',
    { class: 'filters' },
    png,
    svg,
    h(
      'button',
      {
        onclick: () =>
          void download(`/api/plot?${query({ ...state, format: 'csv' })}`, `${type}-plot.csv`),
      },
      'CSV',
    ),
  );
  const menus = h(
    'div',
    { class: 'filters' },
    select('task type', type, typeNames, false),
    select('x', x, [...paramFields, ...fields.descriptions], false),
    select('y (optional)', y, paramFields, true),
    select('value', value, valueFields, false),
  );
  root.append(menus, section(`${label(value)} of ${type}`, chart, info, buttons));
  if (!x) {
    info.textContent = 'This task type has no loop parameters to plot against.';
    return;
  }
  const data = await api(`/api/plot?${query(state)}`);
  if (data.categories.length > 1) {
    // A categorical value is plotted as the fraction of one category: which one, by menu.
    menus.append(
      h(
        'label',
        {},
        'fraction of',
        h(
          'select',
          { 'aria-label': 'fraction of', onchange: (e) => set('level', e.target.value) },
          data.categories.map((c) => h('option', { value: c, selected: c === data.level }, c)),
        ),
      ),
    );
  }
  const plotlyLib = await plotly();
  const measure = plain(data.level ? `fraction ${data.level}` : `mean ${label(value)}`);
  const xName = plain(label(x));
  const yName = plain(label(y));
  info.textContent = `${count(data.used)} of ${count(data.rows)} tasks have ${label(x)}${y ? `, ${label(y)}` : ''} and ${label(value)}.${data.categories.length ? ` Values: ${data.categories.join(', ')}; the plot shows the fraction ${data.level}.` : ''}`;
  const axis = (f, values) => ({
    title: { text: plain(label(f)) },
    automargin: true,
    type:
      values.every((v) => typeof v === 'number') &&
      values.length > 2 &&
      values[values.length - 1] / values[0] > 50
        ? 'log'
        : '-',
  });
  let traces;
  let layout;
  if (data.kind === 'heatmap') {
    const categorical = data.categories.length > 0;
    traces = [
      {
        type: 'heatmap',
        x: tickLabels(data.xs),
        y: tickLabels(data.ys),
        z: data.z,
        customdata: data.counts,
        zmin: categorical ? 0 : undefined,
        zmax: categorical ? 1 : undefined,
        colorscale: categorical
          ? [
              [0, '#dc2626'],
              [0.5, '#fde68a'],
              [1, '#16a34a'],
            ]
          : 'Viridis',
        colorbar: { title: { text: measure } },
        hovertemplate: `${xName} %{x}<br>${yName} %{y}<br>${measure} %{z:.3g}<br>%{customdata} tasks<extra></extra>`,
        xgap: 1,
        ygap: 1,
      },
    ];
    layout = {
      margin: { t: 10 },
      // automargin: room for the tick labels, and the titles beside them rather than on them.
      xaxis: { title: { text: xName, standoff: 10 }, type: 'category', automargin: true },
      yaxis: { title: { text: yName, standoff: 10 }, type: 'category', automargin: true },
    };
  } else {
    traces = [
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: measure,
        x: data.series.map((s) => (typeof s.x === 'number' ? s.x : plain(s.x))),
        y: data.series.map((s) => s.value),
        hovertext: data.series.map((s) => `${s.count} tasks`),
        hovertemplate: `${xName} %{x}<br>${measure} %{y:.3g}<br>%{hovertext}<extra></extra>`,
        marker: { color: '#2563eb', size: 9 },
        line: { width: 2 },
      },
    ];
    if (data.points.v.length)
      traces.unshift({
        type: 'scatter',
        mode: 'markers',
        name: 'tasks',
        x: data.points.x.map((v) => (typeof v === 'number' ? v : plain(v))),
        y: data.points.v,
        marker: { color: 'rgba(100,116,139,0.35)', size: 5 },
      });
    layout = {
      margin: { t: 10 },
      xaxis: axis(x, data.xs),
      yaxis: {
        title: { text: measure },
        automargin: true,
        ...(data.categories.length ? { range: [-0.05, 1.05] } : {}),
      },
      legend: { orientation: 'h' },
    };
  }
  await plotlyLib.newPlot(chart, traces, layout, plotConfig());
  Plotly = plotlyLib;
  png.disabled = false;
  svg.disabled = false;
  return () => Plotly.purge(chart);
}

function query(s) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) if (v) q.set(k, v);
  return q.toString();
}
