#!/usr/bin/env bash
# Machine-wide settings the simulated hosts need (called by scripts/setup.sh; idempotent).
# Only /etc/containers is touched: podman there is the hosts' `docker`.
set -euo pipefail

# Podman must not exceed what this VM allows: the hard nofile limit (no CAP_SYS_RESOURCE to
# raise it) and an nproc no higher than podman's own (it lowers itself to 32768).
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
nofile=$((hard_nofile < 1048576 ? hard_nofile : 1048576))
nproc=32768

mkdir -p /etc/containers
conf=$(cat <<EOC
# Written by omni-deploy sim/setup-machine.sh.
[containers]
# Host networking by default: a bridge network in the root namespace would switch on
# ip_forward and add NAT rules there. Simulated hosts are network namespaces already.
netns = "host"
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
# crun 1.8 refuses this machine's hybrid cgroup v1/v2 layout; runc works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOC
)
if [ ! -f /etc/containers/containers.conf ] || [ "$(cat /etc/containers/containers.conf)" != "$conf" ]; then
  printf '%s\n' "$conf" > /etc/containers/containers.conf
  echo "sim: wrote /etc/containers/containers.conf"
fi
# Quiets podman-docker's "Emulate Docker CLI" banner, which would pollute `docker` output.
[ -e /etc/containers/nodocker ] || touch /etc/containers/nodocker
# Mount points for the hosts' private /data (the seed's MODEL_PATH/LOG_PATH root) and podman's
# state folder; empty on the machine itself.
mkdir -p /data /var/lib/containers
