import {
  FloatValue,
  InvalidInputError,
  isEasError,
  type Problem,
  type TypedMetadata,
  type TypedValue,
} from '../core/index.js';
import { BODY_FIELDS, controlFieldProblems, STRUCTURAL_FIELDS } from './schema.js';
import { CONTROL_EXPANDERS } from './control-flow.js';
import type {
  ChainDocument,
  ChainPlan,
  DeferredOutput,
  EvaluationScope,
  ExpandedInput,
  ExpandedOutput,
  ExpandedTask,
  TaskDescriptor,
  TaskTypeCatalog,
  ValueResolver,
  NodeContext,
} from './types.js';
import { LiteralResolver } from './values.js';

/** Options of {@link expandChain}. */
export interface ExpandOptions {
  /** Known task types. */
  catalog: TaskTypeCatalog;
  /** Evaluates values. @defaultValue a {@link LiteralResolver} */
  resolver?: ValueResolver;
  /** Job name when the chain names none. */
  defaultJobName: string;
  /** Seed of the job for `random.random()`. */
  seed: string;
  /** Most tasks one submission may expand to (guards against runaway grids). @defaultValue 2,000,000 */
  maxTasks?: number;
  /**
   * Checks and normalises a logical file path (working directory, filename); throws an
   * EasError for a path that escapes the store. Applied before producers and consumers are
   * matched, so `./a.gz` and `a.gz` are one file. @defaultValue no check
   */
  normalizePath?: (
    workingDirectory: string,
    filename: string,
    where: string,
  ) => { workingDirectory: string; filename: string };
}

/**
 * Expands a chain into tasks and edges without touching any database: task types resolved and
 * checked, expressions evaluated, inherited fields applied, control flow expanded, outputs
 * checked for duplicates, inputs bound to producers in the same job, `requires_metadata_from`
 * bound to earlier siblings, cycles rejected. Every problem of the chain is collected and
 * thrown at once with its chain path; inputs with no producer in the job are returned in
 * `unresolvedInputs` for the caller to bind to earlier jobs.
 *
 * @throws InvalidInputError `CHAIN_INVALID` listing every problem.
 */
export function expandChain(doc: ChainDocument, options: ExpandOptions): ChainPlan {
  const { plan, problems } = expandChainCollecting(doc, options);
  if (problems.length > 0) throw new InvalidInputError('CHAIN_INVALID', 'Chain invalid', problems);
  return plan;
}

/**
 * Like {@link expandChain}, but returns the problems instead of throwing, with the plan as far
 * as it could be built, so a caller can add its own checks and report everything at once.
 */
export function expandChainCollecting(
  doc: ChainDocument,
  options: ExpandOptions,
): { plan: ChainPlan; problems: Problem[] } {
  const jobName =
    typeof doc.job_name === 'string' && doc.job_name.trim()
      ? doc.job_name.trim()
      : options.defaultJobName;
  const rootWd = typeof doc.working_directory === 'string' ? doc.working_directory.trim() : '';

  const x = createExpansion(options, jobName, undefined);
  // The document itself is the root task, an execution_chain, so counts match the original's.
  const root: ExpandedTask = {
    key: 0,
    parentKey: null,
    position: 0,
    path: '',
    name: jobName,
    type: 'execution_chain',
    workingDirectory: rootWd,
    depth: 0,
    control: true,
    expanded: true,
    description: { job_name: jobName },
    metadata: {},
    ownMetadata: {},
    inputs: [],
    outputs: [],
    metadataFrom: [],
    maxAttempts: 1,
  };
  x.tasks.push(root);

  x.expandList(
    doc.task_list,
    { key: 0, path: '', depth: 0, workingDirectory: rootWd, jobName, metadata: {} },
    'task_list',
    undefined,
  );

  const { unresolvedInputs, unresolvedBodyInputs } = x.finish();
  return {
    plan: {
      jobName,
      workingDirectory: rootWd,
      tasks: x.tasks,
      unresolvedInputs,
      unresolvedBodyInputs,
      deferred: x.deferredKeys.length,
      deferredKeys: x.deferredKeys,
      deferredOutputs: x.deferredOutputs,
    },
    problems: x.problems,
  };
}

/** What {@link expandFragment} expands: a list under an existing control-flow task. */
export interface FragmentRequest {
  /** The descriptors. */
  list: TaskDescriptor[];
  /** Chain path of the list (`task_list[3].else_task_list`). */
  listPath: string;
  /** The existing node they hang under; its `key` is -1 in the result (`parentKey: -1`). */
  parent: Omit<NodeContext, 'key'>;
  /** Job name of the chain (descendants that name another one record it). */
  jobName: string;
  /** Output metadata of the tasks that decided this expansion (`requested_metadata`). */
  requestedMetadata?: Record<string, TypedMetadata>;
  /**
   * Put the list under a new `execution_chain` (one do-while iteration) with this path,
   * position and own metadata.
   */
  iteration?: { path: string; position: number; metadata: TypedMetadata };
}

