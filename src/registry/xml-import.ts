import { InvalidInputError, type Problem } from '../core/index.js';
import { DEFAULT_CONTAINER_NAME, isControlFlowTaskType } from './builtins.js';
import { NAME_PATTERN } from './schema.js';
import type { BuiltinTaskType, ContainerEntry, RegistryFile, TaskTypeEntry } from './types.js';

/**
 * The program an imported task type runs: `eas-task-<name>`, an executable that the image of
 * its container provides on `PATH` (the original's registry says which container runs a type,
 * not how). Run where no such program exists, the task fails with the runner's "command not
 * found".
 */
export const IMPORTED_COMMAND_PREFIX = 'eas-task-';

/**
 * The built-in task types of DESIGN §6, aliases included. Those the running plato-eas does not
 * have yet are imported like any other type (an external command), with a warning.
 */
const DESIGNED_BUILTINS = [
  'null',
  'error',
  'set_metadata',
  'verify',
  'multiply',
  'binning',
  'ingest_lightcurves',
  'ingest_external_lcs',
  'synthesis_transit',
  'synthesis_batman',
  'transit_search_bls',
] as const;

/** Built in in every plato-eas: what {@link importXmlRegistry} assumes without `builtins`. */
const BASIC_BUILTINS = ['null', 'error', 'set_metadata'] as const;

/**
 * Transit searches (TDAs) are the types named `transit_search_*`; their `debugging` archive is
 * an optional output (DESIGN §3), which the XML cannot say.
 */
const TDA_PREFIX = 'transit_search_';
const TDA_OPTIONAL_OUTPUT = 'debugging';

/** The container value of the original's XML meaning "every worker image" (all are `eas_base`). */
const ALL_CONTAINERS = 'all';

/** Options of {@link importXmlRegistry}. */
export interface ImportXmlRegistryOptions {
  /**
   * The built-in task types of this plato-eas (the CLI passes the task library's
   * `BUILTIN_TASK_TYPES`). A type among them keeps only its container; any other type becomes
   * an external command `eas-task-<name>`.
   * @defaultValue `null`, `error` and `set_metadata`
   */
  builtins?: Readonly<Record<string, BuiltinTaskType>> | Iterable<string>;
}

/** What {@link importXmlRegistry} returns. */
export interface XmlRegistryImport {
  /** The registry file, ready to write as YAML or JSON. */
  registry: RegistryFile;
  /** What the import changed or left out, one line each, for people. */
  warnings: string[];
}

/**
 * Converts the original prototype's XML task-type registry (`task_type_registry.xml`) into a
 * plato-eas registry file:
 *
 * - each `<container>` becomes a container with its `cpu`, `gpu` and `memory_gb` (as `"8Gi"`);
 *   names take `-` for `_` (`eas_worker_qats` → `eas-worker-qats`), `eas_base` is `eas-base`;
 * - each `<task>` runs in its container; `all` (every worker image, all built from `eas_base`)
 *   becomes `eas-base`;
 * - control-flow types (`execution_*`) are skipped: the controller has them;
 * - built-in types keep only their container;
 * - every other type runs the command `["eas-task-<name>"]`, a program its container's image
 *   provides on `PATH`;
 * - a transit search (`transit_search_*`) may skip its `debugging` archive: an optional output.
 *   Without it, a chain declaring the archive would fail QC for every search that writes none.
 *
 * @param xmlText The XML document.
 * @param source Names the document in errors (a file path).
 * @throws InvalidInputError `REGISTRY_INVALID` for malformed XML (with line and column) or a
 *   document that is not such a registry, listing every problem found.
 */
