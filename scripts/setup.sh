#!/usr/bin/env bash
# Installs everything omni-deploy and its tests need on a fresh Debian machine (run as root).
# Idempotent; safe to run before every command.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # Every package is named explicitly and installed with --no-install-recommends: nothing may
  # arrive only as a Recommends or because a machine happens to have it (test/unit/machineTools
  # checks that each program the code and the tests run is present and that its package is here).
  # The simulated cluster: hosts with sshd, a container engine (podman as `docker`, runc under it,
  # conmon beside it, catatonit for `docker run --init`), namespaces and mounts (util-linux),
  # addresses and sockets (iproute2), rsync for code sync and log fetch, ps/pgrep/pkill (procps;
  # also copied into the engine image).
  openssh-server openssh-client iproute2 util-linux rsync podman podman-docker runc conmon catatonit
  golang-github-containers-common busybox-static procps
  # docker hosts (`deploy sim up --engine docker`): the library Debian's dockerd links against;
  # dockerd, containerd and tini themselves are extracted by sim/docker-binaries.sh (installing
  # docker.io would remove podman-docker), and apt/dpkg fetch and unpack them
  libdevmapper1.02.1 apt dpkg
  # the global proxy: nginx with njs (also copied into the proxy image of the simulated cluster)
  nginx-light nginx-common libnginx-mod-http-js
  curl ca-certificates
  # the Web UI browser test (playwright-core drives this Chromium; no browser download), and the
  # emoji of the cluster's host × phase table in its screenshot
  chromium fonts-noto-color-emoji
  # validates docker-compose.temporal.yml with a real compose client (`docker-compose config`)
  docker-compose
  # the production Temporal natively (`deploy server start --backend postgres`): its PostgreSQL
  # (the `postgres` user it runs as comes with it), and openssl for the mTLS certificates
  postgresql openssl
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

# The JavaScript bin/deploy runs (dist/, with the prebuilt workflow bundle); rebuilt only when a
# source is newer than the last build.
node scripts/build.js --if-stale

scripts/build-temporal.sh

# Machine-wide configuration the simulated hosts need (container engine settings), and the
# Docker engine for docker hosts.
if [ -x sim/setup-machine.sh ]; then sim/setup-machine.sh; fi
sim/docker-binaries.sh
echo "setup complete"
