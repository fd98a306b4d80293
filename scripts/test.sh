#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: prerequisites, build, type-check, unit tests,
# then integration and end-to-end tests against real redis-server, socat, ipmitool and BMC simulators.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh test
echo "== type-check" >&2
npm run -s typecheck
echo "== unit tests" >&2
npm run -s jest -- --selectProjects unit --maxWorkers=2 --passWithNoTests "$@"
echo "== integration and end-to-end tests" >&2
# One suite at a time: they start real processes and some assert timings (takeover within 2 s).
npm run -s jest -- --selectProjects integration --runInBand --passWithNoTests "$@"