export function importXmlRegistry(
  xmlText: string,
  source: string,
  options: ImportXmlRegistryOptions = {},
): XmlRegistryImport {
  const builtinNames = new Set<string>(
    options.builtins === undefined
      ? BASIC_BUILTINS
      : Symbol.iterator in options.builtins
        ? (options.builtins as Iterable<string>)
        : Object.keys(options.builtins),
  );
  const subject = `XML task-type registry ${source} cannot be imported`;
  const root = parseXml(xmlText, source, subject);
  const problems: Problem[] = [];
  const at = (node: XmlElement) => `${source}:${node.line}:${node.column}`;
  const problem = (node: XmlElement, message: string) => problems.push({ path: at(node), message });
  const ignored: string[] = [];

  if (root.name !== 'task_type_registry') {
    problem(root, `the root element is <${root.name}>; expected <task_type_registry>`);
  }

  // ── Containers ──
  const containers: Record<string, ContainerEntry> = {};
  const containerNames = new Map<string, string>(); // XML name → our name
  const renamed: string[] = [];
  for (const section of children(root, 'containers')) {
    for (const node of elements(section)) {
      if (node.name !== 'container') {
        ignored.push(`<${node.name}> at ${at(node)}`);
        continue;
      }
      const xmlName = textOf(node, 'name');
      if (!xmlName) {
        problem(node, '<container> without a <name>');
        continue;
      }
      if (containerNames.has(xmlName)) {
        problem(node, `container "${xmlName}" is declared twice`);
        continue;
      }
      const ours = mapContainerName(xmlName);
      if (!NAME_PATTERN.test(ours)) {
        problem(node, `container name "${xmlName}" cannot be used (${ours} is not a valid name)`);
        continue;
      }
      if ([...containerNames.values()].includes(ours)) {
        problem(node, `container "${xmlName}" would be "${ours}", the name of another container`);
        continue;
      }
      containerNames.set(xmlName, ours);
      if (ours !== xmlName) renamed.push(`${xmlName} → ${ours}`);
      const entry: ContainerEntry = {};
      for (const child of elements(node)) {
        if (child.name === 'name') continue;
        if (child.name !== 'resourceRequirements') {
          ignored.push(`<${child.name}> at ${at(child)}`);
          continue;
        }
        for (const req of elements(child)) {
          const value = text(req);
          const n = Number(value);
          if (req.name === 'cpu') {
            if (value === '' || !Number.isFinite(n) || n <= 0) {
              problem(req, `<cpu> must be a number above 0, got "${value}"`);
            } else entry.cpu = n;
          } else if (req.name === 'gpu') {
            if (value === '' || !Number.isInteger(n) || n < 0) {
              problem(req, `<gpu> must be a whole number, got "${value}"`);
            } else entry.gpu = n;
          } else if (req.name === 'memory_gb') {
            if (value === '' || !Number.isFinite(n) || n <= 0) {
              problem(req, `<memory_gb> must be a number above 0, got "${value}"`);
            } else entry.memory = memoryOf(n);
          } else {
            ignored.push(`<${req.name}> at ${at(req)}`);
          }
        }
      }
      containers[ours] = entry;
    }
  }

  // ── Task types ──
  const taskTypes: Record<string, TaskTypeEntry> = {};
  const seen = new Set<string>();
  const controlFlow: string[] = [];
  const inAll: string[] = [];
  const keptBuiltins: string[] = [];
  const notYetBuiltins: string[] = [];
  const commands: string[] = [];
  const tdas: string[] = [];
  for (const section of children(root, 'tasks')) {
    for (const node of elements(section)) {
      if (node.name !== 'task') {
        ignored.push(`<${node.name}> at ${at(node)}`);
        continue;
      }
      for (const child of elements(node)) {
        if (child.name !== 'name' && child.name !== 'container')
          ignored.push(`<${child.name}> at ${at(child)}`);
      }
      const name = textOf(node, 'name');
      if (!name) {
        problem(node, '<task> without a <name>');
        continue;
      }
      if (seen.has(name)) {
        problem(node, `task type "${name}" is declared twice`);
        continue;
      }
      seen.add(name);
      if (isControlFlowTaskType(name)) {
        controlFlow.push(name);
        continue;
      }
      if (!NAME_PATTERN.test(name)) {
        problem(node, `task type name "${name}" cannot be used: ${NAME_RULE}`);
        continue;
      }
      const xmlContainer = textOf(node, 'container');
      let container: string;
      if (xmlContainer === undefined || xmlContainer === ALL_CONTAINERS) {
        container = DEFAULT_CONTAINER_NAME;
        inAll.push(name);
      } else {
        const ours = containerNames.get(xmlContainer);
        if (ours === undefined) {
          const known = [...containerNames.keys(), ALL_CONTAINERS].join(', ');
          problem(
            node,
            `task type "${name}" names container "${xmlContainer}", which the XML does not declare (declared: ${known})`,
          );
          continue;
        }
        container = ours;
      }
      if (builtinNames.has(name)) {
        keptBuiltins.push(name);
        taskTypes[name] = { container };
      } else {
        if ((DESIGNED_BUILTINS as readonly string[]).includes(name)) notYetBuiltins.push(name);
        commands.push(name);
        taskTypes[name] = { container, command: [`${IMPORTED_COMMAND_PREFIX}${name}`] };
        if (name.startsWith(TDA_PREFIX)) {
          taskTypes[name].outputs = { optional: [TDA_OPTIONAL_OUTPUT] };
          tdas.push(name);
        }
      }
    }
  }
  for (const node of elements(root)) {
    if (node.name !== 'containers' && node.name !== 'tasks')
      ignored.push(`<${node.name}> at ${at(node)}`);
  }

  if (problems.length > 0) throw new InvalidInputError('REGISTRY_INVALID', subject, problems);

  const list = (names: string[]) => names.join(', ');
  const warnings: string[] = [];
  if (renamed.length > 0) {
    warnings.push(
      `Container names take "-" for "_" (as Kubernetes names do); the original's eas_base is our default container eas-base: ${list(renamed)}.`,
    );
  }
  const declared = Object.keys(containers);
  const needImage = declared.filter((c) => c !== DEFAULT_CONTAINER_NAME);
  if (needImage.length > 0) {
    warnings.push(
      `The XML gives no images: set "image" for ${list(needImage)} before running on Kubernetes (eas run starts local workers and needs none; eas-base keeps plato/eas-base:latest).`,
    );
  }
  if (inAll.length > 0) {
    warnings.push(
      `Container "all" (every worker image of the original, all built from eas_base) became eas-base, since a task type runs in one container here: ${list(inAll)}.`,
    );
  }
  if (controlFlow.length > 0) {
    warnings.push(
      `Skipped control-flow types, which plato-eas's controller expands itself: ${list(controlFlow)}.`,
    );
  }
  if (keptBuiltins.length > 0) {
    warnings.push(
      `Built-in task types keep their handler; only their container was imported: ${list(keptBuiltins)}.`,
    );
  }
  if (notYetBuiltins.length > 0) {
    warnings.push(
      `Built-in by DESIGN §6 but not in this plato-eas yet, so imported as external commands like the others: ${list(notYetBuiltins)}. Once plato-eas has them, re-import (an entry with "command" replaces a built-in handler).`,
    );
  }
  if (commands.length > 0) {
    warnings.push(
      `${commands.length} task types run the command ${IMPORTED_COMMAND_PREFIX}<name>, a program their container's image must provide on PATH (where it does not, the task fails with "command not found"): ${list(commands)}.`,
    );
  }
  if (tdas.length > 0) {
    warnings.push(
      `Transit searches may skip their "${TDA_OPTIONAL_OUTPUT}" archive (DESIGN §3), so it is an optional output of: ${list(tdas)}. Declare other optional outputs in the registry by hand.`,
    );
  }
  if (ignored.length > 0) warnings.push(`Ignored unknown elements: ${list(ignored)}.`);

  const registry: RegistryFile = {};
  if (declared.length > 0) registry.containers = containers;
  if (Object.keys(taskTypes).length > 0) registry.taskTypes = taskTypes;
  return { registry, warnings };
}

