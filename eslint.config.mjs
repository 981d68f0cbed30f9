import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'cdktf.out/', '.local/', 'coverage/', 'bench/results/', '.gen/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-console': 'off',
    },
  },
  {
    // The framework and its AWS bindings are named in infra/src/framework/ only, so moving from CDKTF to its fork
    // CDK Terrain (cdktn) stays a rename there.
    ignores: ['infra/src/framework/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['cdktf', 'cdktn', 'constructs'].map((name) => ({ name, message: 'import the framework from infra/src/framework/core (or jest-matchers)' })),
        patterns: [{ group: ['cdktf/*', 'cdktn/*', 'constructs/*', '@cdktf/*', '@cdktn/*'], message: 'import from infra/src/framework/core, or add the binding to infra/src/framework/aws' }],
      }],
    },
  },
);
