import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * What IAM actions a bundle's code sends, read from its TypeScript sources: every AWS SDK v3 command it constructs
 * (`new XxxCommand(`) in code the entry point can reach. Reachability is by name, over-approximated on purpose: a
 * function or method counts as reached when any reached code calls it by that name (any class's method of that name),
 * starting from the top level of every module the entry point imports (statically, by re-export or by `import()`)
 * and from the entry point's exports. So a command is left out only when nothing reachable calls the method that
 * builds it, e.g. the SQS adapter's `depth()`, which the worker never calls.
 */

export interface CommandUse {
  /** `ReceiveMessageCommand` */
  readonly command: string;
  /** The `@aws-sdk/client-*` service it is imported from, e.g. `sqs`. */
  readonly service: string;
  /** Path relative to the repository root. */
  readonly file: string;
  /** The named function or method that builds it; undefined at module top level. */
  readonly within: string | undefined;
  /** The property names of its input object literal, e.g. `propagateTags`. */
  readonly inputProperties: readonly string[];
  readonly reached: boolean;
}

const TOP_LEVEL = '<top level>';

/** The relative modules `file` loads, resolved to files. */
function importsOf(source: ts.SourceFile, file: string): string[] {
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      // Type-only imports load nothing at run time.
      const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] !== undefined && ts.isStringLiteral(node.arguments[0])) {
      specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.filter((specifier) => specifier.startsWith('.')).flatMap((specifier) => {
    const base = resolve(dirname(file), specifier);
    const found = [`${base}.ts`, join(base, 'index.ts'), base].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
    if (found === undefined) throw new Error(`${file}: cannot resolve ${specifier}`);
    return [found];
  });
}

/** The name a declaration is called by, when it is one the reachability follows. */
function declaredName(node: ts.Node): string | undefined {
  // (A getter is not one: it is read, not called, so its body counts as part of the code around it.)
  if ((ts.isMethodDeclaration(node) || ts.isFunctionDeclaration(node)) && node.name !== undefined && !ts.isComputedPropertyName(node.name)) {
    return node.name.text;
  }
  // A class's constructor and field initializers run when something says `new ClassName(`.
  if (ts.isConstructorDeclaration(node) || ts.isPropertyDeclaration(node)) {
    const owner = node.parent;
    if (ts.isPropertyDeclaration(node) && node.initializer !== undefined && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer)) && ts.isIdentifier(node.name)) {
      return node.name.text;
    }
    return ts.isClassLike(owner) && owner.name !== undefined ? owner.name.text : undefined;
  }
  if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer !== undefined && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))) {
    return node.name.text;
  }
  return undefined;
}

/** The name an expression refers to a function or method by: `f`, `this.f`, `x.y.f`. */
function referencedName(node: ts.Expression): string | undefined {
  if (ts.isIdentifier(node)) return node.text;
  if (ts.isPropertyAccessExpression(node)) return node.name.text;
  return undefined;
}

interface ModuleFacts {
  /** Names used (called, constructed, or passed on as a value) inside each named declaration, and at top level. */
  readonly uses: Map<string, Set<string>>;
  readonly commands: Omit<CommandUse, 'reached'>[];
  readonly exported: string[];
}

