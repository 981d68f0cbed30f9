import { ConfigError } from '../../../shared/errors';

/**
 * COMMAND, parsed once at start and rendered per object.
 *
 * - A JSON array of strings is the argv form: `["python3","/opt/analyze.py","{input}","{outputDir}"]`. No shell runs;
 *   each placeholder is replaced inside its element (`--out={outputDir}` stays one argument), never split.
 * - Anything else is a shell script, run as `/bin/sh -c <script>`. A placeholder never puts its value into the script:
 *   it becomes a quoted reference to an environment variable holding the value (`"$BLUEPRINT_KEY"`), written for the
 *   quoting context it stands in (bare, inside '...', inside "..."). S3 keys are chosen by whoever uploads, and a
 *   value the shell expands from a variable is never parsed again as shell syntax, so a key such as
 *   `$(rm -rf ~).json` or `a;b` reaches the program as literal text even where this small lexer misjudged the context.
 *
 * Placeholders: {input} (the downloaded file), {outputDir} (where the program writes its outputs), {key} (the
 * source key), {bucket}. `{{name}}` is a literal `{name}`. In the shell form `${NAME}` is the shell's own parameter
 * expansion and is left alone; comments and here-document bodies are copied verbatim. Placeholders are refused, at start, where no quoting can
 * make them safe: inside a here-document, backquotes, `${...}`, `$'...'` or an arithmetic expansion `$((...))`,
 * which evaluates what a variable holds as an expression (pass the value as an argument instead).
 */
