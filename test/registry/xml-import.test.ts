/**
 * `importXmlRegistry`: the original prototype's task_type_registry.xml becomes a registry file
 * plato-eas loads — containers renamed and sized, control-flow types skipped, built-ins keeping
 * only their container, every other type an external command `eas-task-<name>`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/index.js';
import {
  CONTROL_FLOW_TASK_TYPES,
  importXmlRegistry,
  registryFromObject,
} from '../../src/registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../src/tasks/index.js';

const XML_FILE = fileURLToPath(
  new URL('../../../shared/data/task_type_registry.xml', import.meta.url),
);
const XML = readFileSync(XML_FILE, 'utf8');

/** The InvalidInputError `importXmlRegistry` throws for `xml`. */
function rejection(xml: string): InvalidInputError {
  try {
    importXmlRegistry(xml, 'reg.xml');
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as InvalidInputError).code).toBe('REGISTRY_INVALID');
    return e as InvalidInputError;
  }
  throw new Error('expected importXmlRegistry to throw');
}

describe("importXmlRegistry: the original's task_type_registry.xml", () => {
  const { registry, warnings } = importXmlRegistry(XML, XML_FILE, {
    builtins: BUILTIN_TASK_TYPES,
  });

  it('imports its 10 containers, eas_base as eas-base, with cpu, gpu and memory', () => {
    const containers = registry.containers!;
    expect(Object.keys(containers)).toHaveLength(10);
    expect(containers['eas-base']).toEqual({ cpu: 1, gpu: 0, memory: '8Gi' });
    expect(containers['eas-worker-qats']).toEqual({ cpu: 2, gpu: 0, memory: '16Gi' });
    expect(containers['eas-worker-tls']).toEqual({ cpu: 20, gpu: 0, memory: '16Gi' });
    expect(containers['eas-worker-synthesis-psls-batman']?.memory).toBe('16Gi');
    expect(Object.keys(containers).some((n) => n.includes('_'))).toBe(false);
  });

  it('imports its 20 task types but the 4 control-flow ones', () => {
    const names = Object.keys(registry.taskTypes!);
    expect(names).toHaveLength(16);
    for (const cf of CONTROL_FLOW_TASK_TYPES) expect(names).not.toContain(cf);
  });

  it('maps each type to its container and a way to run it', () => {
    const t = registry.taskTypes!;
    // Built in: only the container; "all" is eas-base.
    expect(t['null']).toEqual({ container: 'eas-base' });
    expect(t['error']).toEqual({ container: 'eas-base' });
    // Science codes: the eas-task-<name> convention, in their own container.
    // A transit search may skip its debugging archive (DESIGN §3).
    expect(t['transit_search_qats']).toEqual({
      container: 'eas-worker-qats',
      command: ['eas-task-transit_search_qats'],
      outputs: { optional: ['debugging'] },
    });
    expect(t['synthesis_psls']).toEqual({
      container: 'eas-worker-synthesis-psls-batman',
      command: ['eas-task-synthesis_psls'],
    });
    expect(t['transit_search_bls_reference']?.container).toBe('eas-worker-bls-reference');
    // Built-in by DESIGN §6 but not implemented yet: imported like any other type.
    const notYet = ['verify', 'binning', 'multiply', 'ingest_external_lcs', 'synthesis_batman'];
    for (const name of notYet.filter((n) => !(n in BUILTIN_TASK_TYPES))) {
      expect(t[name]?.command).toEqual([`eas-task-${name}`]);
    }
    expect(t['verify']?.container).toBe('eas-base');
    expect(t['synthesis_batman']?.container).toBe('eas-worker-synthesis-psls-batman');
  });

  it('validates with the schema and the real built-ins', () => {
    const loaded = registryFromObject(registry, { builtins: BUILTIN_TASK_TYPES, baseDir: '/tmp' });
    expect(loaded.get('transit_search_tls').runner).toMatchObject({
      kind: 'command',
      argv: ['eas-task-transit_search_tls'],
    });
    expect(loaded.get('null').runner.kind).toBe('builtin');
    for (const tda of ['transit_search_qats', 'transit_search_tls', 'transit_search_bls'])
      expect(loaded.get(tda).outputs.optional).toEqual(['debugging']);
    expect(loaded.container('eas-base').concurrency).toBe(4); // only cpu, gpu, memory change
    expect(loaded.container('eas-base').memoryBytes).toBe(8 * 1024 ** 3);
    expect(loaded.typesOfContainer('eas-worker-tls').map((x) => x.name)).toEqual([
      'transit_search_tls',
    ]);
  });

  it('says what it changed or left out', () => {
    const text = warnings.join('\n');
    expect(text).toContain('eas_base → eas-base');
    expect(text).toContain('eas_worker_qats → eas-worker-qats');
    expect(text).toMatch(/Container "all".*became eas-base/);
    expect(text).toMatch(/Skipped control-flow types.*execution_chain/);
    expect(text).toContain('eas-task-<name>');
    expect(text).toMatch(/no images/);
    expect(text).toMatch(/optional output of: .*transit_search_qats/);
  });

  it('without builtins, treats null, error and set_metadata as built in', () => {
    const plain = importXmlRegistry(XML, XML_FILE);
    expect(plain.registry.taskTypes!['null']).toEqual({ container: 'eas-base' });
    expect(plain.registry.taskTypes!['verify']?.command).toEqual(['eas-task-verify']);
    expect(() =>
      registryFromObject(plain.registry, { builtins: BUILTIN_TASK_TYPES, baseDir: '/tmp' }),
    ).not.toThrow();
  });

  it('keeps only the container of every type it is told is built in', () => {
    const r = importXmlRegistry(XML, XML_FILE, { builtins: ['verify', 'synthesis_batman'] });
    expect(r.registry.taskTypes!['verify']).toEqual({ container: 'eas-base' });
    expect(r.registry.taskTypes!['synthesis_batman']).toEqual({
      container: 'eas-worker-synthesis-psls-batman',
    });
    expect(r.registry.taskTypes!['null']?.command).toEqual(['eas-task-null']);
  });
});