function factsOf(source: ts.SourceFile, file: string, root: string): ModuleFacts {
  const uses = new Map<string, Set<string>>();
  const commands: Omit<CommandUse, 'reached'>[] = [];
  const exported: string[] = [];
  // Command classes this module imports from an AWS SDK client, with the service.
  const sdkImports = new Map<string, string>();
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const service = /^@aws-sdk\/client-([a-z0-9-]+)$/.exec(statement.moduleSpecifier.text)?.[1];
      const bindings = statement.importClause?.namedBindings;
      if (service !== undefined && bindings !== undefined && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) sdkImports.set(element.name.text, service);
      }
    }
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)) {
      if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) if (ts.isIdentifier(declaration.name)) exported.push(declaration.name.text);
      } else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name !== undefined) {
        exported.push(statement.name.text);
      }
    }
  }
  const use = (scope: string, name: string | undefined) => {
    if (name === undefined) return;
    if (!uses.has(scope)) uses.set(scope, new Set());
    uses.get(scope)!.add(name);
  };
  const visit = (node: ts.Node, scope: string): void => {
    const name = declaredName(node);
    const inner = name ?? scope;
    if (ts.isCallExpression(node)) {
      use(inner, referencedName(node.expression));
      // A function passed as a value (a callback, `.then(f)`) may be called.
      for (const argument of node.arguments) use(inner, referencedName(argument));
    } else if (ts.isNewExpression(node)) {
      const constructed = referencedName(node.expression);
      use(inner, constructed);
      for (const argument of node.arguments ?? []) use(inner, referencedName(argument));
      if (constructed !== undefined && sdkImports.has(constructed) && constructed.endsWith('Command')) {
        const input = node.arguments?.[0];
        commands.push({
          command: constructed, service: sdkImports.get(constructed)!, file: relative(root, file), within: inner === TOP_LEVEL ? undefined : inner,
          inputProperties: input !== undefined && ts.isObjectLiteralExpression(input)
            ? input.properties.flatMap((property) => (property.name !== undefined && ts.isIdentifier(property.name) ? [property.name.text] : []))
            : [],
        });
      }
    } else if (ts.isPropertyAssignment(node)) {
      // `{ sleep: realSleep }` hands a function to whoever reads the object.
      use(inner, referencedName(node.initializer));
    } else if (ts.isShorthandPropertyAssignment(node)) {
      use(inner, node.name.text);
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, TOP_LEVEL);
  return { uses, commands, exported };
}

/**
 * Every SDK command in the sources `entry` loads, each marked reached or not. `root` is the repository root, for the
 * paths in the answer.
 */
export function sdkCommandUses(entry: string, root: string): CommandUse[] {
  const files = new Set<string>();
  const pending = [resolve(entry)];
  const facts: ModuleFacts[] = [];
  let entryExports: string[] = [];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const moduleFacts = factsOf(source, file, root);
    if (file === resolve(entry)) entryExports = moduleFacts.exported;
    facts.push(moduleFacts);
    pending.push(...importsOf(source, file));
  }
  const usesByName = new Map<string, Set<string>>();
  for (const { uses } of facts) {
    for (const [scope, names] of uses) {
      if (!usesByName.has(scope)) usesByName.set(scope, new Set());
      for (const name of names) usesByName.get(scope)!.add(name);
    }
  }
  const reached = new Set<string>(entryExports);
  const queue = [...(usesByName.get(TOP_LEVEL) ?? []), ...entryExports];
  while (queue.length > 0) {
    const name = queue.pop()!;
    reached.add(name);
    for (const next of usesByName.get(name) ?? []) if (!reached.has(next)) queue.push(next);
  }
  return facts.flatMap(({ commands }) => commands.map((use) => ({ ...use, reached: use.within === undefined || reached.has(use.within) })));
}

/**
 * The IAM action a command needs. The SDK names most commands after their action; the exceptions are listed, and an
 * S3 command not listed fails, so that a new one gets its action written down here rather than guessed.
 */
const ACTION_OF_COMMAND: Record<string, string> = {
  's3:GetObjectCommand': 's3:GetObject',
  's3:HeadObjectCommand': 's3:GetObject',
  's3:PutObjectCommand': 's3:PutObject',
  's3:ListObjectsCommand': 's3:ListBucket',
  's3:ListObjectsV2Command': 's3:ListBucket',
  's3:DeleteObjectCommand': 's3:DeleteObject',
  's3:AbortMultipartUploadCommand': 's3:AbortMultipartUpload',
};

export function iamActionOf(use: Pick<CommandUse, 'service' | 'command'>): string {
  const listed = ACTION_OF_COMMAND[`${use.service}:${use.command}`];
  if (listed !== undefined) return listed;
  if (use.service === 's3') throw new Error(`no IAM action listed for s3 ${use.command}: add it to ACTION_OF_COMMAND`);
  // DeleteMessageBatch and ChangeMessageVisibilityBatch are authorized as DeleteMessage and ChangeMessageVisibility.
  return `${use.service}:${use.command.replace(/Command$/, '').replace(/Batch$/, '')}`;
}