export const PLACEHOLDERS = ['input', 'outputDir', 'key', 'bucket'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Readonly<Record<Placeholder, string>>;

/** The shell the shell form runs under; POSIX sh (dash on Debian, the worker image's base). */
export const SHELL = '/bin/sh';

type QuoteContext = 'unquoted' | 'single' | 'double';
type Piece = { readonly text: string } | { readonly placeholder: Placeholder; readonly context: QuoteContext };

export interface ArgvTemplate {
  readonly form: 'argv';
  /** The program: argv[0], never a placeholder (the program is chosen by the deployment, never by a key). */
  readonly program: string;
  readonly args: readonly (readonly Piece[])[];
}

export interface ShellTemplate {
  readonly form: 'shell';
  readonly script: readonly Piece[];
}

export type CommandTemplate = ArgvTemplate | ShellTemplate;

export interface RenderedCommand {
  /** What to spawn: argv[0], or /bin/sh for the shell form. */
  readonly file: string;
  readonly args: readonly string[];
  /** The shell form's placeholder values, which its script references; added to the program's environment last. */
  readonly env: Readonly<Record<string, string>>;
}

/** The variable each placeholder's value travels in, in the shell form. */
export const PLACEHOLDER_VARIABLES: Readonly<Record<Placeholder, string>> = {
  input: 'BLUEPRINT_INPUT', outputDir: 'BLUEPRINT_OUTPUT_DIR', key: 'BLUEPRINT_KEY', bucket: 'BLUEPRINT_BUCKET',
};

const EXPECTED =
  'a JSON array of strings such as ["python3","/opt/analyze.py","{input}","{outputDir}"], or a shell command such as ' +
  'analyze {input} > {outputDir}/stats.json, with the placeholders {input}, {outputDir}, {key}, {bucket}';

/** Throws ConfigError naming COMMAND and the expected form. */
export function parseCommandTemplate(raw: string | undefined): CommandTemplate {
  const text = raw?.trim() ?? '';
  if (text === '') throw new ConfigError(`COMMAND is missing: expected ${EXPECTED}`);
  const argv = parseJsonArray(text);
  if (argv !== undefined) return parseArgv(argv);
  // `[ -s {input} ] && ...` is a shell test; `["...` can only be a broken JSON array.
  if (/^\[\s*("|\])/.test(text) && !/^\[\s+"/.test(text)) {
    throw new ConfigError(`COMMAND=${text} looks like a JSON array but is not valid JSON: expected ${EXPECTED}`);
  }
  return { form: 'shell', script: parseShell(text) };
}

/** The file and arguments to spawn for one object. */
export function renderCommand(template: CommandTemplate, values: PlaceholderValues): RenderedCommand {
  if (template.form === 'argv') {
    return { file: template.program, args: template.args.map((pieces) => pieces.map((piece) => ('text' in piece ? piece.text : values[piece.placeholder])).join('')), env: {} };
  }
  const script = template.script.map((piece) => ('text' in piece ? piece.text : referenceFor(piece.context, PLACEHOLDER_VARIABLES[piece.placeholder]))).join('');
  const env = Object.fromEntries(PLACEHOLDERS.map((name) => [PLACEHOLDER_VARIABLES[name], values[name]]));
  return { file: SHELL, args: ['-c', script], env };
}

/** A double-quoted parameter expansion, so the value is neither split nor globbed, however it is quoted around it. */
function referenceFor(context: QuoteContext, variable: string): string {
  switch (context) {
    case 'unquoted':
      return `"\${${variable}}"`;
    case 'single':
      // Inside '...' nothing expands: close the quote, expand in double quotes, reopen.
      return `'"\${${variable}}"'`;
    case 'double':
      return `\${${variable}}`;
  }
}

function parseJsonArray(text: string): unknown[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function parseArgv(argv: unknown[]): ArgvTemplate {
  if (argv.length === 0) throw new ConfigError(`COMMAND=[] is empty: expected ${EXPECTED}`);
  argv.forEach((element, index) => {
    if (typeof element !== 'string') {
      throw new ConfigError(`COMMAND element ${index} is ${JSON.stringify(element)}, not a string: expected ${EXPECTED}`);
    }
  });
  const [program, ...rest] = argv as string[];
  if (program.trim() === '') throw new ConfigError(`COMMAND names no program (element 0 is empty): expected ${EXPECTED}`);
  const programPieces = parsePieces(program, 'element 0', 'unquoted', true);
  if (programPieces.some((piece) => 'placeholder' in piece)) {
    throw new ConfigError(`COMMAND element 0 (${JSON.stringify(program)}) is the program and may not be a placeholder: expected ${EXPECTED}`);
  }
  return {
    form: 'argv',
    program: programPieces.map((piece) => ('text' in piece ? piece.text : '')).join(''),
    args: rest.map((element, index) => parsePieces(element, `element ${index + 1} (${JSON.stringify(element)})`, 'unquoted', true)),
  };
}

const PLACEHOLDER_AT = /\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/y;

/** Reads `{{name}}` or `{name}` at `index`, or nothing. */
function placeholderAt(text: string, index: number): { literal: string; length: number } | { name: Placeholder; length: number } | undefined {
  PLACEHOLDER_AT.lastIndex = index;
  const match = PLACEHOLDER_AT.exec(text);
  if (match === null) return undefined;
  if (match[1] !== undefined) return { literal: `{${match[1]}}`, length: match[0].length };
  return { name: match[2] as Placeholder, length: match[0].length };
}

function assertKnown(name: string, where: string, argvForm: boolean): asserts name is Placeholder {
  if ((PLACEHOLDERS as readonly string[]).includes(name)) return;
  const hint = argvForm ? '; the argv form runs no shell, so $VARIABLES are not expanded there' : '';
  throw new ConfigError(
    `COMMAND ${where} has an unknown placeholder {${name}}: expected one of {input}, {outputDir}, {key}, {bucket} (write {{${name}}} for a literal {${name}}${hint})`,
  );
}

function parsePieces(text: string, where: string, context: QuoteContext, argvForm: boolean): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < text.length; ) {
    const found = placeholderAt(text, i);
    if (found === undefined) {
      literal += text[i];
      i += 1;
      continue;
    }
    i += found.length;
    if ('literal' in found) {
      literal += found.literal;
      continue;
    }
    assertKnown(found.name, where, argvForm);
    if (literal !== '') pieces.push({ text: literal });
    literal = '';
    pieces.push({ placeholder: found.name, context });
  }
  if (literal !== '') pieces.push({ text: literal });
  return pieces;
}

type FrameKind = 'top' | 'command-substitution' | 'parameter' | 'backquote' | 'ansi-c' | 'arithmetic';
interface Frame {
  readonly kind: FrameKind;
  quote: QuoteContext;
  depth: number;
}

const REFUSED_IN: Record<Exclude<FrameKind, 'top' | 'command-substitution'>, string> = {
  parameter: 'a ${...} expansion',
  backquote: 'backquotes (use $(...))',
  'ansi-c': "a $'...' string",
  arithmetic: 'an arithmetic expansion $((...)), which evaluates a variable\'s text as an expression',
};
const WORD_START_BEFORE = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/**
 * A small POSIX sh lexer: just enough to know, at every placeholder, whether the shell will read it bare, inside
 * single quotes or inside double quotes, and to refuse the few places where no quoting is safe (a here-document
 * body, for instance, treats quotes as plain text, so a key with a newline could end it early).
 */
function parseShell(script: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  const stack: Frame[] = [{ kind: 'top', quote: 'unquoted', depth: 0 }];
  const heredocs: { delimiter: string; stripTabs: boolean }[] = [];
  const refuse = (name: string, where: string): never => {
    throw new ConfigError(`COMMAND puts {${name}} inside ${where}, where no quoting can keep a key's text literal: pass it as a separate word, e.g. "{${name}}", and read it from there`);
  };
  let i = 0;
  while (i < script.length) {
    const frame = stack[stack.length - 1];
    const found = placeholderAt(script, i);
    if (found !== undefined) {
      i += found.length;
      if ('literal' in found) {
        literal += found.literal;
        continue;
      }
      assertKnown(found.name, 'script', false);
      if (frame.kind !== 'top' && frame.kind !== 'command-substitution') refuse(found.name, REFUSED_IN[frame.kind]);
      if (literal !== '') pieces.push({ text: literal });
      literal = '';
      pieces.push({ placeholder: found.name, context: frame.quote });
      continue;
    }
    const c = script[i];
    const next = script[i + 1];
    const take = (count: number): void => {
      literal += script.slice(i, i + count);
      i += count;
    };
    if (frame.kind === 'arithmetic') {
      if (c === '(') frame.depth += 1;
      else if (c === ')' && frame.depth > 0) frame.depth -= 1;
      else if (c === ')' && next === ')') {
        stack.pop();
        take(2);
        continue;
      }
      take(1);
      continue;
    }
    if (frame.kind === 'parameter' || frame.kind === 'backquote' || frame.kind === 'ansi-c') {
      if (c === '\\') take(2);
      else if ((frame.kind === 'parameter' && c === '}') || (frame.kind === 'backquote' && c === '`') || (frame.kind === 'ansi-c' && c === "'")) {
        stack.pop();
        take(1);
      } else if (frame.kind === 'parameter' && c === '$' && next === '{') {
        stack.push({ kind: 'parameter', quote: 'unquoted', depth: 0 });
        take(2);
      } else take(1);
      continue;
    }
    if (frame.quote === 'single') {
      if (c === "'") frame.quote = 'unquoted';
      take(1);
      continue;
    }
    if (c === '\\') {
      take(2);
      continue;
    }
    if (c === '$' && next === '(' && script[i + 2] === '(') {
      stack.push({ kind: 'arithmetic', quote: 'unquoted', depth: 0 });
      take(3);
      continue;
    }
    if (c === '$' && next === '(') {
      stack.push({ kind: 'command-substitution', quote: 'unquoted', depth: 0 });
      take(2);
      continue;
    }
    if (c === '$' && next === '{') {
      stack.push({ kind: 'parameter', quote: 'unquoted', depth: 0 });
      take(2);
      continue;
    }
    if (c === '`') {
      stack.push({ kind: 'backquote', quote: 'unquoted', depth: 0 });
      take(1);
      continue;
    }
    if (frame.quote === 'double') {
      if (c === '"') frame.quote = 'unquoted';
      take(1);
      continue;
    }
    // Unquoted, at the top or inside $(...).
    if (c === "'") frame.quote = 'single';
    else if (c === '"') frame.quote = 'double';
    else if (c === '$' && next === "'") {
      stack.push({ kind: 'ansi-c', quote: 'single', depth: 0 });
      take(2);
      continue;
    } else if (c === '(' && frame.kind === 'command-substitution') frame.depth += 1;
    else if (c === ')' && frame.kind === 'command-substitution') {
      if (frame.depth === 0) stack.pop();
      else frame.depth -= 1;
    } else if (c === '#' && (i === 0 || WORD_START_BEFORE.has(script[i - 1]))) {
      // A comment, copied verbatim up to (not including) the newline: nothing in it is substituted.
      const end = script.indexOf('\n', i);
      take((end < 0 ? script.length : end) - i);
      continue;
    } else if (c === '<' && next === '<' && script[i + 2] !== '<' && frame.depth === 0) {
      // (Inside $((...)), depth 1 or more, `<<` is a shift, not a here-document.)
      i = readHeredocOperator(script, i, heredocs, (text) => (literal += text), refuse);
      continue;
    } else if (c === '\n' && heredocs.length > 0) {
      take(1);
      for (const heredoc of heredocs.splice(0)) i = readHeredocBody(script, i, heredoc, (text) => (literal += text), refuse);
      continue;
    }
    take(1);
  }
  if (literal !== '') pieces.push({ text: literal });
  return pieces;
}

/** `<<WORD` or `<<-WORD` (quotes in WORD removed, as the shell does): copies the operator and remembers the word. */
function readHeredocOperator(
  script: string,
  start: number,
  heredocs: { delimiter: string; stripTabs: boolean }[],
  emit: (text: string) => void,
  refuse: (name: string, where: string) => never,
): number {
  let i = start + 2;
  const stripTabs = script[i] === '-';
  if (stripTabs) i += 1;
  while (script[i] === ' ' || script[i] === '\t') i += 1;
  const wordStart = i;
  while (i < script.length && !/[\s;&|<>()]/.test(script[i])) i += 1;
  const word = script.slice(wordStart, i);
  const inWord = /\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(word);
  if (inWord !== null) refuse(inWord[1], 'a here-document delimiter');
  heredocs.push({ delimiter: word.replace(/["'\\]/g, ''), stripTabs });
  emit(script.slice(start, i));
  return i;
}

/** Copies a here-document's body and its closing line; refuses placeholders in it. */
function readHeredocBody(
  script: string,
  start: number,
  heredoc: { delimiter: string; stripTabs: boolean },
  emit: (text: string) => void,
  refuse: (name: string, where: string) => never,
): number {
  let i = start;
  while (i < script.length) {
    const end = script.indexOf('\n', i);
    const lineEnd = end < 0 ? script.length : end;
    const line = script.slice(i, lineEnd);
    const next = end < 0 ? script.length : end + 1;
    if ((heredoc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.delimiter) {
      emit(script.slice(i, next));
      return next;
    }
    for (const match of line.matchAll(/\{\{[A-Za-z_][A-Za-z0-9_]*\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      if (match[1] !== undefined && (PLACEHOLDERS as readonly string[]).includes(match[1])) refuse(match[1], 'a here-document');
    }
    emit(script.slice(i, next));
    i = next;
  }
  return i;
}
