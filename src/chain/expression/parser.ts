import { ExpressionError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import { MAX_DEPTH, MAX_TREE_DEPTH } from './limits.js';

/** Binary arithmetic operators. */
export type BinaryOp = '+' | '-' | '*' | '/' | '//' | '%' | '**';
/** Comparison operators (chained as in Python: `a < b < c`). */
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | 'is' | 'is not';

/** One argument of a call: positional, `*iterable`, `name=value` or `**mapping`. */
export interface Argument {
  kind: 'positional' | 'star' | 'keyword' | 'doublestar';
  name?: string;
  value: Node;
  offset: number;
}

/** A node of the syntax tree; `offset` is where it starts (or its operator) in the text. */
export type Node = { offset: number; depth: number } & (
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'str'; value: string }
  | { type: 'bool'; value: boolean }
  | { type: 'none' }
  | { type: 'name'; name: string }
  | { type: 'unary'; op: '-' | '+'; operand: Node }
  | { type: 'not'; operand: Node }
  | { type: 'binary'; op: BinaryOp; left: Node; right: Node }
  | { type: 'logical'; op: 'and' | 'or'; left: Node; right: Node }
  | { type: 'compare'; first: Node; rest: { op: CompareOp; right: Node; offset: number }[] }
  | { type: 'conditional'; test: Node; then: Node; otherwise: Node }
  | { type: 'call'; callee: Node; args: Argument[] }
  | { type: 'subscript'; object: Node; index: Node }
  | { type: 'attribute'; object: Node; name: string; nameOffset: number }
  | { type: 'tuple'; items: Node[] }
  | { type: 'list'; items: Node[] }
  | { type: 'dict'; entries: { key: Node; value: Node }[] }
);

type NodeBody<N = Node> = N extends unknown ? Omit<N, 'offset' | 'depth'> : never;

/**
 * Parses an expression into a syntax tree.
 * @throws ExpressionError with the offset of the offending token.
 */
export function parseExpression(text: string): Node {
  return new Parser(tokenize(text)).parseAll();
}

