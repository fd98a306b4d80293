#!/usr/bin/env bash
# The main job: a working local solgate cluster on this machine. Installs what it needs, starts an
# embedded redis-server on a free port, simulated BMCs (OpenIPMI ipmi_sim) whose serial lines play a
# login prompt, three conductors (127.0.0.1-3), enrols the nodes, enables their consoles and prints
# how to connect. Ctrl-C stops everything.   Options: --nodes N (default 6), --conductors N (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh demo
exec node dist/apps/demo/src/main.js "$@"
