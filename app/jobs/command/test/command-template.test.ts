import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../../shared/errors';
import { parseCommandTemplate, renderCommand, SHELL, type PlaceholderValues } from '../command-template';

const values = (overrides: Partial<PlaceholderValues> = {}): PlaceholderValues => ({
  input: '/work/msg-1/input/x.geojson',
  outputDir: '/work/msg-1/output',
  key: 'in/x.geojson',
  bucket: 'source-bucket',
  ...overrides,
});

/** Keys an uploader could choose to break out of the quoting. Each must reach the program byte for byte. */
const HOSTILE_KEYS = [
  '$(touch PWNED).json',
  'a;touch PWNED',
  'a && touch PWNED',
  '`touch PWNED`',
  "'; touch PWNED; '",
  "it's",
  '"$(touch PWNED)"',
  '\\"; touch PWNED; \\"',
  'line\ntouch PWNED',
  '$HOME ${HOME} $1 $@',
  '* ?',
  ' leading and trailing ',
  '--help',
  '{input}',
  'über/日本/💥.json',
  "x'\"'\"'$(touch PWNED)",
  '',
];

describe('parseCommandTemplate', () => {
  it('reads a JSON array as the argv form and renders placeholders inside elements, never splitting them', () => {
    const template = parseCommandTemplate('["python3","/opt/analyze.py","{input}","--out={outputDir}","s3://{bucket}/{key}"]');
    expect(template.form).toBe('argv');
    expect(renderCommand(template, values({ key: 'a b/c d.json' }))).toEqual({
      file: 'python3',
      args: ['/opt/analyze.py', '/work/msg-1/input/x.geojson', '--out=/work/msg-1/output', 's3://source-bucket/a b/c d.json'],
      env: {},
    });
  });

  it('reads anything else as a shell script run with /bin/sh -c, the values in variables the script references', () => {
    expect(renderCommand(parseCommandTemplate('wc -l {input} > {outputDir}/lines.txt'), values())).toEqual({
      file: SHELL,
      args: ['-c', 'wc -l "${BLUEPRINT_INPUT}" > "${BLUEPRINT_OUTPUT_DIR}"/lines.txt'],
      env: { BLUEPRINT_INPUT: '/work/msg-1/input/x.geojson', BLUEPRINT_OUTPUT_DIR: '/work/msg-1/output', BLUEPRINT_KEY: 'in/x.geojson', BLUEPRINT_BUCKET: 'source-bucket' },
    });
    expect(parseCommandTemplate('[ -s {input} ] && cp {input} {outputDir}').form).toBe('shell');
    expect(parseCommandTemplate('[ "$X" = y ] && true').form).toBe('shell');
  });

  it('keeps {{name}} as a literal {name} and leaves the shell its own ${NAME}', () => {
    expect(renderCommand(parseCommandTemplate('["echo","{{input}}","{key}"]'), values()).args).toEqual(['{input}', 'in/x.geojson']);
    expect(renderCommand(parseCommandTemplate('echo "${HOME}" {{key}} {key}'), values()).args[1]).toBe('echo "${HOME}" {key} "${BLUEPRINT_KEY}"');
  });

  it.each([
    ['', /COMMAND is missing/],
    ['   ', /COMMAND is missing/],
    ['[]', /COMMAND=\[\] is empty/],
    ['["python3", 42]', /COMMAND element 1 is 42, not a string/],
    ['[["nested"]]', /COMMAND element 0 is \["nested"\], not a string/],
    ['[""]', /names no program/],
    ['["{input}"]', /element 0 .* may not be a placeholder/],
    ['["tool","--x={foo}"]', /unknown placeholder \{foo\}.*\{\{foo\}\}.*argv form runs no shell/],
    ['["tool","${HOME}"]', /unknown placeholder \{HOME\}/],
    ['tool {foo}', /unknown placeholder \{foo\}/],
    ['["python3", "x"', /looks like a JSON array but is not valid JSON/],
    ['cat <<EOF\n{input}\nEOF', /inside a here-document/],
    ['cat <<EOF_{key}\nx\nEOF', /here-document delimiter/],
    ['echo `cat {input}`', /inside backquotes/],
    ['echo ${X:-{input}}', /inside a \$\{\.\.\.\} expansion/],
    ["echo $'{key}'", /inside a \$'\.\.\.' string/],
    ['echo $(( {key} + 1 ))', /inside an arithmetic expansion/],
    ['echo "$((1 + $(wc -c < {input})))"', /inside an arithmetic expansion/],
  ])('refuses %j with a ConfigError naming COMMAND and the expected form', (raw, message) => {
    let thrown: unknown;
    try {
      parseCommandTemplate(raw);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).toMatch(/COMMAND/);
  });

  it('reads << inside $((...)) as a shift, not a here-document', () => {
    expect(renderCommand(parseCommandTemplate('echo $((1 << 4)) {key}\necho {input}'), values()).args[1]).toBe('echo $((1 << 4)) "${BLUEPRINT_KEY}"\necho "${BLUEPRINT_INPUT}"');
  });

  it('copies comments and here-documents without placeholders verbatim', () => {
    const script = 'cat <<-"END" > {outputDir}/note.txt\n\thello {{key}} $x\n\tEND\n# about {input}\ncat {input} # {key}';
    const rendered = renderCommand(parseCommandTemplate(script), values()).args[1];
    expect(rendered).toBe('cat <<-"END" > "${BLUEPRINT_OUTPUT_DIR}"/note.txt\n\thello {{key}} $x\n\tEND\n# about {input}\ncat "${BLUEPRINT_INPUT}" # {key}');
  });
});

