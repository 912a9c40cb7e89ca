/**
 * The web dashboard (`eas web`, DESIGN §7): a JSON API over the task database and the file
 * repository, live progress as server-sent events, and a browser UI with progress by task type,
 * jobs, the task tree, task detail, products, logs, timings, pass/fail, worker activity and
 * result plots.
 *
 * @example
 * ```ts
 * await using web = await createWebServer({ db, files, queue, port: 8080 });
 * console.log(`dashboard on ${web.url}`);
 * ```
 * @module
 */
export { createWebServer, type WebServerOptions, type WebServer } from './web-server.js';
export { AccessControl, assertBindAllowed, isLoopbackHost, type AccessScope } from './auth.js';
export {
  aggregatePlot,
  fieldsOf,
  plotCsv,
  valueOf,
  type PlotData,
  type PlotField,
  type PlotFields,
} from './plot.js';
