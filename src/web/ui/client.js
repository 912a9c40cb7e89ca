// The dashboard's client side of the API: the session, requests with the bearer token (when one
// is needed), downloads, the token form, the live-update stream and route helpers. Views import
// this module; app.js (the router) imports the views.
/* global AbortController, BroadcastChannel, TextDecoderStream, URLSearchParams, document, fetch, history, location, navigator, clearTimeout, sessionStorage, setTimeout */
import { h, replace, route } from './dom.js';

const TOKEN_KEY = 'eas-web-token';

let onTokenEntered = () => location.reload();

/** What to do once the user has entered a token (app.js restarts the session). */
export function whenTokenEntered(fn) {
  onTokenEntered = fn;
}

/** The session: scope and whether write actions are shown. */
export const session = { scope: 'read', writeActions: false, tokenRequired: false, jobs: [] };

// A token may arrive in the URL fragment (#token=…): fragments never reach the server or its
// logs. It is moved to sessionStorage and removed from the address bar at once.
(function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', `${location.pathname}#/`);
  }
})();

function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** An API error with its HTTP status. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET (or POST) an API path; resolves to its JSON. */
export async function api(path, { method = 'GET' } = {}) {
  const res = await fetch(path, { method, headers: authHeaders() });
  if (res.status === 401) {
    showTokenForm();
    throw new ApiError(401, 'a bearer token is required');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

/** Downloads an API path as a file (the token goes in a header, so no plain link). */
export async function download(path, filename) {
  if (!session.tokenRequired) {
    const a = h('a', { href: path, download: filename });
    document.body.appendChild(a);
    a.click();
    a.remove();
    return;
  }
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) throw new ApiError(res.status, `download failed: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function showTokenForm() {
  const dialog = document.getElementById('token-dialog');
  if (dialog.open) return;
  // A token already held was sent and refused.
  const refused = sessionStorage.getItem(TOKEN_KEY) !== null;
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    'aria-label': 'token',
  });
  replace(
    dialog,
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: (e) => {
          e.preventDefault();
          sessionStorage.setItem(TOKEN_KEY, input.value.trim());
          dialog.close();
          onTokenEntered();
        },
      },
      h('h2', {}, 'Bearer token'),
      h(
        'p',
        {},
        'This dashboard needs the token it was started with (EAS_WEB_TOKEN or EAS_WEB_WRITE_TOKEN).',
      ),
      refused
        ? h('p', { class: 'error', role: 'alert' }, 'That token was refused; enter it again.')
        : null,
      input,
      h('button', { type: 'submit' }, 'Open'),
    ),
  );
  dialog.showModal();
}

// ---- live updates: server-sent events read with fetch (EventSource cannot send a token) ----
//
// A browser opens at most six HTTP/1.1 connections to one host, and an event stream holds one
// for as long as it is open: six tabs each holding their own would leave a seventh no connection
// for its requests, and it would never load. So the tabs of one dashboard (one origin) share a
// single stream: the tab that holds the Web Lock LIVE_LOCK reads it and passes every event on
// through the BroadcastChannel LIVE_CHANNEL; the others listen, and one of them takes the lock
// (and the stream) when that tab closes. Where the lock API is missing (a page not served from a
// secure context, e.g. plain HTTP beyond loopback), each tab reads its own stream, but only while
// it is visible.

const LIVE_LOCK = 'eas-live-stream';
const LIVE_CHANNEL = 'eas-live';
/** Wait before reconnecting a stream that failed or ended, ms. */
const RECONNECT_MS = 2000;

const liveListeners = new Set();
let lastProgress;
let liveOn = false;

/** Calls `fn(progress)` on every live progress event (and at once with the latest). */
export function onProgress(fn) {
  liveListeners.add(fn);
  if (lastProgress) fn(lastProgress);
  return () => liveListeners.delete(fn);
}

function deliver(progress) {
  lastProgress = progress;
  session.jobs = progress.jobs;
  for (const fn of liveListeners) fn(progress);
}

function showLive(on) {
  liveOn = on;
  const status = document.getElementById('live');
  status.textContent = on ? '● live' : '○ reconnecting';
  status.className = on ? 'live on' : 'live off';
}

/**
 * Reads the event stream until `signal` aborts, calling `onEvent(progress)` and `onStatus(on)`,
 * and reconnecting after a failure.
 */
async function readStream(signal, onEvent, onStatus) {
  while (!signal.aborted) {
    try {
      const res = await fetch('/api/events', { headers: authHeaders(), signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onStatus(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'progress' && data) onEvent(JSON.parse(data));
        }
      }
    } catch {
      // fall through to the reconnect below
    }
    if (signal.aborted) return;
    onStatus(false);
    await new Promise((r) => setTimeout(r, RECONNECT_MS));
  }
}

/** The stream shared by every tab of this dashboard; see the comment above. */
function sharedStream() {
  const channel = new BroadcastChannel(LIVE_CHANNEL);
  let leading = false;
  channel.onmessage = ({ data: m }) => {
    if (m?.type === 'progress') {
      showLive(true);
      deliver(m.progress);
    } else if (m?.type === 'status') {
      showLive(m.on);
    } else if (m?.type === 'hello' && leading) {
      // A tab just opened: give it the latest progress at once.
      channel.postMessage({ type: 'status', on: liveOn });
      if (lastProgress) channel.postMessage({ type: 'progress', progress: lastProgress });
    }
  };
  channel.postMessage({ type: 'hello' });
  // Held until this tab closes: the browser then hands the lock to the next tab waiting for it.
  void navigator.locks.request(LIVE_LOCK, () => {
    leading = true;
    return readStream(
      new AbortController().signal,
      (progress) => {
        deliver(progress);
        channel.postMessage({ type: 'progress', progress });
      },
      (on) => {
        showLive(on);
        channel.postMessage({ type: 'status', on });
      },
    );
  });
}

/** A stream of this tab's own, open only while the tab is visible. */
function streamWhileVisible() {
  let controller;
  const follow = () => {
    if (document.visibilityState === 'hidden') {
      controller?.abort();
      controller = undefined;
      const status = document.getElementById('live');
      status.textContent = '○ paused';
      status.className = 'live off';
    } else if (!controller) {
      controller = new AbortController();
      // On reconnect the server sends the current progress first, so the views catch up.
      void readStream(controller.signal, deliver, showLive);
    }
  };
  document.addEventListener('visibilitychange', follow);
  follow();
}

/** Fewest milliseconds between two refreshes of a view by {@link onChange}. */
const REFRESH_MS = 1500;

/**
 * A queue that runs the functions given to it one after the other (each after the one before
 * has settled, failed or not): a view's live refresh and its "more" button then never read and
 * append the same rows at once. Returns the function to queue with; it resolves as `fn` does.
 */
export function serialQueue() {
  let turn = Promise.resolve();
  return (fn) => (turn = turn.then(fn, fn));
}

/**
 * Calls `refresh()` when the pipeline changed (a live progress event), for views that show more
 * than the progress carries (a task, a list, the tree): at most once every REFRESH_MS, never two
 * at once, the last change always followed by one refresh, and not while the tab is hidden (it
 * catches up when shown). Returns a function that stops it.
 */
export function onChange(refresh, minMs = REFRESH_MS) {
  let stopped = false;
  let subscribing = true;
  let pending = false;
  let running = false;
  let last = Date.now();
  let timer;
  const run = async () => {
    timer = undefined;
    if (stopped || running || !pending || document.visibilityState === 'hidden') return;
    const wait = last + minMs - Date.now();
    if (wait > 0) {
      timer = setTimeout(run, wait);
      return;
    }
    pending = false;
    running = true;
    last = Date.now();
    try {
      await refresh();
    } catch {
      // the next change tries again; the view keeps what it showed
    } finally {
      running = false;
    }
    if (pending) schedule();
  };
  const schedule = () => {
    if (timer === undefined && !stopped) timer = setTimeout(run, 0);
  };
  const stopProgress = onProgress(() => {
    // onProgress calls at once with the latest progress, which the view has just read.
    if (subscribing) return;
    pending = true;
    schedule();
  });
  subscribing = false;
  const visible = () => {
    if (document.visibilityState === 'visible' && pending) schedule();
  };
  document.addEventListener('visibilitychange', visible);
  return () => {
    stopped = true;
    clearTimeout(timer);
    stopProgress();
    document.removeEventListener('visibilitychange', visible);
  };
}

let liveStarted = false;
/** Starts live updates for this tab (once): the shared stream where the browser can share it. */
export function live() {
  if (liveStarted) return;
  liveStarted = true;
  if (typeof BroadcastChannel === 'function' && navigator.locks?.request) sharedStream();
  else streamWhileVisible();
}

// ---- routing ----

/** The current route: name, path argument and query parameters. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  const [name = 'progress', arg] = path.split('/');
  return {
    name: name || 'progress',
    arg,
    params: Object.fromEntries(new URLSearchParams(query)),
  };
}

/** Navigates to a route, keeping the selected job unless told otherwise. */
export function go(name, params = {}) {
  location.hash = route(name, params);
}
