// A local ESLint rule: the import boundaries of STYLE.md between apps, libs, test/ and bench/.
// Used by eslint.config.js; tested by test/integration/lint/import-boundaries.test.ts.
//
// Why not eslint-plugin-boundaries or import-x's no-restricted-paths: both classify imports by
// resolved file, and our `#libs/*` subpath imports resolve (package.json "imports") into dist/, which
// does not exist before a build; a resolver set-up to map them back would be longer than this rule,
// which reads `#libs/<name>` directly and resolves relative specifiers itself.
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * What each lib may import (besides itself), from STYLE.md: dependencies point one way. `testing`
 * is dev-only tooling (the demo, tests, benches, specs) and may use any lib; no lib uses it outside
 * its specs.
 */
export const LIB_DEPS = {
  common: [],
  ring: [],
  config: ['common'],
  logging: ['common'],
  redis: ['common', 'config'],
  ipmi: ['common'],
  nodes: ['redis', 'common', 'config'],
  cluster: ['redis', 'ring', 'common', 'config', 'logging'],
  console: ['cluster', 'nodes', 'ipmi', 'redis', 'common', 'config', 'logging'],
  'console-protocol': [],
  ironic: ['nodes', 'common'],
  'ironic-sync': ['console', 'cluster', 'nodes', 'redis', 'common', 'config', 'logging'],
  testing: ['common', 'config', 'logging', 'redis', 'ring', 'ipmi', 'nodes', 'cluster', 'console'],
};
/** Apps that may use libs/testing (the demo is built from it; the conductor, CLI and BMC simulator ship). */
const APPS_USING_TESTING = ['demo'];

/** 'lib:<name>' | 'app:<name>' | 'test' | 'bench' | undefined for a repository path. */
export function areaOf(absPath) {
  const parts = relative(ROOT, absPath).split(sep);
  if (parts[0] === 'libs' && parts[1]) return `lib:${parts[1]}`;
  if (parts[0] === 'apps' && parts[1]) return `app:${parts[1]}`;
  if (parts[0] === 'test' || parts[0] === 'bench') return parts[0];
  return undefined;
}

/** Why `from` (an area, a spec file or not) may not import `to`, or undefined when it may. */
export function violation(from, isSpec, to) {
  if (!to || from === to || from === 'test' || from === 'bench') return undefined;
  const [kind, name] = from.split(':');
  const [toKind, toName] = to.split(':');
  if (kind === 'lib') {
    if (toKind !== 'lib') return `a lib never imports ${toKind === 'app' ? 'an app' : `${to}/`}`;
    const allowed = [...(LIB_DEPS[name] ?? []), ...(isSpec ? ['testing'] : [])];
    if (!allowed.includes(toName))
      return `libs/${name} may import ${allowed.length ? allowed.map((l) => `libs/${l}`).join(', ') : 'no other lib'} (STYLE.md: dependencies point one way)`;
    return undefined;
  }
  if (kind === 'app') {
    if (toKind === 'app') return 'an app never imports another app (move what both need into a lib)';
    if (toKind !== 'lib') return `an app never imports ${to}/`;
    if (toName === 'testing' && !APPS_USING_TESTING.includes(name)) return 'libs/testing is dev-only tooling: a shipped app never imports it';
  }
  return undefined;
}

export const importBoundaries = {
  meta: { type: 'problem', docs: { description: 'import boundaries between apps, libs, test/ and bench/ (STYLE.md)' }, schema: [] },
  create(context) {
    const file = context.filename;
    const from = areaOf(file);
    const isSpec = file.endsWith('.spec.ts');
    function check(node, source) {
      if (!from || typeof source !== 'string') return;
      let to;
      const lib = /^#libs\/([^/]+)/.exec(source);
      if (lib) to = `lib:${lib[1]}`;
      else if (source.startsWith('.')) to = areaOf(resolve(dirname(file), source));
      else return; // a package
      const why = violation(from, isSpec, to);
      if (why) context.report({ node, message: `${source}: ${why}.` });
    }
    const fromSource = (node) => node.source && check(node.source, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};
