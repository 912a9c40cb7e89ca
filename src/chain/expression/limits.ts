/**
 * Bounds on the work one expression may do (DESIGN §3: "bounded work"). An expression comes
 * from a chain file anyone may submit, and is evaluated by the controller for every task of a
 * grid, so each bound keeps one evaluation small and fast whatever the input.
 */

/** Longest expression text: real chains use < 200 characters; bounds lexing and parsing work. */
export const MAX_EXPRESSION_LENGTH = 10_000;

/**
 * Deepest nesting of parentheses, calls, subscripts and unary operators, and of the syntax
 * tree: the parser and interpreter recurse, so this keeps them far from the JS stack limit.
 */
export const MAX_DEPTH = 100;

/** Deepest syntax tree (left-associative chains such as `1+1+…` deepen it without nesting). */
export const MAX_TREE_DEPTH = 400;

/** Longest string a step may produce (1 MiB); checked before allocating (`'a' * 10**9`). */
export const MAX_STRING_LENGTH = 1 << 20;

/** Longest list a step may produce (`[0] * n`), checked before allocating. */
export const MAX_LIST_LENGTH = 100_000;

/**
 * Total characters and list items one evaluation may allocate: many 1 MiB steps in a row would
 * otherwise stay under the per-step bound yet take seconds.
 */
export const MAX_TOTAL_ALLOCATION = 16 << 20;

/** Largest integer kept exactly: JS numbers are doubles, so beyond 2^53 - 1 an int is an error. */
export const MAX_SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Largest precision or width in a format spec: bounds padding and digit generation. */
export const MAX_FORMAT_PRECISION = 100;