/** Every node of a tree, depth first. */
export function* walk(node: Node): Generator<Node> {
  yield node;
  switch (node.type) {
    case 'unary':
    case 'not':
      yield* walk(node.operand);
      break;
    case 'binary':
    case 'logical':
      yield* walk(node.left);
      yield* walk(node.right);
      break;
    case 'compare':
      yield* walk(node.first);
      for (const r of node.rest) yield* walk(r.right);
      break;
    case 'conditional':
      yield* walk(node.test);
      yield* walk(node.then);
      yield* walk(node.otherwise);
      break;
    case 'call':
      yield* walk(node.callee);
      for (const a of node.args) yield* walk(a.value);
      break;
    case 'subscript':
      yield* walk(node.object);
      yield* walk(node.index);
      break;
    case 'attribute':
      yield* walk(node.object);
      break;
    case 'tuple':
    case 'list':
      for (const i of node.items) yield* walk(i);
      break;
    case 'dict':
      for (const e of node.entries) {
        yield* walk(e.key);
        yield* walk(e.value);
      }
      break;
    default:
      break;
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of expression';
  if (t.kind === 'str') return 'string literal';
  return JSON.stringify(t.text);
}

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parseAll(): Node {
    const node = this.parseExpressionList(true);
    const t = this.peek();
    if (t.kind !== 'eof') throw new ExpressionError(`unexpected ${describe(t)}`, t.offset);
    return node;
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private isOp(text: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'op' && t.text === text;
  }

  private isKeyword(text: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'keyword' && t.text === text;
  }

  private expectOp(text: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== text) {
      throw new ExpressionError(`expected ${JSON.stringify(text)}, found ${describe(t)}`, t.offset);
    }
    return this.next();
  }

  private node(offset: number, body: NodeBody, ...children: Node[]): Node {
    const depth = 1 + Math.max(0, ...children.map((c) => c.depth));
    if (depth > MAX_TREE_DEPTH) {
      throw new ExpressionError(`expression nested too deeply (over ${MAX_TREE_DEPTH})`, offset);
    }
    return { ...body, offset, depth } as Node;
  }

  /** Enters one level of recursion, refusing to go beyond {@link MAX_DEPTH}. */
  private nested<T>(offset: number, f: () => T): T {
    if (++this.depth > MAX_DEPTH) {
      throw new ExpressionError(`expression nested too deeply (over ${MAX_DEPTH} levels)`, offset);
    }
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  /** `a, b, c` at the top level or in parentheses is a tuple. */
  private parseExpressionList(allowTuple: boolean): Node {
    const first = this.parseExpr();
    if (!allowTuple || !this.isOp(',')) return first;
    const items = [first];
    while (this.isOp(',')) {
      this.next();
      if (this.isOp(')') || this.peek().kind === 'eof') break;
      items.push(this.parseExpr());
    }
    return this.node(first.offset, { type: 'tuple', items }, ...items);
  }

  private parseExpr(): Node {
    return this.nested(this.peek().offset, () => {
      const then = this.parseOr();
      if (!this.isKeyword('if')) return then;
      this.next();
      const test = this.parseOr();
      if (!this.isKeyword('else')) {
        const t = this.peek();
        throw new ExpressionError(`expected "else", found ${describe(t)}`, t.offset);
      }
      this.next();
      const otherwise = this.parseExpr();
      return this.node(
        then.offset,
        { type: 'conditional', test, then, otherwise },
        test,
        then,
        otherwise,
      );
    });
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.isKeyword('or')) {
      const op = this.next();
      const right = this.parseAnd();
      left = this.node(op.offset, { type: 'logical', op: 'or', left, right }, left, right);
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseNot();
    while (this.isKeyword('and')) {
      const op = this.next();
      const right = this.parseNot();
      left = this.node(op.offset, { type: 'logical', op: 'and', left, right }, left, right);
    }
    return left;
  }

  private parseNot(): Node {
    if (!this.isKeyword('not')) return this.parseComparison();
    const op = this.next();
    return this.nested(op.offset, () => {
      const operand = this.parseNot();
      return this.node(op.offset, { type: 'not', operand }, operand);
    });
  }

  private compareOp(): CompareOp | undefined {
    const t = this.peek();
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) return t.text as CompareOp;
    if (this.isKeyword('in')) return 'in';
    if (this.isKeyword('not') && this.isKeyword('in', 1)) return 'not in';
    if (this.isKeyword('is')) return this.isKeyword('not', 1) ? 'is not' : 'is';
    return undefined;
  }

  private parseComparison(): Node {
    const first = this.parseArith();
    const rest: { op: CompareOp; right: Node; offset: number }[] = [];
    for (let op = this.compareOp(); op !== undefined; op = this.compareOp()) {
      const offset = this.next().offset;
      if (op === 'not in' || op === 'is not') this.next();
      rest.push({ op, right: this.parseArith(), offset });
    }
    if (rest.length === 0) return first;
    return this.node(
      rest[0]?.offset ?? first.offset,
      { type: 'compare', first, rest },
      first,
      ...rest.map((r) => r.right),
    );
  }

  private parseArith(): Node {
    let left = this.parseTerm();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next();
      const right = this.parseTerm();
      const body = { type: 'binary', op: op.text as BinaryOp, left, right } as const;
      left = this.node(op.offset, body, left, right);
    }
    return left;
  }

  private parseTerm(): Node {
    let left = this.parseUnary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) {
      const op = this.next();
      const right = this.parseUnary();
      const body = { type: 'binary', op: op.text as BinaryOp, left, right } as const;
      left = this.node(op.offset, body, left, right);
    }
    return left;
  }

  private parseUnary(): Node {
    if (!this.isOp('-') && !this.isOp('+')) return this.parsePower();
    const op = this.next();
    return this.nested(op.offset, () => {
      const operand = this.parseUnary();
      const body = { type: 'unary', op: op.text as '-' | '+', operand } as const;
      return this.node(op.offset, body, operand);
    });
  }

  private parsePower(): Node {
    const base = this.parsePostfix();
    if (!this.isOp('**')) return base;
    const op = this.next();
    // Right-associative, and the exponent may carry a sign: 2 ** -1, 2 ** 3 ** 2.
    return this.nested(op.offset, () => {
      const exponent = this.parseUnary();
      const body = { type: 'binary', op: '**', left: base, right: exponent } as const;
      return this.node(op.offset, body, base, exponent);
    });
  }

  private parsePostfix(): Node {
    let node = this.parseAtom();
    for (;;) {
      if (this.isOp('(')) {
        const open = this.next();
        const args = this.parseArguments();
        node = this.node(
          open.offset,
          { type: 'call', callee: node, args },
          node,
          ...args.map((a) => a.value),
        );
      } else if (this.isOp('[')) {
        const open = this.next();
        if (this.isOp(':') || this.isOp(']')) {
          throw new ExpressionError('slices are not supported', this.peek().offset);
        }
        const index = this.parseExpr();
        if (this.isOp(':'))
          throw new ExpressionError('slices are not supported', this.peek().offset);
        this.expectOp(']');
        node = this.node(open.offset, { type: 'subscript', object: node, index }, node, index);
      } else if (this.isOp('.')) {
        this.next();
        const name = this.peek();
        if (name.kind !== 'name' && name.kind !== 'keyword') {
          throw new ExpressionError(
            `expected an attribute name, found ${describe(name)}`,
            name.offset,
          );
        }
        this.next();
        const body = {
          type: 'attribute',
          object: node,
          name: name.text,
          nameOffset: name.offset,
        } as const;
        node = this.node(name.offset, body, node);
      } else {
        return node;
      }
    }
  }

  private parseArguments(): Argument[] {
    const args: Argument[] = [];
    let sawKeyword = false;
    while (!this.isOp(')')) {
      const start = this.peek();
      let arg: Argument;
      if (this.isOp('**')) {
        this.next();
        arg = { kind: 'doublestar', value: this.parseExpr(), offset: start.offset };
        sawKeyword = true;
      } else if (this.isOp('*')) {
        this.next();
        arg = { kind: 'star', value: this.parseExpr(), offset: start.offset };
      } else if (start.kind === 'name' && this.isOp('=', 1)) {
        this.next();
        this.next();
        if (args.some((a) => a.kind === 'keyword' && a.name === start.text)) {
          throw new ExpressionError(`keyword argument repeated: ${start.text}`, start.offset);
        }
        arg = { kind: 'keyword', name: start.text, value: this.parseExpr(), offset: start.offset };
        sawKeyword = true;
      } else {
        arg = { kind: 'positional', value: this.parseExpr(), offset: start.offset };
      }
      if (arg.kind === 'positional' && sawKeyword) {
        throw new ExpressionError('positional argument follows keyword argument', start.offset);
      }
      args.push(arg);
      if (this.isOp(',')) {
        this.next();
        continue;
      }
      if (!this.isOp(')')) {
        const t = this.peek();
        throw new ExpressionError(`expected "," or ")", found ${describe(t)}`, t.offset);
      }
    }
    this.next();
    return args;
  }

  private parseAtom(): Node {
    const t = this.peek();
    switch (t.kind) {
      case 'int':
        this.next();
        return this.node(t.offset, { type: 'int', value: t.num ?? 0 });
      case 'float':
        this.next();
        return this.node(t.offset, { type: 'float', value: t.num ?? 0 });
      case 'str': {
        this.next();
        let value = t.text;
        // Adjacent literals concatenate, as in Python: 'a' 'b' == 'ab'.
        while (this.peek().kind === 'str') value += this.next().text;
        return this.node(t.offset, { type: 'str', value });
      }
      case 'name':
        this.next();
        return this.node(t.offset, { type: 'name', name: t.text });
      case 'keyword':
        if (t.text === 'True' || t.text === 'False') {
          this.next();
          return this.node(t.offset, { type: 'bool', value: t.text === 'True' });
        }
        if (t.text === 'None') {
          this.next();
          return this.node(t.offset, { type: 'none' });
        }
        break;
      case 'op':
        if (t.text === '(') return this.parseParenthesized();
        if (t.text === '[') return this.parseList();
        if (t.text === '{') return this.parseDict();
        break;
      default:
        break;
    }
    throw new ExpressionError(`unexpected ${describe(t)}`, t.offset);
  }

  private parseParenthesized(): Node {
    const open = this.next();
    if (this.isOp(')')) {
      this.next();
      return this.node(open.offset, { type: 'tuple', items: [] });
    }
    const inner = this.parseExpressionList(true);
    this.expectOp(')');
    return inner;
  }

  private parseList(): Node {
    const open = this.next();
    return this.nested(open.offset, () => {
      const items: Node[] = [];
      while (!this.isOp(']')) {
        items.push(this.parseExpr());
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expectOp(']');
      return this.node(open.offset, { type: 'list', items }, ...items);
    });
  }

  private parseDict(): Node {
    const open = this.next();
    return this.nested(open.offset, () => {
      const entries: { key: Node; value: Node }[] = [];
      while (!this.isOp('}')) {
        const key = this.parseExpr();
        this.expectOp(':');
        const value = this.parseExpr();
        entries.push({ key, value });
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expectOp('}');
      return this.node(
        open.offset,
        { type: 'dict', entries },
        ...entries.flatMap((e) => [e.key, e.value]),
      );
    });
  }
}
