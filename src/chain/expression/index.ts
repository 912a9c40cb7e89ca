/**
 * The expression language of task chains (DESIGN §3): a lexer, parser and interpreter of a
 * Python-like syntax, never `eval`, `new Function` or `vm`.
 * @module
 */
export { ExpressionResolver, evaluateExpression, referencesRequestedMetadata } from './resolver.js';
export { parseExpression, type Node as ExpressionNode } from './parser.js';
export type { PyValue } from './values.js';
export { tokenize, type Token as ExpressionToken } from './lexer.js';
export { CONSTANTS } from './interpreter.js';
export { formatValue, formatTemplate, printfFormat } from './format.js';
export { seededRandom } from './random.js';
export { ExpressionError } from './errors.js';
export * as expressionLimits from './limits.js';