/**
 * Expands a list of descriptors at run time, under a task that already exists (a
 * conditional's branch, a do-while iteration): the same rules as {@link expandChain}, with
 * `requested_metadata` in scope. Keys start at 0; `parentKey: -1` means the existing task.
 * Inputs without a producer in the fragment come back in `unresolvedInputs` for the caller
 * to bind to the job's existing files or earlier jobs'.
 */
export function expandFragment(
  request: FragmentRequest,
  options: ExpandOptions,
): {
  tasks: ExpandedTask[];
  unresolvedInputs: { taskKey: number; inputIndex: number }[];
  deferredKeys: number[];
  problems: Problem[];
} {
  const x = createExpansion(options, request.jobName, request.requestedMetadata);
  let parent: NodeContext = { ...request.parent, key: -1 };
  if (request.iteration) {
    const metadata = { ...request.parent.metadata, ...request.iteration.metadata };
    x.tasks.push({
      key: 0,
      parentKey: -1,
      position: request.iteration.position,
      path: request.iteration.path,
      name: null,
      type: 'execution_chain',
      workingDirectory: request.parent.workingDirectory,
      depth: request.parent.depth + 1,
      control: true,
      expanded: true,
      description: {},
      metadata,
      ownMetadata: request.iteration.metadata,
      inputs: [],
      outputs: [],
      metadataFrom: [],
      maxAttempts: 1,
    });
    parent = { ...parent, key: 0, path: request.iteration.path, depth: parent.depth + 1, metadata };
  }
  x.expandList(request.list, parent, request.listPath, undefined);
  const { unresolvedInputs } = x.finish();
  return { tasks: x.tasks, unresolvedInputs, deferredKeys: x.deferredKeys, problems: x.problems };
}

/**
 * A trial expansion, at submission, of a body expanded at run time (a conditional's branch, a
 * do-while iteration): everything known now is evaluated and checked; a value that reads
 * `requested_metadata` is left unknown, its provider names checked against {@link allowed}.
 */
interface Trial {
  /** Names `requested_metadata` may be read with in the body: the deferred node's providers. */
  allowed: ReadonlySet<string>;
  /** Says where those names come from, for messages. */
  providers: string;
}

