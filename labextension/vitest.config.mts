import { defineConfig } from 'vitest/config';

// Unit tests of the pure logic (timer, lock): no browser, no JupyterLab.
export default defineConfig({ test: { include: ['test/**/*.test.ts'], environment: 'node' } });
