#!/usr/bin/env bash
# Builds the solgate container image with podman from deploy/docker/Dockerfile.
#
#   scripts/image.sh [build] [--tag NAME] [--base auto|registry|debian] [--version V]
#       Build the image; its name is the last line on stdout (chatter goes to stderr).
#       --base registry: the Dockerfile's defaults (official Node image, Debian slim runtime), pulled.
#       --base debian:   no registry needed: base images made here from Debian's packages with
#                        mmdebstrap (trixie ships Node 20.19) and passed as --build-arg NODE_IMAGE /
#                        RUNTIME_IMAGE. Their tarballs are cached, keyed by the package list.
#       --base auto:     registry when docker.io answers, else debian (the default).
#       Without --tag the name is localhost/solgate:src-<hash of the build inputs>, and an image of
#       that name that already exists is reused (no build at all).
#   scripts/image.sh redis [--base ...]
#       A small Redis image from the same Debian release (redis-server, redis-cli, sh), for the
#       container tests; prints its name.
#   scripts/image.sh deps
#       Only install what building and running images needs (podman, runc, mmdebstrap).
#   scripts/image.sh podman ARGS...
#       podman with this machine's verified settings (see "Containers" below).
#
# Containers: rootful podman with runc and cgroupfs (crun fails here with "cgroups in hybrid mode"),
# host networking, and a containers.conf without default ulimits (the defaults are refused here).
# Cache: ${SOLGATE_CACHE_DIR:-~/.cache/solgate}/ holds the base tarballs and downloaded .debs; delete
# it to start over. Registries are reached through the machine's TLS proxy: its CA bundle is mounted
# into the build's RUN steps (read-only) and never copied into a layer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE_DIR=${SOLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/solgate}
SUITE=trixie
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# Bump when the way bases are made changes (it is part of every base's cache key).
RECIPE_VERSION=1

log() { echo "image: $*" >&2; }
die() { echo "image: error: $*" >&2; exit 1; }

# ---- prerequisites --------------------------------------------------------------------------------
install_deps() {
  declare -A need=([podman]=podman [runc]=runc [mmdebstrap]=mmdebstrap [conmon]=conmon)
  local missing=() cmd
  for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/libexec/podman/$cmd" ] || [ -x "/usr/bin/$cmd" ] || missing+=("${need[$cmd]}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Other jobs may hold the dpkg lock for a while: wait for it rather than fail.
  local apt=($sudo apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  "${apt[@]}" install "${missing[@]}" >/dev/null 2>&1 || {
    $sudo apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null
    "${apt[@]}" install "${missing[@]}" >/dev/null
  }
}

containers_conf() {
  local conf=$CACHE_DIR/containers.conf
  if [ ! -s "$conf" ]; then
    mkdir -p "$CACHE_DIR"
    printf '# written by scripts/image.sh: the default nofile/nproc ulimits are refused on these machines\n[containers]\ndefault_ulimits = []\n' >"$conf.tmp"
    mv "$conf.tmp" "$conf"
  fi
  echo "$conf"
}

pm() {
  CONTAINERS_CONF=$(containers_conf) podman --runtime runc --cgroup-manager=cgroupfs "$@"
}

# ---- local Debian bases -----------------------------------------------------------------------------
# Three bases, each one mmdebstrap run of Debian packages only:
#   build:   Node + npm, for the Dockerfile's build and deps stages
#   runtime: Node, socat, ipmitool, shellinaboxd (ipmitool-shellinabox), tini, setpriv (util-linux), perl-base (the console broker's
#            per-client relay, console-relay.pl), CA certificates; no apt, no npm, no docs: the
#            image's runtime stage
#   redis:   redis-server and redis-cli, for the container tests
COMMON_OPTS=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
)
# Only in the runtime base: glibc's charset converters (Node brings ICU), corepack and TypeScript
# declarations of Debian's Node, ipmitool's 5 MB table of IANA enterprise names (only `mc info` and
# `fru` print them), and debconf once the packages are installed (only maintainer scripts use it;
# perl-base stays: socat runs console-relay.pl for every console client).
RUNTIME_OPTS=(
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*'
  --dpkgopt='path-exclude=/usr/share/nodejs/corepack/*'
  --dpkgopt='path-exclude=/usr/share/nodejs/@types/*'
  --dpkgopt='path-exclude=/usr/share/misc/enterprise-numbers.txt'
  --dpkgopt='path-exclude=/usr/share/bash-completion/*'
  --customize-hook='chroot "$1" dpkg --purge --force-remove-essential --force-depends debconf >/dev/null 2>&1'
  --customize-hook='rm -rf "$1"/var/cache/debconf "$1"/var/log/* "$1"/var/lib/dpkg/*-old'
)
base_spec() {
  case $1 in
    build) echo "minbase nodejs,npm,ca-certificates" ;;
    runtime) echo "essential nodejs,socat,ipmitool,shellinabox,tini,util-linux,perl-base,ca-certificates" ;;
    redis) echo "essential redis-server,redis-tools" ;;
    *) die "unknown base $1" ;;
  esac
}
base_opts() {
  if [ "$1" = runtime ]; then printf '%s\n' "${COMMON_OPTS[@]}" "${RUNTIME_OPTS[@]}"; else printf '%s\n' "${COMMON_OPTS[@]}"; fi
}
base_key() {
  { echo "$RECIPE_VERSION $SUITE $(base_spec "$1")"; base_opts "$1"; } | sha256sum | cut -c1-12
}
base_image() { echo "localhost/solgate-base-$1:$SUITE-$(base_key "$1")"; }

