import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EasError } from '../core/index.js';

/** A file the dashboard serves as it is. */
export interface StaticFile {
  path: string;
  contentType: string;
  /** Vendored libraries never change under one URL; our own files are revalidated. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The directory of the browser code. The UI ships as plain files under `src/web/ui` of the
 * package (listed in package.json `files`), found from this module whether it runs from
 * `src/` (tsx, vitest) or from a bundle in `dist/`: the nearest `package.json` above it is the
 * package root.
 */
export function uiDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'src', 'web', 'ui');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html')))
      return candidate;
    const here = join(dir, 'ui');
    if (existsSync(join(here, 'index.html')) && dir.endsWith(join('src', 'web'))) return here;
    dir = dirname(dir);
  }
  throw new EasError(
    'NOT_FOUND',
    'The dashboard files (src/web/ui) are missing from the plato-eas package: reinstall it.',
    { where: 'eas web' },
  );
}

/**
 * Every file the dashboard serves, by URL path: the UI's own files (only `.html`, `.js`,
 * `.css`, `.svg` directly in the UI directory and its `views/`) and plotly from its npm package.
 * A request is answered only for a path in this map, so nothing else on disk can be reached.
 */
export function staticFiles(): Map<string, StaticFile> {
  const ui = uiDirectory();
  const files = new Map<string, StaticFile>();
  for (const sub of ['', 'views']) {
    const dir = join(ui, sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const url = `/ui/${sub ? `${sub}/` : ''}${name}`;
      files.set(url, { path: join(dir, name), contentType: type, immutable: false });
    }
  }
  const index = files.get('/ui/index.html');
  if (index) files.set('/', index);
  const require = createRequire(import.meta.url);
  files.set('/vendor/plotly.min.js', {
    path: require.resolve('plotly.js-dist-min'),
    contentType: TYPES['.js']!,
    immutable: true,
  });
  return files;
}

/** Reads a static file (small files; plotly is ~4.5 MB, read once and kept). */
export function readStatic(file: StaticFile, cache: Map<string, Buffer>): Buffer {
  let body = cache.get(file.path);
  if (!body) {
    body = readFileSync(file.path);
    if (file.immutable) cache.set(file.path, body);
  }
  return body;
}
