import { InvalidInputError, toTyped, type TypedValue } from '../core/index.js';
import type { EvaluationScope, ValueResolver } from './types.js';

/** Whether a chain string is an expression: its first non-blank character is `'`, `"` or `(`. */
export function isExpression(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const c = value.trimStart()[0];
  return c === "'" || c === '"' || c === '(';
}

/**
 * Resolves literal values only: strings are trimmed, numbers keep their type, and an
 * expression is reported as unsupported. The chain-language interpreter replaces it.
 */
export class LiteralResolver implements ValueResolver {
  resolve(value: unknown, _scope: EvaluationScope, where: string): TypedValue {
    if (isExpression(value)) {
      throw new InvalidInputError('CHAIN_INVALID', 'Chain invalid', [
        {
          path: where,
          message: `expression ${JSON.stringify(value)} cannot be evaluated: this build has no expression evaluator`,
        },
      ]);
    }
    if (typeof value === 'string') return { type: 'str', value: value.trim() };
    return toTyped(value, where);
  }
  needsRequestedMetadata(value: unknown): boolean {
    return isExpression(value) && value.includes('requested_metadata');
  }
}
