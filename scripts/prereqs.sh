#!/usr/bin/env bash
# Installs what solgate needs on a Debian machine, only what is missing, then npm ci and a build.
#   scripts/prereqs.sh demo   # runtime: redis-server, socat, ipmitool, ipmi_sim, setpriv
#   scripts/prereqs.sh test   # + redis-sentinel, python3-ironicclient (baremetal), python3-openstacksdk, pyghmi (fakebmc), websockify,
#                             #   python3-ironic and haproxy (test/e2e/ironic), podman/runc/mmdebstrap (the image, scripts/image.sh),
#                             #   promtool (chart alerts)
#                             #   chromium (web console tests, driven by playwright-core), script (util-linux), tmux
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-demo}

# command -> Debian package
declare -A need=([redis-server]=redis-server [socat]=socat [ipmitool]=ipmitool [ipmi_sim]=openipmi [setpriv]=util-linux [perl]=perl-base [stdbuf]=coreutils)
# python module (of Debian's /usr/bin/python3) -> Debian package
declare -A need_py=()
if [ "$profile" = test ]; then
  need+=([redis-sentinel]=redis-sentinel [baremetal]=python3-ironicclient [fakebmc]=python3-pyghmi [websockify]=websockify [haproxy]=haproxy)
  need_py+=([openstack]=python3-openstacksdk [ironic]=python3-ironic)
  need+=([podman]=podman [runc]=runc [mmdebstrap]=mmdebstrap [promtool]=prometheus)
  need+=([chromium]=chromium [script]=bsdutils [tmux]=tmux)
fi
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
for mod in "${!need_py[@]}"; do
  /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || missing+=("${need_py[$mod]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "prereqs: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # other jobs may hold the dpkg lock for a while: wait for it rather than fail
  apt=($sudo apt-get -o DPkg::Lock::Timeout=600)
  "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    "${apt[@]}" update -q >/dev/null
    "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("solgate needs Node.js >= 20.19, found "+process.version); process.exit(1) }'

# npm ci when node_modules is missing or older than the lock file
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "prereqs: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

echo "prereqs: building" >&2
npm run -s build >&2
