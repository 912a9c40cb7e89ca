import { toTyped, type Problem, type TypedValue } from '../../core/index.js';
import type { EvaluationScope, ValueResolver } from '../types.js';
import { isExpression } from '../values.js';
import { ExpressionError, ValueProblem, toInvalidInput } from './errors.js';
import { interpret } from './interpreter.js';
import { parseExpression, walk, type Node } from './parser.js';
import { seededRandom } from './random.js';
import { toTypedValue } from './values.js';

/**
 * Evaluates an expression (DESIGN §3) for the chain path `where`.
 *
 * `random.random()` is seeded from the job seed, the task path and `where`, so each field of
 * each task has its own reproducible sequence.
 *
 * @throws InvalidInputError `CHAIN_INVALID` naming `where`, the expression and the 1-based column.
 */
export function evaluateExpression(
  expression: string,
  scope: EvaluationScope,
  where: string,
): TypedValue {
  try {
    const root = cachedParse(expression);
    // Seeding hashes the seed text: done only when an expression calls random.random().
    let random: (() => number) | undefined;
    const result = interpret(root, {
      metadata: scope.metadata,
      ...(scope.requestedMetadata === undefined
        ? {}
        : { requestedMetadata: scope.requestedMetadata }),
      random: () => (random ??= seededRandom(`${scope.seed}\u0000${scope.path}\u0000${where}`))(),
    });
    const typed = toTypedValue(result);
    if (typed === undefined) {
      throw new ExpressionError(
        `the result is a ${result.kind === 'module' ? 'module' : 'function'}, not a value (call it?)`,
        root.offset,
      );
    }
    return typed;
  } catch (e) {
    if (e instanceof ExpressionError) throw toInvalidInput(e, expression, where);
    if (e instanceof ValueProblem)
      throw toInvalidInput(new ExpressionError(e.message, 0), expression, where);
    throw e;
  }
}

/** Whether a parsed expression reads the name `requested_metadata`. */
/**
 * Parsed expressions by text. A grid evaluates the same few expressions for every one of its
 * 100,000 leaves; parsing each once saves most of the evaluation time. Bounded, so a chain with
 * millions of distinct expressions cannot grow it without limit.
 */
const PARSE_CACHE_MAX = 10_000;
const parseCache = new Map<string, Node>();

function cachedParse(expression: string): Node {
  let root = parseCache.get(expression);
  if (!root) {
    root = parseExpression(expression);
    if (parseCache.size >= PARSE_CACHE_MAX) parseCache.clear();
    parseCache.set(expression, root);
  }
  return root;
}

export function referencesRequestedMetadata(root: Node): boolean {
  for (const n of walk(root)) {
    if (n.type === 'name' && n.name === 'requested_metadata') return true;
  }
  return false;
}

/**
 * The chain-language interpreter as a {@link ValueResolver}: expressions are parsed and
 * evaluated (never `eval`), plain strings are trimmed, other JSON values keep their type.
 */
export class ExpressionResolver implements ValueResolver {
  resolve(value: unknown, scope: EvaluationScope, where: string): TypedValue {
    if (isExpression(value)) return evaluateExpression(value, scope, where);
    if (typeof value === 'string') return { type: 'str', value: value.trim() };
    return toTyped(value, where);
  }

  check(value: unknown, where: string): Problem[] {
    if (!isExpression(value)) return [];
    try {
      cachedParse(value);
      return [];
    } catch (e) {
      if (e instanceof ExpressionError) return toInvalidInput(e, value, where).problems;
      throw e;
    }
  }

  requestedNames(value: unknown): string[] {
    if (!isExpression(value)) return [];
    let root: Node;
    try {
      root = cachedParse(value);
    } catch {
      return []; // A syntax error is reported by check() or resolve().
    }
    const names = new Set<string>();
    for (const n of walk(root)) {
      if (
        n.type === 'subscript' &&
        n.object.type === 'name' &&
        n.object.name === 'requested_metadata' &&
        n.index.type === 'str'
      )
        names.add(n.index.value);
    }
    return [...names];
  }

  needsRequestedMetadata(value: unknown): boolean {
    if (!isExpression(value)) return false;
    try {
      return referencesRequestedMetadata(cachedParse(value));
    } catch {
      // A syntax error surfaces when the value is resolved.
      return false;
    }
  }
}