/** The shared machinery of chain and fragment expansion (and of trial body expansions). */
function createExpansion(
  options: ExpandOptions,
  jobName: string,
  requestedMetadata: Record<string, TypedMetadata> | undefined,
  trial?: Trial,
) {
  const resolver: ValueResolver = options.resolver ?? new LiteralResolver();
  const maxTasks = options.maxTasks ?? 2_000_000;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const report = (p: Problem): void => {
    // A body is checked once per iteration tried: the same problem is reported once.
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return;
    seen.add(k);
    if (problems.length < 1000) problems.push(p);
  };
  /** Outputs and unbound inputs of the bodies checked by trial (see {@link Trial}). */
  const bodyOutputs: ExpandedOutput[] = [];
  const bodyInputs: ExpandedInput[] = [];
  /** Set when a body file's name or directory reads requested_metadata (unknown now). */
  let unknownBodyFiles = false;
  /** `requires_metadata_from` of the descriptor being expanded (a trial allows them too). */
  let ownProviders: readonly string[] = [];

  /**
   * Reports the provider names `value` reads from `requested_metadata` that are not in
   * `allowed` (`providers` says whose list that is).
   */
  const checkRequestedNames = (
    value: unknown,
    where: string,
    allowed: ReadonlySet<string>,
    providers: string,
  ): void => {
    if (!resolver.needsRequestedMetadata(value)) return;
    if (allowed.size === 0) {
      report({
        path: where,
        message: `reads requested_metadata, but ${providers} names no provider`,
      });
      return;
    }
    for (const n of resolver.requestedNames?.(value) ?? []) {
      if (allowed.has(n)) continue;
      report({
        path: where,
        message: `reads requested_metadata['${n}'], but "${n}" is not a provider: ${providers} names ${[...allowed].map((a) => `"${a}"`).join(', ')}`,
      });
    }
  };
  const tasks: ExpandedTask[] = [];
  const deferredKeys: number[] = [];
  const deferredOutputs: DeferredOutput[] = [];
  let overflowReported = false;
  /**
   * Whether the chain has reached `maxTasks`; the first time, a problem at `where`. A loop adds
   * many tasks at once, so the count passes the limit rather than meeting it: once full, the
   * expansion stops everywhere, and the chain is refused whole.
   */
  const full = (where: string): boolean => {
    if (tasks.length < maxTasks) return false;
    if (!overflowReported) {
      overflowReported = true;
      report({ path: where, message: `the chain expands to more than ${maxTasks} tasks` });
    }
    return true;
  };

  const evaluate = (
    value: unknown,
    scope: EvaluationScope,
    where: string,
  ): TypedValue | undefined => {
    if (trial && resolver.needsRequestedMetadata(value)) {
      // Known only at run time: its syntax is sound (else it would not parse); check its names.
      const allowed = new Set([...trial.allowed, ...ownProviders]);
      checkRequestedNames(value, where, allowed, trial.providers);
      return undefined;
    }
    try {
      return resolver.resolve(value, scope, where);
    } catch (e) {
      if (e instanceof InvalidInputError) for (const p of e.problems) report(p);
      else if (isEasError(e)) report({ path: where, message: e.message });
      else throw e;
      return undefined;
    }
  };
  const evaluateString = (
    value: unknown,
    scope: EvaluationScope,
    where: string,
  ): string | undefined => {
    const v = evaluate(value, scope, where);
    if (v === undefined) return undefined;
    if (v.type === 'str') return v.value;
    if (v.type === 'int' || v.type === 'float') return String(v.value);
    report({ path: where, message: `must be text, got ${v.type}` });
    return undefined;
  };

  const expandList = (
    list: TaskDescriptor[],
    parent: NodeContext,
    listPath: string,
    extraMetadata: TypedMetadata | undefined,
  ): void => {
    const siblings = new Map<string, number>();
    list.forEach((desc, i) => {
      if (full(`${listPath}[${i}]`)) return;
      const path = `${listPath}[${i}]`;
      const metadata = extraMetadata ? { ...parent.metadata, ...extraMetadata } : parent.metadata;
      const scope: EvaluationScope = { metadata, requestedMetadata, seed: options.seed, path };
      const key = tasks.length;
      ownProviders = Array.isArray(desc.requires_metadata_from)
        ? desc.requires_metadata_from.map(String)
        : [];

      const type = evaluateString(desc.task, scope, `${path}.task`) ?? '?';
      const known = type !== '?' && options.catalog.has(type);
      if (type !== '?' && !known)
        report({ path: `${path}.task`, message: options.catalog.describeUnknown(type) });
      const control = known && options.catalog.isControlFlow(type);

      const wdUnknown =
        trial !== undefined &&
        desc.working_directory !== undefined &&
        resolver.needsRequestedMetadata(desc.working_directory);
      if (wdUnknown) unknownBodyFiles = true;
      const wd =
        desc.working_directory !== undefined
          ? (evaluateString(desc.working_directory, scope, `${path}.working_directory`) ??
            parent.workingDirectory)
          : parent.workingDirectory;
      const name =
        desc.name !== undefined ? (evaluateString(desc.name, scope, `${path}.name`) ?? null) : null;
      const nodeJobName =
        desc.job_name !== undefined
          ? (evaluateString(desc.job_name, scope, `${path}.job_name`) ?? parent.jobName)
          : parent.jobName;

      const description: Record<string, unknown> = {};
      const atStart: string[] = [];
      for (const [field, value] of Object.entries(desc)) {
        if (STRUCTURAL_FIELDS.has(field)) continue;
        if (control) {
          description[field] = value; // control fields are read by the expander
          continue;
        }
        if (trial && readsRequested(value, resolver)) {
          // A body's fields are evaluated when it expands: what is known now is checked now.
          description[field] = evaluateDeep(value, scope, `${path}.${field}`, evaluate);
          atStart.push(field);
          continue;
        }
        if (requestedMetadata === undefined && readsRequested(value, resolver)) {
          // Known only when the providers have passed QC: the worker evaluates it at start.
          description[field] = value;
          atStart.push(field);
          continue;
        }
        description[field] = evaluateDeep(value, scope, `${path}.${field}`, evaluate);
      }
      if (atStart.length > 0 && !trial) {
        description[EVALUATE_AT_START] = atStart;
        if ((desc.requires_metadata_from ?? []).length === 0) {
          report({
            path: `${path}.${atStart[0]}`,
            message:
              'reads requested_metadata, but the task names no provider in requires_metadata_from',
          });
        }
      }
      if (known && !control && options.catalog.checkDescription) {
        for (const problem of options.catalog.checkDescription(type, description, path, {
          structural: CHAIN_FIELD_NAMES,
          skip: new Set(atStart),
        }))
          report(problem);
      }
      if (nodeJobName !== jobName) description.job_name = nodeJobName;

      const files = (
        field: 'inputs' | 'outputs',
      ): { semanticType: string; workingDirectory: string; filename: string; where: string }[] => {
        const out: {
          semanticType: string;
          workingDirectory: string;
          filename: string;
          where: string;
        }[] = [];
        for (const [sem, value] of Object.entries(desc[field] ?? {})) {
          const where = `${path}.${field}.${sem}`;
          if (trial && (wdUnknown || resolver.needsRequestedMetadata(value))) {
            if (field === 'outputs') unknownBodyFiles = true;
            evaluate(value, scope, where); // checks what is known: syntax, provider names
            continue;
          }
          const filename = evaluateString(value, scope, where);
          if (filename === undefined) continue;
          if (filename === '') {
            report({ path: where, message: 'the filename is empty' });
            continue;
          }
          if (!options.normalizePath) {
            out.push({ semanticType: sem, workingDirectory: wd, filename, where });
            continue;
          }
          try {
            out.push({ semanticType: sem, ...options.normalizePath(wd, filename, where), where });
          } catch (e) {
            if (!isEasError(e)) throw e;
            report({ path: where, message: e.message });
          }
        }
        return out;
      };
      const optional = known ? options.catalog.optionalOutputs(type) : [];
      const outputs: ExpandedOutput[] = files('outputs').map((f) => ({
        semanticType: f.semanticType,
        workingDirectory: f.workingDirectory,
        filename: f.filename,
        optional: optional.includes(f.semanticType),
        where: f.where,
      }));
      const inputs: ExpandedInput[] = files('inputs').map((f) => ({
        semanticType: f.semanticType,
        workingDirectory: f.workingDirectory,
        filename: f.filename,
        where: f.where,
      }));

      const metadataFrom: { name: string; providerKey: number }[] = [];
      (desc.requires_metadata_from ?? []).forEach((n, j) => {
        const provider = siblings.get(n);
        if (provider === undefined) {
          const known = [...siblings.keys()];
          report({
            path: `${path}.requires_metadata_from[${j}]`,
            message: `no earlier sibling is named "${n}"${known.length ? ` (earlier siblings: ${known.join(', ')})` : ''}`,
          });
        } else metadataFrom.push({ name: n, providerKey: provider });
      });

      const task: ExpandedTask = {
        key,
        parentKey: parent.key,
        position: i,
        path,
        name,
        type,
        workingDirectory: wd,
        depth: parent.depth + 1,
        control,
        expanded: false,
        description,
        metadata,
        ownMetadata: {},
        inputs,
        outputs,
        metadataFrom,
        maxAttempts: known ? options.catalog.maxAttempts(type) : 1,
      };
      tasks.push(task);
      if (name !== null) siblings.set(name, key);

      if (control) {
        // Checked by the schema too; again here for a type chosen by an expression.
        for (const p of controlFieldProblems(type, desc, path)) report(p);
        if (inputs.length > 0 || outputs.length > 0) {
          report({
            path,
            message: `a control-flow task (${type}) has no inputs or outputs of its own; declare them on its children`,
          });
        }
        const expander = CONTROL_EXPANDERS[type];
        const node: NodeContext = {
          key,
          path,
          depth: parent.depth + 1,
          workingDirectory: wd,
          jobName: nodeJobName,
          metadata,
        };
        if (!expander) {
          report({
            path: `${path}.task`,
            message: `control-flow type ${type} cannot be expanded by this version`,
          });
          return;
        }
        const groups = expander(desc, node, {
          report,
          evaluate: (value, where) =>
            evaluate(value, { metadata, requestedMetadata, seed: options.seed, path }, where),
          needsRequestedMetadata: (value) => resolver.needsRequestedMetadata(value),
          check: (value, where) => {
            for (const p of resolver.check?.(value, where) ?? []) report(p);
          },
        });
        if (groups === 'deferred') {
          // The controller expands it later from these lists, so they travel with the task.
          if (desc.task_list !== undefined) description.task_list = desc.task_list;
          // `task_list_else` (the original's name) is stored as `else_task_list`.
          const elseList = desc.else_task_list ?? desc.task_list_else;
          if (elseList !== undefined) description.else_task_list = elseList;
          // Its body expands later, but is checked now as far as it is known (DESIGN §3).
          checkDeferredBody(desc, type, node);
          collectDeferredOutputs(desc, path, path, wd, metadata);
          deferredKeys.push(key);
          return;
        }
        task.expanded = true;
        for (const g of groups) {
          // A group with a node adds it; one without adds only its list, checked as it goes.
          if (g.node && full(path)) break;
          if (!g.node) {
            expandList(g.descriptors, node, `${path}.${g.field}`, g.metadata);
            continue;
          }
          // A synthetic execution_chain between the node and its children: one loop iteration.
          // It carries the iteration's metadata as its own; its children inherit it.
          const iterMetadata = { ...metadata, ...g.metadata };
          const iterKey = tasks.length;
          tasks.push({
            key: iterKey,
            parentKey: key,
            position: g.node.position,
            path: g.node.path,
            name: null,
            type: 'execution_chain',
            workingDirectory: wd,
            depth: node.depth + 1,
            control: true,
            expanded: true,
            description: {},
            metadata: iterMetadata,
            ownMetadata: g.metadata ?? {},
            inputs: [],
            outputs: [],
            metadataFrom: [],
            maxAttempts: 1,
          });
          const iterNode: NodeContext = {
            ...node,
            key: iterKey,
            path: g.node.path,
            depth: node.depth + 1,
            metadata: iterMetadata,
          };
          expandList(g.descriptors, iterNode, `${g.node.path}.${g.field}`, undefined);
        }
      } else {
        const list = BODY_FIELDS.find((f) => desc[f] !== undefined);
        if (list === undefined) return;
        report({
          path: `${path}.${list}`,
          message: `only control-flow tasks (execution_*) have a ${list}; ${type} does not`,
        });
      }
    });
  };

  /**
   * Expands `list` by trial under `parent` with `extra` metadata (see {@link Trial}), reports
   * its problems, and keeps its outputs and unbound inputs for {@link finish}. Returns the
   * trial's tasks (its top-level tasks have `parentKey` -1) and outputs.
   */
  const trialBody = (
    list: TaskDescriptor[],
    listPath: string,
    parent: NodeContext,
    extra: TypedMetadata,
    t: Trial,
  ): { tasks: ExpandedTask[]; outputs: ExpandedOutput[] } => {
    const y = createExpansion(options, jobName, undefined, t);
    y.expandList(
      list,
      { ...parent, key: -1, metadata: { ...parent.metadata, ...extra } },
      listPath,
      undefined,
    );
    const { unresolvedInputs } = y.finish();
    for (const p of y.problems) report(p);
    const outputs = y.tasks.flatMap((task) => task.outputs);
    bodyOutputs.push(...outputs, ...y.bodyOutputs);
    for (const u of unresolvedInputs) bodyInputs.push(y.tasks[u.taskKey]!.inputs[u.inputIndex]!);
    bodyInputs.push(...y.bodyInputs);
    if (y.unknownBodyFiles()) unknownBodyFiles = true;
    return { tasks: y.tasks, outputs };
  };

  /**
   * Checks, at submission, the body of a node expanded at run time (DESIGN §3: "still
   * validated at submission as far as it can be"): the criterion's provider names; the body
   * expanded by trial with the metadata known now (both branches of a conditional; iterations
   * 1 and 2 of a do-while); a do-while's `requires_metadata_from_child` against its body's
   * names; and that a do-while's outputs change from one iteration to the next.
   */
  const checkDeferredBody = (desc: TaskDescriptor, type: string, node: NodeContext): void => {
    const path = node.path;
    const own = Array.isArray(desc.requires_metadata_from)
      ? desc.requires_metadata_from.map(String)
      : [];
    const lists = (d: TaskDescriptor) =>
      BODY_FIELDS.flatMap((f) => (Array.isArray(d[f]) ? [{ field: f, list: d[f] }] : []));
    if (type === 'execution_conditional') {
      const allowed = new Set(own);
      const providers = `requires_metadata_from of ${path || 'the chain'}`;
      checkRequestedNames(desc.criterion, `${path}.criterion`, allowed, providers);
      for (const { field, list } of lists(desc))
        trialBody(list, `${path}.${field}`, node, {}, { allowed, providers });
      return;
    }
    if (type !== 'execution_do_while_loop') return;
    const children = Array.isArray(desc.requires_metadata_from_child)
      ? desc.requires_metadata_from_child.map(String)
      : [];
    // The criterion reads the output metadata of the last iteration's named tasks only (the
    // node's metadata edges are replaced by edges to them); an iteration's body sees the node's
    // providers (iteration 1) or those tasks (later ones).
    checkRequestedNames(
      desc.repeat_criterion,
      `${path}.repeat_criterion`,
      new Set(children),
      `requires_metadata_from_child of ${path}`,
    );
    const allowed = new Set([...own, ...children]);
    const providers = `requires_metadata_from and requires_metadata_from_child of ${path}`;
    const name = typeof desc.iteration_name === 'string' ? desc.iteration_name.trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      if (desc.iteration_name !== undefined)
        report({ path: `${path}.iteration_name`, message: 'must be a name (letters, digits, _)' });
      return;
    }
    const list = Array.isArray(desc.task_list) ? desc.task_list : [];
    const index = `${name}_index`;
    // Iterations 1 and 2 (their index as the body sees it): enough to tell a name that changes.
    const [first, second] = [1, 2].map((k) =>
      trialBody(
        list,
        `${path}.task_list`,
        node,
        { [index]: { type: 'int', value: k } },
        { allowed, providers },
      ),
    );
    const topNames = first!.tasks.filter((t) => t.parentKey === -1);
    // A body task whose name is known only at run time may be any of the wanted ones.
    const namesKnown = list.every(
      (d) => d.name === undefined || !resolver.needsRequestedMetadata(d.name),
    );
    if (namesKnown) {
      const names = topNames.flatMap((t) => (t.name === null ? [] : [t.name]));
      children.forEach((c, j) => {
        if (names.includes(c)) return;
        report({
          path: `${path}.requires_metadata_from_child[${j}]`,
          message: `no task of the body is named "${c}"${names.length ? ` (its tasks: ${names.join(', ')})` : ''}`,
        });
      });
    }
    if (!mayRepeat(desc.repeat_criterion, node, index)) return;
    const earlier = new Set(first!.outputs.map((o) => `${o.workingDirectory}\u0000${o.filename}`));
    for (const o of second!.outputs) {
      if (!earlier.has(`${o.workingDirectory}\u0000${o.filename}`)) continue;
      report({
        path: o.where,
        message: `output "${o.filename}" is the same in every iteration of the do-while loop ${path}, so its second iteration would declare it again; make its name depend on the iteration, e.g. '..._{${index}}.gz'.format(**metadata)`,
      });
    }
  };

  /**
   * Whether a do-while may run a second iteration: false only when its criterion is known now
   * (reads no requested_metadata) and false after iteration 1. Quiet: a criterion that cannot
   * be evaluated fails at run time.
   */
  const mayRepeat = (criterion: unknown, node: NodeContext, index: string): boolean => {
    if (criterion === undefined || resolver.needsRequestedMetadata(criterion)) return true;
    const metadata = { ...node.metadata, [index]: { type: 'int', value: 1 } as TypedValue };
    try {
      const scope = { metadata, seed: options.seed, path: node.path };
      return criterionHolds(resolver.resolve(criterion, scope, `${node.path}.repeat_criterion`));
    } catch (e) {
      if (isEasError(e)) return true; // fails when it is evaluated at run time
      throw e;
    }
  };

  /**
   * Records the outputs the bodies of a deferred node declare, as far as they are known now
   * (literal names, or expressions of the node's metadata), so that an input read outside the
   * body can be told where its file is declared. Never reports: the bodies are checked when
   * they are expanded.
   */
  const collectDeferredOutputs = (
    desc: TaskDescriptor,
    path: string,
    deferredPath: string,
    wd: string,
    metadata: TypedMetadata,
  ): void => {
    const quiet = (value: unknown, where: string): string | undefined => {
      if (resolver.needsRequestedMetadata(value)) return undefined;
      try {
        const v = resolver.resolve(value, { metadata, seed: options.seed, path }, where);
        return v.type === 'str' || v.type === 'int' || v.type === 'float'
          ? String(v.value)
          : undefined;
      } catch {
        return undefined;
      }
    };
    for (const field of BODY_FIELDS) {
      const list = desc[field];
      if (!Array.isArray(list)) continue;
      list.forEach((child, i) => {
        if (child === null || typeof child !== 'object') return;
        const at = `${path}.${field}[${i}]`;
        const childWd =
          child.working_directory !== undefined
            ? quiet(child.working_directory, `${at}.working_directory`)
            : wd;
        if (childWd === undefined) return;
        const outputs: unknown = child.outputs;
        if (outputs !== null && typeof outputs === 'object' && !Array.isArray(outputs)) {
          for (const [sem, value] of Object.entries(outputs)) {
            const where = `${at}.outputs.${sem}`;
            const filename = quiet(value, where);
            if (!filename) continue;
            let file = { workingDirectory: childWd, filename };
            try {
              if (options.normalizePath) file = options.normalizePath(childWd, filename, where);
            } catch {
              continue;
            }
            deferredOutputs.push({ ...file, where, body: deferredPath });
          }
        }
        collectDeferredOutputs(child, at, deferredPath, childWd, metadata);
      });
    }
  };

  const finish = (): {
    unresolvedInputs: { taskKey: number; inputIndex: number }[];
    unresolvedBodyInputs: ExpandedInput[];
  } => {
    // Producers: one per (working directory, filename).
    const producers = new Map<string, { key: number; where: string }>();
    for (const t of tasks) {
      for (const o of t.outputs) {
        const k = `${o.workingDirectory}\u0000${o.filename}`;
        const prev = producers.get(k);
        if (prev) {
          report({
            path: o.where,
            message: `output "${o.filename}" in working directory "${o.workingDirectory}" is already declared at ${prev.where}; each file has one producer per job`,
          });
        } else producers.set(k, { key: t.key, where: o.where });
      }
    }
    const unresolvedInputs: { taskKey: number; inputIndex: number }[] = [];
    for (const t of tasks) {
      t.inputs.forEach((input, i) => {
        const p = producers.get(`${input.workingDirectory}\u0000${input.filename}`);
        if (p === undefined) unresolvedInputs.push({ taskKey: t.key, inputIndex: i });
        else if (p.key === t.key)
          report({
            path: input.where,
            message: `the task reads "${input.filename}", which it writes itself`,
          });
        else input.producerKey = p.key;
      });
    }

    const cycle = findCycle(tasks);
    if (cycle) {
      report({
        path: tasks[cycle[0]!]!.path,
        message: `dependency cycle: ${cycle.map((k) => tasks[k]!.path).join(' → ')} → ${tasks[cycle[0]!]!.path}`,
      });
    }

    // Inputs of run-time bodies: bound then to a file of the job (declared anywhere in it, in a
    // body too) or of an earlier job. Those with no producer in the job are left to the caller.
    const unresolvedBodyInputs: ExpandedInput[] = [];
    if (!unknownBodyFiles) {
      const key = (f: { workingDirectory: string; filename: string }) =>
        `${f.workingDirectory}\u0000${f.filename}`;
      const inBodies = new Set([...bodyOutputs, ...deferredOutputs].map(key));
      const seenInputs = new Set<string>();
      for (const input of bodyInputs) {
        const k = key(input);
        if (producers.has(k) || inBodies.has(k)) continue;
        if (seenInputs.has(`${input.where}\u0000${k}`)) continue;
        seenInputs.add(`${input.where}\u0000${k}`);
        unresolvedBodyInputs.push(input);
      }
    }
    return { unresolvedInputs, unresolvedBodyInputs };
  };
  return {
    tasks,
    problems,
    deferredKeys,
    deferredOutputs,
    bodyOutputs,
    bodyInputs,
    unknownBodyFiles: () => unknownBodyFiles,
    expandList,
    finish,
  };
}

