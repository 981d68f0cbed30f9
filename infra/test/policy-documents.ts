/**
 * Reading the policies of a synthesized stack: IAM policies written with JSON.stringify are plain JSON; resource
 * policies built with Fn.jsonencode (to read the account from an ARN) synthesize as `${jsonencode({...})}`.
 */

type Json = Record<string, unknown>;

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDocument { Version: string; Statement: Statement[] }

/**
 * A synthesized policy: plain JSON, or a `${jsonencode({...})}` expression (from Fn.jsonencode), read into the same
 * shape with each bare Terraform expression as a "${...}" string.
 */
export function policyOf(text: unknown): PolicyDocument {
  const source = String(text);
  const encoded = /^\$\{jsonencode\(([\s\S]*)\)\}$/.exec(source);
  return (encoded === null ? JSON.parse(source) : new HclValueReader(encoded[1]!).read()) as PolicyDocument;
}

/** Reads the HCL object syntax cdktf renders inside jsonencode(): `{"k" = v, ...}`, `[...]`, strings, expressions. */
class HclValueReader {
  private at = 0;

  constructor(private readonly text: string) {}

  read(): unknown {
    this.skipSpace();
    const char = this.text[this.at];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return this.string();
    return this.expression();
  }

  private object(): Json {
    const result: Json = {};
    this.at++;
    for (this.skipSpace(); this.text[this.at] !== '}'; this.skipSpace()) {
      const key = this.string();
      this.skipSpace();
      if (this.text[this.at++] !== '=') throw new Error(`expected = at ${this.at} in ${this.text}`);
      result[key] = this.read();
      this.skipSeparator();
    }
    this.at++;
    return result;
  }

  private array(): unknown[] {
    const result: unknown[] = [];
    this.at++;
    for (this.skipSpace(); this.text[this.at] !== ']'; this.skipSpace()) {
      result.push(this.read());
      this.skipSeparator();
    }
    this.at++;
    return result;
  }

  /** A quoted string; `${...}` interpolations are kept as written. */
  private string(): string {
    let result = '';
    this.at++;
    while (this.text[this.at] !== '"') {
      if (this.text[this.at] === '\\') {
        const escaped = this.text[this.at + 1]!;
        result += ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[escaped] ?? escaped;
        this.at += 2;
      } else if (this.text.startsWith('${', this.at)) {
        const start = this.at;
        this.at += 2;
        this.skipBalanced('}');
        result += this.text.slice(start, this.at);
      } else {
        result += this.text[this.at++];
      }
    }
    this.at++;
    return result;
  }

  /** A bare expression (a reference or a function call) up to the next `,`, `}` or `]` outside brackets. */
  private expression(): unknown {
    const start = this.at;
    this.skipBalanced(',}]', false);
    const expression = this.text.slice(start, this.at).trim();
    if (/^-?\d+(\.\d+)?$/.test(expression)) return Number(expression);
    if (expression === 'true' || expression === 'false') return expression === 'true';
    return `\${${expression}}`;
  }

  /** Moves past the closing character (or, with consume false, up to one of the stop characters) at depth 0. */
  private skipBalanced(stops: string, consume = true): void {
    let depth = 0;
    for (; this.at < this.text.length; this.at++) {
      const char = this.text[this.at]!;
      if (char === '"') {
        for (this.at++; this.text[this.at] !== '"'; this.at++) if (this.text[this.at] === '\\') this.at++;
      } else if (depth === 0 && stops.includes(char)) {
        if (consume) this.at++;
        return;
      } else if ('({['.includes(char)) depth++;
      else if (')}]'.includes(char)) depth--;
    }
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++;
  }

  private skipSeparator(): void {
    this.skipSpace();
    if (this.text[this.at] === ',') this.at++;
  }
}
