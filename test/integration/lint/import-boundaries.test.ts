import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { packageRoot } from '#libs/common';
// @ts-expect-error a plain ESM module of the lint set-up, without type declarations
import { importBoundaries } from '../../../scripts/lint/import-boundaries.js';

/**
 * The import-boundary rule is not vacuous: each STYLE.md rule, broken once in a file placed where it
 * would live, is reported; the allowed directions are not. (Linted without type information: the
 * rule reads only import specifiers.)
 */
const linter = new Linter({ configType: 'flat' });
const config = [
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { solgate: { rules: { 'import-boundaries': importBoundaries } } },
    rules: { 'solgate/import-boundaries': 'error' },
  },
];

function problems(file: string, code: string): string[] {
  return linter.verify(code, config as never, { filename: join(packageRoot(), file) }).map((m) => m.message);
}

describe('solgate/import-boundaries', () => {
  it.each([
    ['libs/common/src/x.ts', "import { Keys } from '#libs/redis';", /libs\/common may import no other lib/],
    ['libs/ring/src/x.spec.ts', "import { DEFAULT_RING_VNODES } from '#libs/config';", /libs\/ring may import libs\/testing/],
    ['libs/config/src/x.ts', "import { Logger } from '#libs/logging';", /libs\/config may import libs\/common/],
    ['libs/redis/src/x.ts', "import { NodeRecord } from '#libs/nodes';", /libs\/redis may import libs\/common, libs\/config/],
    ['libs/nodes/src/x.ts', "import { ClusterView } from '#libs/cluster';", /libs\/nodes may import/],
    ['libs/cluster/src/x.ts', "import { ConsoleControl } from '#libs/console';", /libs\/cluster may import/],
    ['libs/ipmi/src/client/x.ts', "import { sleep } from '../../../console/src/x.js';", /libs\/ipmi may import libs\/common/],
    ['libs/nodes/src/x.ts', "import { waitFor } from '#libs/testing';", /libs\/nodes may import/],
    ['libs/console/src/x.ts', "import { waitFor } from '../../../test/support/wait.js';", /a lib never imports test\//],
    ['libs/console/src/x.spec.ts', "import { waitFor } from '../../../test/support/wait.js';", /a lib never imports test\//],
    ['libs/console/src/x.ts', "import { run } from '../../../apps/conductor/src/main.js';", /a lib never imports an app/],
    ['libs/console/src/x.ts', "export * from '../../../bench/stats.js';", /a lib never imports bench\//],
    ['libs/console/src/x.ts', "const m = await import('../../../apps/cli/src/main.js');", /a lib never imports an app/],
    ['apps/cli/src/lib/x.ts', "import { nodeDocument } from '../../../conductor/src/api/node-view.js';", /an app never imports another app/],
    ['apps/conductor/src/x.ts', "import { RedisServer } from '#libs/testing';", /dev-only tooling/],
    ['apps/cli/src/x.ts', "import { waitFor } from '../../../test/support/wait.js';", /an app never imports test\//],
  ])('%s: %s is reported', (file, code, message) => {
    const found = problems(file, code);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it.each([
    ['libs/console/src/x.ts', "import { ClusterView } from '#libs/cluster'; import { Keys } from '#libs/redis'; import { pino } from 'pino';"],
    ['libs/console/src/x.spec.ts', "import { waitFor } from '#libs/testing';"],
    ['libs/ipmi/src/client/x.ts', "import { IpmiError } from '../errors.js'; import { Cmd } from '../protocol/constants.js';"],
    ['libs/testing/src/x.ts', "import { isAlive } from '#libs/console'; import { packageRoot } from '#libs/common';"],
    ['apps/demo/src/main.ts', "import { RedisServer } from '#libs/testing';"],
    ['apps/cli/src/commands/x.ts', "import { Printer } from '../lib/output.js'; import { NodeService } from '#libs/nodes';"],
    ['test/e2e/x.test.ts', "import { buildProgram } from '../../apps/cli/src/program.js'; import { waitFor } from '../support/wait.js';"],
    ['bench/x.ts', "import { LocalCluster } from '../test/support/cluster.js'; import { Keys } from '#libs/redis';"],
  ])('%s: %s is allowed', (file, code) => {
    expect(problems(file, code)).toEqual([]);
  });
});