/**
 * The message for an input of `plan` that no task of the job produces and no earlier job has
 * a QC-passed version of (`ChainPlan.unresolvedInputs`, once the caller found none): the file
 * is declared only inside a body expanded at run time (a conditional's branch, a do-while
 * loop), so a task outside it cannot depend on it; or no task declares it at all. With `body`,
 * for an input of a body expanded at run time (`ChainPlan.unresolvedBodyInputs`).
 */
export function unresolvedInputMessage(
  plan: Pick<ChainPlan, 'deferredOutputs'>,
  input: { workingDirectory: string; filename: string },
  options: { body?: boolean } = {},
): string {
  const file = `"${input.filename}" in working directory "${input.workingDirectory}"`;
  if (options.body)
    return `no task of the job declares output ${file} (in the chain or in a body expanded at run time), and no earlier job has a QC-passed version of it. Declare it in a task's "outputs".`;
  const inside = plan.deferredOutputs?.find(
    (o) => o.workingDirectory === input.workingDirectory && o.filename === input.filename,
  );
  if (inside)
    return (
      `${file} is declared only inside ${inside.body} (at ${inside.where}), a body expanded at run time, ` +
      `so tasks outside it cannot depend on it (and no earlier job has a QC-passed version of it). ` +
      `Move the reading task into that body, or declare the file in a task outside it.`
    );
  return `no task declares output ${file}, and no earlier job has a QC-passed version of it. Declare it in a task's "outputs".`;
}