const NAME_RULE =
  'names start with a letter or "_" and hold only letters, digits, "_", "." and "-"';

/** `eas_worker_qats` → `eas-worker-qats`; `eas_base` → `eas-base`. */
function mapContainerName(xmlName: string): string {
  return xmlName.trim().replace(/_/g, '-');
}

/** `8` → `"8Gi"`, `0.5` → `"512Mi"`. */
function memoryOf(gb: number): string {
  return Number.isInteger(gb) ? `${gb}Gi` : `${Math.round(gb * 1024)}Mi`;
}

// ── A minimal XML reader ─────────────────────────────────────────────────────────────────────
// Enough for the original's registry and hand-edited copies of it: elements, attributes, text,
// entities, comments, CDATA, processing instructions and a DOCTYPE without internal subset.
// Namespaces and DTDs are not interpreted.

/** One element of an XML document, with where it starts (1-based). */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: (XmlElement | string)[];
  line: number;
  column: number;
}

const elements = (node: XmlElement): XmlElement[] =>
  node.children.filter((c): c is XmlElement => typeof c !== 'string');
const children = (node: XmlElement, name: string): XmlElement[] =>
  elements(node).filter((c) => c.name === name);
const text = (node: XmlElement): string =>
  node.children
    .map((c) => (typeof c === 'string' ? c : text(c)))
    .join('')
    .trim();
/** The text of the first child element `name`, or undefined. */
const textOf = (node: XmlElement, name: string): string | undefined => {
  const child = children(node, name)[0];
  return child ? text(child) : undefined;
};

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const XML_NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;

