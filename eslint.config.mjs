// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/generated/', 'coverage/', '.hub-data/', 'bench/results/', 'contract/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
      // Imports point one way (STYLE.md): a module never reaches up into the server layer.
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/server/*'], message: 'Only src/server composes the hub; domain modules must not import it.' }] },
      ],
    },
  },
  { files: ['src/server/**', 'test/**', 'scripts/**', 'bench/**'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['migrations/**'], rules: { quotes: 'off' } },
);
