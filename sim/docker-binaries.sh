#!/usr/bin/env bash
# Debian's Docker engine for simulated hosts that run `docker` rather than podman
# (`deploy sim up --engine docker`): dockerd, containerd and its shims, the Docker CLI, tini for
# `docker run --init`. Installing docker.io would remove podman-docker (the packages conflict), so
# the .debs are downloaded and extracted, not installed, into one machine-wide folder that every
# host sees. runc is the machine's own (an installed package).
# usage: docker-binaries.sh            (called by scripts/setup.sh; idempotent)
set -euo pipefail
ROOT=${OMNI_SIM_DOCKER_ROOT:-/var/lib/omni-deploy-sim/docker}
PACKAGES=(docker.io containerd tini)

# Extracted once, then kept (versions in $ROOT/versions): remove $ROOT to take newer packages.
if [ -x "$ROOT/root/usr/sbin/dockerd" ] && [ -s "$ROOT/versions" ]; then
  exit 0
fi
versions() { apt-cache policy "${PACKAGES[@]}" | awk '/^[^ ]/ {p=$1} /Candidate:/ {print p, $2}'; }
want=$(versions)
if ! printf '%s\n' "$want" | grep -q 'docker.io: [0-9]'; then
  apt-get update -q
  want=$(versions)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt's sandbox user cannot write into a root-owned temporary folder.
chmod 755 "$work"
if id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
(cd "$work" && apt-get download -q "${PACKAGES[@]}")
rm -rf "$ROOT/root.new"
mkdir -p "$ROOT/root.new"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$ROOT/root.new"; done
rm -rf "$ROOT/root"
mv "$ROOT/root.new" "$ROOT/root"
printf '%s\n' "$want" > "$ROOT/versions"
echo "sim: Docker engine binaries in $ROOT/root ($(printf '%s' "$want" | tr '\n' ';'))"
