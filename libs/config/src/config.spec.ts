import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { CONFIG, configTableMarkdown } from './config.js';

describe('the configuration table', () => {
  it('is the README’s table, row for row (regenerate it from configTableMarkdown() after a change)', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    const start = readme.indexOf('| Variable | Default | Meaning |');
    expect(start).toBeGreaterThan(0);
    const table = readme.slice(start).split('\n');
    const rows = table.slice(0, table.findIndex((l) => !l.startsWith('|'))).join('\n');
    expect(rows).toBe(configTableMarkdown());
  });

  it('documents every variable', () => {
    for (const [name, v] of Object.entries(CONFIG)) {
      expect(name).toMatch(/^SOLGATE_[A-Z_]+$/);
      expect(v.doc.length).toBeGreaterThan(5);
    }
  });
});