describe('importXmlRegistry: small documents', () => {
  const doc = (body: string) =>
    `<?xml version="1.0"?>\n<!-- a comment -->\n<task_type_registry>\n${body}\n</task_type_registry>\n`;

  it('reads entities, CDATA, comments, attributes and fractional memory', () => {
    const { registry } = importXmlRegistry(
      doc(`<containers>
  <container id="1"><name><![CDATA[lab_x]]></name>
    <resourceRequirements><cpu>0.5</cpu><memory_gb>0.5</memory_gb><!-- gpu none --></resourceRequirements>
  </container>
</containers>
<tasks><task><name>my&#95;tda</name><container>lab_x</container></task></tasks>`),
      'reg.xml',
    );
    expect(registry).toEqual({
      containers: { 'lab-x': { cpu: 0.5, memory: '512Mi' } },
      taskTypes: { my_tda: { container: 'lab-x', command: ['eas-task-my_tda'] } },
    });
  });

  it('reports malformed XML with line and column', () => {
    const e = rejection('<task_type_registry>\n  <tasks>\n    <task></tsk>\n  </tasks>\n');
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.path).toBe('reg.xml:3:11');
    expect(e.problems[0]!.message).toMatch(/<\/tsk> closes <task>/);
  });

  it('reports an unclosed document, a bad entity and a second root', () => {
    expect(rejection('<task_type_registry>\n<tasks>').problems[0]!.message).toMatch(
      /end of the document inside <tasks>/,
    );
    expect(rejection('<a>x &bogus; y</a>').problems[0]!.path).toBe('reg.xml:1:6');
    expect(rejection('<a/>\n<b/>').problems[0]!.path).toBe('reg.xml:2:1');
    expect(rejection('').problems[0]!.message).toMatch(/no root element/);
    expect(rejection('<a b=1></a>').problems[0]!.message).toMatch(/must be quoted/);
  });

  it('lists every problem of a well-formed but wrong registry at once, with positions', () => {
    const e = rejection(
      doc(`<containers>
  <container><name>c1</name><resourceRequirements><cpu>lots</cpu><memory_gb>-1</memory_gb></resourceRequirements></container>
</containers>
<tasks>
  <task><name>a</name><container>nowhere</container></task>
  <task><name>a</name><container>all</container></task>
  <task><container>all</container></task>
</tasks>`),
    );
    expect(e.problems.map((p) => p.message)).toEqual([
      '<cpu> must be a number above 0, got "lots"',
      '<memory_gb> must be a number above 0, got "-1"',
      'task type "a" names container "nowhere", which the XML does not declare (declared: c1, all)',
      'task type "a" is declared twice',
      '<task> without a <name>',
    ]);
    expect(e.problems[0]!.path).toMatch(/^reg\.xml:5:\d+$/);
  });

  it('rejects another root element', () => {
    expect(rejection('<registry/>').problems[0]!.message).toMatch(/expected <task_type_registry>/);
  });
});
