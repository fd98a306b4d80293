#!/bin/sh
# solgate: the command socat runs for each console client (one at a time: max-children=1).
#
#   sol-session.sh LEASE_FILE ARGV_FILE
#
# LEASE_FILE holds the conductor's lease deadline in /proc/uptime centiseconds; the conductor
# refreshes it on every successful heartbeat. A conductor that is paused (SIGSTOP, frozen VM) cannot
# stop its socat listeners, but its lease runs out, and then no client gets a SOL session here:
# a stale listener may exist for a moment, a stale SOL session never.
#
# ARGV_FILE holds the ipmitool command line, one argument per line, written by the conductor from
# validated driver_info (the password is in a 0600 file named there with -f, never on a command line).
# Arguments are read into "$@" line by line: no word splitting, no globbing, no eval, and nothing a
# user typed passes through socat's address parser.
set -u
lease_file=$1
argv_file=$2

read -r up _ < /proc/uptime
now=${up%.*}${up#*.}
deadline=0
[ -r "$lease_file" ] && read -r deadline < "$lease_file"
case $deadline in '' | *[!0-9]*) deadline=0 ;; esac
if [ "$now" -ge "$deadline" ]; then
  printf 'solgate: this console listener is stale (its conductor lost its lease); ask the API for the current console URL.\r\n'
  sleep 0.3 # let socat relay the message before the pty closes
  exit 1
fi

set --
while IFS= read -r arg || [ -n "$arg" ]; do
  set -- "$@" "$arg"
done < "$argv_file"

# Clear a SOL session left behind by a client that vanished or by a previous owner of this node:
# otherwise the BMC answers "SOL payload already active on another session" for half a minute.
# Short retries: when the BMC is down the activation below reports it.
"$@" -N 1 -R 1 sol deactivate >/dev/null 2>&1

# socat SIGTERMs this process when the client disconnects. ipmitool killed by SIGTERM would leave
# the payload active on the BMC; ignoring TERM lets it see the pty close, deactivate and exit
# cleanly (about 0.1 s), so an immediate reconnect works. Stopping a console kills with SIGKILL.
trap '' TERM
exec "$@" sol activate
