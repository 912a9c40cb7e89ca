// Plotly, from the plotly.js-dist-min package (served at /vendor/). It is loaded the first time
// a view draws a plot: parsing its 4.8 MB costs seconds on a slow machine, which the views
// without plots should not pay.
/* global document, window */

let loading;

/** The Plotly global, loading its script on first use. */
export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  loading ??= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/vendor/plotly.min.js';
    s.onload = () =>
      window.Plotly ? resolve(window.Plotly) : reject(new Error('plotly did not load'));
    s.onerror = () => {
      loading = undefined;
      reject(new Error('plotly could not be loaded from /vendor/plotly.min.js'));
    };
    document.head.appendChild(s);
  });
  return loading;
}

/** Plot options: no plotly logo or cloud links; PNG/SVG export through our own buttons too. */
export function plotConfig() {
  return {
    displaylogo: false,
    responsive: true,
    showSendToCloud: false,
    showEditInChartStudio: false,
    modeBarButtonsToRemove: ['sendDataToCloud', 'sendChartToCloud', 'lasso2d', 'select2d'],
  };
}

/**
 * Text for plotly, which reads its strings as a little HTML (`<b>`, `<br>`, links): values
 * (task metadata, loop values) must show as they are, so `<`, `>` and `&` become entities.
 */
export function plain(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
