import { placeholders, type SqlParam } from '../../core/index.js';

/**
 * The optional filters of a view query: a condition is added only for a filter that is given,
 * with its parameters in order, and `whereClause()` renders `WHERE … AND …` (or nothing).
 */
export class Conditions {
  readonly where: string[];
  readonly params: SqlParam[] = [];

  constructor(always: readonly string[] = []) {
    this.where = [...always];
  }

  /** `column = ?` when `value` is given. */
  equals(column: string, value: SqlParam | undefined): this {
    if (value !== undefined) {
      this.where.push(`${column} = ?`);
      this.params.push(value);
    }
    return this;
  }

  /** `column > ?` when `value` is given (paging after an id). */
  after(column: string, value: number | undefined): this {
    if (value !== undefined) {
      this.where.push(`${column} > ?`);
      this.params.push(value);
    }
    return this;
  }

  /** `column IN (…)` when `values` has any. */
  among(column: string, values: readonly SqlParam[] | undefined): this {
    if (values !== undefined && values.length > 0) {
      this.where.push(`${column} IN (${placeholders(values.length)})`);
      this.params.push(...values);
    }
    return this;
  }

  /** `WHERE a AND b …`, or the empty string without conditions. */
  whereClause(): string {
    return this.where.length > 0 ? `WHERE ${this.where.join(' AND ')}` : '';
  }
}