/** Parses `xml` into its root element. @throws InvalidInputError with `source:line:column`. */
function parseXml(xml: string, source: string, subject: string): XmlElement {
  let i = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  const lineStarts = [0];
  for (let k = 0; k < xml.length; k++) if (xml[k] === '\n') lineStarts.push(k + 1);
  const position = (index: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: index - lineStarts[lo]! + 1 };
  };
  const fail = (index: number, message: string): never => {
    const { line, column } = position(index);
    throw new InvalidInputError('REGISTRY_INVALID', subject, [
      { path: `${source}:${line}:${column}`, message: `malformed XML: ${message}` },
    ]);
  };
  const startsWith = (s: string) => xml.startsWith(s, i);
  const skipPast = (end: string, what: string) => {
    const k = xml.indexOf(end, i);
    if (k < 0) fail(i, `${what} is not closed by "${end}"`);
    i = k + end.length;
  };
  const readName = (): string => {
    XML_NAME.lastIndex = i;
    const m = XML_NAME.exec(xml);
    if (!m) return fail(i, `expected a name, found ${describe(xml, i)}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  const decode = (raw: string, start: number): string =>
    raw.replace(/&([^;&\s]*);?/g, (whole, ref: string, offset: number) => {
      if (!whole.endsWith(';')) fail(start + offset, `"&" must start an entity such as &amp;`);
      let code: number | undefined;
      if (ref.startsWith('#x')) code = parseInt(ref.slice(2), 16);
      else if (ref.startsWith('#')) code = parseInt(ref.slice(1), 10);
      else if (ENTITIES[ref] !== undefined) return ENTITIES[ref];
      if (code === undefined || !Number.isFinite(code) || code < 0 || code > 0x10ffff)
        return fail(start + offset, `unknown entity "${whole}"`);
      return String.fromCodePoint(code);
    });
  /** Skips comments, processing instructions and a DOCTYPE; true when it skipped one. */
  const skipMisc = (): boolean => {
    if (startsWith('<!--')) skipPast('-->', 'a comment');
    else if (startsWith('<?')) skipPast('?>', 'a processing instruction');
    else if (startsWith('<!DOCTYPE')) {
      if (xml.indexOf('[', i) >= 0 && xml.indexOf('[', i) < xml.indexOf('>', i))
        skipPast(']>', 'a DOCTYPE');
      else skipPast('>', 'a DOCTYPE');
    } else return false;
    return true;
  };

  const readElement = (): XmlElement => {
    const open = i;
    i++; // <
    const { line, column } = position(open);
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipSpace();
      if (startsWith('/>')) {
        i += 2;
        return { name, attributes, children: [], line, column };
      }
      if (startsWith('>')) {
        i++;
        break;
      }
      if (i >= xml.length) fail(open, `<${name}> is not closed by ">"`);
      if (i === before)
        fail(i, `expected a space, ">" or "/>" in <${name}>, found ${describe(xml, i)}`);
      const attrAt = i;
      const attr = readName();
      skipSpace();
      if (xml[i] !== '=')
        fail(i, `expected "=" after attribute ${attr}, found ${describe(xml, i)}`);
      i++;
      skipSpace();
      const quote = xml[i];
      if (quote !== '"' && quote !== "'")
        fail(i, `the value of attribute ${attr} must be quoted, found ${describe(xml, i)}`);
      const end = xml.indexOf(quote!, i + 1);
      if (end < 0) fail(i, `the value of attribute ${attr} is not closed`);
      if (attr in attributes) fail(attrAt, `attribute ${attr} given twice`);
      attributes[attr] = decode(xml.slice(i + 1, end), i + 1);
      i = end + 1;
    }
    const node: XmlElement = { name, attributes, children: [], line, column };
    for (;;) {
      if (i >= xml.length)
        fail(
          i,
          `end of the document inside <${name}> (opened at ${line}:${column}); expected </${name}>`,
        );
      if (startsWith('</')) {
        const closeAt = i;
        i += 2;
        const closing = readName();
        skipSpace();
        if (xml[i] !== '>')
          fail(i, `expected ">" to close </${closing}>, found ${describe(xml, i)}`);
        i++;
        if (closing !== name)
          fail(
            closeAt,
            `</${closing}> closes <${name}> (opened at ${line}:${column}); expected </${name}>`,
          );
        return node;
      }
      if (startsWith('<![CDATA[')) {
        const start = i + 9;
        skipPast(']]>', 'a CDATA section');
        node.children.push(xml.slice(start, i - 3));
      } else if (skipMisc()) {
        // skipped
      } else if (startsWith('<')) {
        node.children.push(readElement());
      } else {
        const start = i;
        const next = xml.indexOf('<', i);
        i = next < 0 ? xml.length : next;
        node.children.push(decode(xml.slice(start, i), start));
      }
    }
  };

  let root: XmlElement | undefined;
  for (;;) {
    skipSpace();
    if (i >= xml.length) break;
    if (skipMisc()) continue;
    if (root) fail(i, `content after the root element </${root.name}>: ${describe(xml, i)}`);
    if (xml[i] !== '<') fail(i, `expected an element, found ${describe(xml, i)}`);
    root = readElement();
  }
  if (!root) return fail(i, 'the document has no root element');
  return root;
}

/** `"<foo"` or `the end of the document`, for error messages. */
function describe(xml: string, i: number): string {
  if (i >= xml.length) return 'the end of the document';
  return JSON.stringify(xml.slice(i, i + 12).split('\n')[0]);
}
