#!/bin/sh
# solgate: owner of one console's process group (this shell, socat, socat's per-client children
# and their ipmitool).
#
#   setpriv --pdeathsig TERM -- console-guard.sh SOCAT_ARGS...
#
# The conductor starts it in a new process group with a parent-death signal: if the conductor dies,
# even by SIGKILL, the kernel sends this shell SIGTERM and it kills the whole group, so no console
# outlives its conductor. (pdeathsig reaches only the direct child; socat's forked children would
# otherwise survive.) When socat exits on its own, the group goes too: its children must not linger.
trap 'kill -KILL 0' TERM INT HUP
socat "$@" &
wait $!
status=$?
echo "solgate-guard: socat exited with status $status" >&2
kill -KILL 0
