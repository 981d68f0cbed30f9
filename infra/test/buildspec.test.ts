import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every shell line CodeBuild runs passes shellcheck, checked as one bash script with CodeBuild's variables declared. */
it('the buildspec commands pass shellcheck', () => {
  const buildspec = readFileSync(join(__dirname, '../../buildspec.yml'), 'utf8');
  const commands = [...buildspec.matchAll(/^ {6}- (.+)$/gm)].map((match) => match[1]!);
  expect(commands.length).toBeGreaterThan(8);
  const script = [
    '#!/usr/bin/env bash',
    'set -euo pipefail',
    ': "${CODEBUILD_RESOLVED_SOURCE_VERSION:?}" "${ECR_REPOSITORY_URL:?}" "${TASK_FAMILY:?}" "${AWS_REGION:?}"',
    ...commands,
  ].join('\n');
  // Fails loudly when shellcheck is missing: .ci/run installs it.
  execFileSync('shellcheck', ['-s', 'bash', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
});

it('is valid YAML whose every command is the one line the shell tests run (": " in a plain line would make it a mapping)', () => {
  // js-yaml comes with Jest (istanbul's config loader): the parser closest to CodeBuild's at hand without a new dependency.
  const { load } = require('js-yaml') as { load: (text: string) => { phases: Record<string, { commands: unknown[] }> } };
  const buildspec = readFileSync(join(__dirname, '../../buildspec.yml'), 'utf8');
  const parsed = Object.values(load(buildspec).phases).flatMap((phase) => phase.commands);
  expect(parsed.every((command) => typeof command === 'string')).toBe(true);
  expect(parsed).toEqual([...buildspec.matchAll(/^ {6}- (.+)$/gm)].map((match) => match[1]!));
});

it('the image runs as non-root, on Node 22, with sharp-friendly memory settings', () => {
  const dockerfile = readFileSync(join(__dirname, '../../app/Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM --platform=linux\/amd64 public\.ecr\.aws\/docker\/library\/node:22-slim$/m);
  expect(dockerfile).toMatch(/^USER 1000:1000$/m);
  expect(dockerfile).toContain('MALLOC_ARENA_MAX=2');
  expect(dockerfile).toMatch(/^CMD \["node", "dist\/app\/main.js"\]$/m);
});