/**
 * The field names a key one slip from is taken for a typo of, for every task type (see the
 * catalog's `checkDescription`): the structural fields and the do-while's
 * `requires_metadata_from_child`, but not `task` and `name`: short words one slip from
 * parameters a science code may well have (`mask`, `tasks`, `names`); a misspelt `task` fails
 * as a missing task type anyway.
 */
const CHAIN_FIELD_NAMES: readonly string[] = [
  ...[...STRUCTURAL_FIELDS].filter((f) => f !== 'task' && f !== 'name'),
  'requires_metadata_from_child',
];

/**
 * Key of a task's description listing the fields that read `requested_metadata`: they are
 * evaluated when the task starts, once its providers have passed QC (DESIGN §3).
 */
export const EVALUATE_AT_START = '$evaluate_at_start';

/** Whether a field value (at any depth) holds an expression that reads `requested_metadata`. */
function readsRequested(value: unknown, resolver: ValueResolver): boolean {
  if (typeof value === 'string') return resolver.needsRequestedMetadata(value);
  if (Array.isArray(value)) return value.some((v) => readsRequested(v, resolver));
  if (value !== null && typeof value === 'object' && !(value instanceof FloatValue)) {
    return Object.values(value).some((v) => readsRequested(v, resolver));
  }
  return false;
}

