import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The repository (package) root, found by walking up from this module to the package.json named
 * "solgate". Works from the TypeScript sources (tests) and from dist/ (built binaries) alike, so
 * assets such as Lua scripts and shell helpers are read from one place.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'solgate') return (cached = dir);
      } catch {
        /* keep walking */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the solgate package root');
    dir = parent;
  }
}

let version: string | undefined;

/** solgate's version: package.json's `version`, the one place it is written (the chart test checks Chart.yaml's appVersion against it). */
export function packageVersion(): string {
  if (version) return version;
  const v: unknown = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
  if (typeof v !== 'string' || v === '') throw new Error('package.json has no version');
  return (version = v);
}