describe('rendered commands run for real: hostile keys arrive as literal text and run nothing', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'command-template-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  /** Runs the rendered command; printf prints each argument followed by a NUL, so any splitting shows. */
  function run(raw: string, key: string): string[] {
    const { file, args, env } = renderCommand(parseCommandTemplate(raw), values({ key }));
    const out = execFileSync(file, [...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    expect(readdirSync(cwd)).toEqual([]);
    return out.split('\0').slice(0, -1);
  }

  it.each(HOSTILE_KEYS.map((key) => [key]))('shell form, bare / in double quotes / in single quotes / inside a word: %j', (key) => {
    expect(run(`printf '%s\\000' {key}`, key)).toEqual([key]);
    expect(run(`printf '%s\\000' "{key}"`, key)).toEqual([key]);
    expect(run(`printf '%s\\000' '{key}'`, key)).toEqual([key]);
    expect(run(`printf '%s\\000' --key={key}.out "[{key}]" 'k:{key}'`, key)).toEqual([`--key=${key}.out`, `[${key}]`, `k:${key}`]);
    expect(run(`printf '%s\\000' "$(printf '%s' {key})x"`, key)).toEqual([`${key.replace(/\n+$/, '')}x`]);
  });

  it.each(HOSTILE_KEYS.map((key) => [key]))('argv form: %j', (key) => {
    expect(run('["printf","%s\\\\000","{key}","--key={key}"]', key)).toEqual([key, `--key=${key}`]);
  });

  it('a context the lexer misjudges (a case pattern\'s parenthesis inside $(...)) may split a key, but runs nothing from it', () => {
    // The lexer takes the reference for double-quoted where the shell reads it bare: the value is split into words
    // (printf '%s' joins them), but it is expanded from a variable, so `touch` never runs (run() checks no file appeared).
    expect(run(`printf '%s\\000' "$(case a in a) printf '%s' {key};; esac)"`, 'x; touch PWNED')).toEqual(['x;touchPWNED']);
  });

  it('a placeholder in a comment is not substituted, so a key with a newline cannot end the comment', () => {
    expect(run(`printf '%s\\000' ok # {key}`, 'x\ntouch PWNED')).toEqual(['ok']);
  });
});
