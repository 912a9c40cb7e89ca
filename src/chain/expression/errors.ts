import { InvalidInputError } from '../../core/index.js';

/**
 * A problem found while lexing, parsing or evaluating an expression. `offset` is the 0-based
 * position in the expression text; {@link toInvalidInput} turns it into a 1-based column.
 */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/** The `CHAIN_INVALID` error for a failed expression at chain path `where`. */
export function toInvalidInput(
  error: ExpressionError,
  expression: string,
  where: string,
): InvalidInputError {
  const column = Math.max(0, Math.min(error.offset, expression.length)) + 1;
  return new InvalidInputError(
    'CHAIN_INVALID',
    'Chain invalid',
    [
      {
        path: where,
        message: `${error.message} in expression ${JSON.stringify(expression)} at column ${column}`,
      },
    ],
    { details: { expression, column } },
  );
}

/**
 * A problem in a value operation (a bad format spec, a wrong argument type) found below the
 * interpreter; the interpreter re-throws it as an {@link ExpressionError} at the node's column.
 */
export class ValueProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueProblem';
  }
}