/**
 * Evaluates the fields of a task's description that were left for its start (see
 * {@link EVALUATE_AT_START}), with its providers' output metadata in scope. Returns the
 * description without the marker.
 *
 * @throws InvalidInputError `CHAIN_INVALID` naming the field, the expression and the column.
 */
export function evaluateAtStart(
  description: Record<string, unknown>,
  scope: EvaluationScope,
  resolver: ValueResolver,
): Record<string, unknown> {
  const fields = description[EVALUATE_AT_START];
  if (!Array.isArray(fields)) return description;
  const out: Record<string, unknown> = { ...description };
  delete out[EVALUATE_AT_START];
  const problems: Problem[] = [];
  const evaluate = (v: unknown, s: EvaluationScope, where: string): TypedValue | undefined => {
    try {
      return resolver.resolve(v, s, where);
    } catch (e) {
      if (e instanceof InvalidInputError) problems.push(...e.problems);
      else throw e;
      return undefined;
    }
  };
  for (const f of fields as string[])
    out[f] = evaluateDeep(description[f], scope, `${scope.path}.${f}`, evaluate);
  if (problems.length > 0)
    throw new InvalidInputError('CHAIN_INVALID', 'Task fields invalid', problems);
  return out;
}

/** Python truthiness of an evaluated criterion (a conditional's or a do-while's). */
export function criterionHolds(v: TypedValue): boolean {
  switch (v.type) {
    case 'bool':
      return v.value;
    case 'int':
    case 'float':
      return v.value !== 0;
    case 'str':
      return v.value.length > 0;
    case 'null':
      return false;
    default:
      return Array.isArray(v.value)
        ? v.value.length > 0
        : v.value !== null && Object.keys(v.value as object).length > 0;
  }
}