ensure_base() {
  local name=$1 image key tar variant pkgs
  image=$(base_image "$name")
  if pm image exists "$image"; then echo "$image"; return 0; fi
  key=$(base_key "$name")
  tar=$CACHE_DIR/bases/$name-$SUITE-$key.tar
  if [ ! -s "$tar" ]; then
    read -r variant pkgs <<<"$(base_spec "$name")"
    mkdir -p "$CACHE_DIR/bases" "$CACHE_DIR/debs"
    log "making the $name base with mmdebstrap ($SUITE, $pkgs); cached as $tar"
    local opts=()
    mapfile -t opts < <(base_opts "$name")
    local t0=$SECONDS
    # Downloaded .debs are kept between runs (and shared by the three bases).
    mmdebstrap --quiet --format=tar --variant="$variant" --include="$pkgs" "${opts[@]}" \
      --skip=download/empty --skip=essential/unlink \
      --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
      --setup-hook="sync-in $CACHE_DIR/debs/ /var/cache/apt/archives/" \
      --customize-hook="sync-out /var/cache/apt/archives/ $CACHE_DIR/debs/" \
      --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
      "$SUITE" "$tar.tmp" >&2 || { rm -f "$tar.tmp"; die "mmdebstrap failed for the $name base"; }
    mv "$tar.tmp" "$tar"
    log "$name base made in $((SECONDS - t0)) s"
  fi
  pm import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    "$tar" "$image" >/dev/null
  echo "$image"
}

# ---- registry reachability ---------------------------------------------------------------------------
registry_reachable() {
  # The registry's API answers 401 to an anonymous probe when it is reachable at all.
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null) || true
  [ "$code" = 401 ] || [ "$code" = 200 ]
}

resolve_base() {
  case $1 in
    auto) if registry_reachable; then echo registry; else echo debian; fi ;;
    registry | debian) echo "$1" ;;
    *) die "--base must be auto, registry or debian" ;;
  esac
}

# ---- the image --------------------------------------------------------------------------------------
# Hash of everything that goes into the image: the build context (.dockerignore allow-list), the
# Dockerfile and the base images.
source_hash() {
  {
    git ls-files --cached --others --exclude-standard -- package.json package-lock.json tsconfig.json tsconfig.build.json \
      apps libs bench bin test/support test/chaos .dockerignore deploy/docker |
      grep -v -E '\.spec\.ts$' | sort | while IFS= read -r f; do [ -f "$f" ] && sha256sum "$f"; done
    echo "$*"
  } | sha256sum | cut -c1-16
}

build_image() {
  local tag=$1 base=$2 version=$3
  local args=(--network=host --layers --format docker --jobs 2 -f deploy/docker/Dockerfile --build-arg "VERSION=$version")
  local revision
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  args+=(--build-arg "REVISION=$revision")
  local inputs=registry
  if [ "$base" = debian ]; then
    local node runtime
    node=$(ensure_base build)
    runtime=$(ensure_base runtime)
    args+=(--build-arg "NODE_IMAGE=$node" --build-arg "RUNTIME_IMAGE=$runtime")
    inputs="$node $runtime"
  fi
  # The registry proxy's CA, for npm ci inside the build: mounted into RUN steps, not copied.
  [ -r "$HOST_CA" ] && args+=(-v "$HOST_CA:$HOST_CA:ro")
  local hash
  hash=$(source_hash "$inputs $version")
  if [ -z "$tag" ]; then
    tag=localhost/solgate:src-$hash
    if pm image exists "$tag"; then
      log "reusing $tag (same build inputs)"
      echo "$tag"
      return 0
    fi
  fi
  log "building $tag from deploy/docker/Dockerfile ($base bases)"
  local t0=$SECONDS
  pm build "${args[@]}" --label "io.solgate.source-hash=$hash" -t "$tag" . >&2 || die "podman build failed"
  log "built $tag in $((SECONDS - t0)) s; $(pm image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')"
  # Older source-hash images are superseded (their layers stay only as build cache).
  local old
  for old in $(pm images --format '{{.Repository}}:{{.Tag}}' --filter 'reference=localhost/solgate:src-*'); do
    [ "$old" = "$tag" ] || pm rmi "$old" >/dev/null 2>&1 || true
  done
  # Stage images of earlier builds (untagged): kept for an hour as layer cache, then dropped.
  pm image prune -f --filter until=1h >/dev/null 2>&1 || true
  echo "$tag"
}

build_redis() {
  local base=$1
  if [ "$base" = registry ]; then
    # the chart's default Redis image
    pm image exists docker.io/library/redis:7.4.2-bookworm || pm pull -q docker.io/library/redis:7.4.2-bookworm >/dev/null || die "pulling redis failed"
    echo docker.io/library/redis:7.4.2-bookworm
    return 0
  fi
  ensure_base redis
}

main() {
  local cmd=build
  case ${1:-} in build | redis | deps | bases | podman) cmd=$1; shift ;; esac
  if [ "$cmd" = podman ]; then pm "$@"; return; fi
  local tag= base=auto version
  version=$(node -p 'require("./package.json").version' 2>/dev/null || echo 0.0.0)
  while [ $# -gt 0 ]; do
    case $1 in
      --tag) tag=$2; shift 2 ;;
      --base) base=$2; shift 2 ;;
      --version) version=$2; shift 2 ;;
      -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; return 0 ;;
      *) die "unknown argument $1 (see --help)" ;;
    esac
  done
  install_deps
  [ "$cmd" = deps ] && return 0
  base=$(resolve_base "$base")
  case $cmd in
    build) build_image "$tag" "$base" "$version" ;;
    redis) build_redis "$base" ;;
    bases) ensure_base build; ensure_base runtime; ensure_base redis ;;
  esac
}

main "$@"
