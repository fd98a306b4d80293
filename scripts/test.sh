#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: prerequisites, build, type-check and lint, unit tests,
# then integration and end-to-end tests against real redis-server, socat, ipmitool and BMC simulators.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh test
echo "== type-check and lint (side by side: each keeps one core busy)" >&2
npm run -s typecheck &
typecheck=$!
npm run -s lint &
lint=$!
ok=0
wait "$typecheck" || ok=1
wait "$lint" || ok=1
[ "$ok" -eq 0 ]
echo "== unit tests" >&2
npm run -s jest -- --selectProjects unit --maxWorkers=2 --passWithNoTests "$@"
echo "== integration and end-to-end tests" >&2
# One suite at a time: they start real processes (conductor clusters, BMC simulators) that share two cores.
npm run -s jest -- --selectProjects integration --runInBand --passWithNoTests "$@"