function evaluateDeep(
  value: unknown,
  scope: EvaluationScope,
  where: string,
  evaluate: (v: unknown, s: EvaluationScope, w: string) => TypedValue | undefined,
): unknown {
  if (Array.isArray(value))
    return value.map((v, i) => evaluateDeep(v, scope, `${where}[${i}]`, evaluate));
  if (value !== null && typeof value === 'object' && !(value instanceof FloatValue)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = evaluateDeep(v, scope, `${where}.${k}`, evaluate);
    return out;
  }
  const v = evaluate(value, scope, where);
  // An integral float stays marked as a float, so `50.0` reaches a science code as `50.0`.
  if (v?.type === 'float' && Number.isInteger(v.value)) return new FloatValue(v.value);
  return v?.value;
}

/** A cycle of task keys through file and metadata edges, or undefined (iterative DFS). */
function findCycle(tasks: readonly ExpandedTask[]): number[] | undefined {
  const deps = tasks.map((t) => [
    ...t.inputs.flatMap((i) => (i.producerKey === undefined ? [] : [i.producerKey])),
    ...t.metadataFrom.map((m) => m.providerKey),
  ]);
  const color = new Uint8Array(tasks.length); // 0 new, 1 on stack, 2 done
  for (let s = 0; s < tasks.length; s++) {
    if (color[s] !== 0 || deps[s]!.length === 0) continue;
    const stack: { node: number; next: number }[] = [{ node: s, next: 0 }];
    color[s] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const d = deps[top.node]!;
      if (top.next < d.length) {
        const n = d[top.next++]!;
        if (color[n] === 1) {
          const from = stack.findIndex((f) => f.node === n);
          return stack
            .slice(from)
            .map((f) => f.node)
            .reverse();
        }
        if (color[n] === 0) {
          color[n] = 1;
          stack.push({ node: n, next: 0 });
        }
      } else {
        color[top.node] = 2;
        stack.pop();
      }
    }
  }
  return undefined;
}
