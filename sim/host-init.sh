#!/bin/bash
# Becomes a simulated host's first process. Started by sim/processes.ts as
#   nsenter --net=<netns> unshare --mount --uts --pid --fork --kill-child --propagation private \
#     bash host-init.sh DISK NAME ADDRESS PREFIXLEN ENGINE DOCKER_ROOT
# so everything here happens inside the host's own network, mount, UTS and PID namespaces;
# it gives the host private filesystems and then turns into sshd (PID 1 of the host).
# When sshd dies the kernel kills every process of the host and its mounts go with them.
set -euo pipefail
D=$1 NAME=$2 ADDR=$3 PREFIX=$4 ENGINE=${5:-podman} DOCKER_ROOT=${6:-}

# The disk lives in the checkout's state folder, and a checkout may sit under any folder this
# script mounts over (/root, /tmp, /srv, /data, /var/log, /var/lib/containers; /usr is an overlay
# whose upper layer would then be inside its own lower layer, where lookups fail with ELOOP).
# So the disk is bound once, before anything is shadowed, to a staging point, and every source
# below is taken from there. The staging point is /run, which gets its own tmpfs at the end.
mount --bind "$D" /run
S=/run
M=$S/.mnt
mkdir -p "$M/cg"

hostname "$NAME"
ip link set lo up
ip addr add "$ADDR/$PREFIX" dev eth0
ip link set eth0 up

mount -t proc proc /proc
# A fresh sysfs shows only this host's NICs; runc still needs the machine's cgroup mounts
# (`ip netns exec` loses them, hence nsenter and this dance).
mount --rbind /sys/fs/cgroup "$M/cg"
mount -t sysfs sysfs /sys
mount --rbind "$M/cg" /sys/fs/cgroup
umount -l "$M/cg"

# The host's /etc and /usr are the machine's plus a private upper layer on the host's disk:
# that is how /etc/hccn.conf, /usr/bin/hccn_tool, /usr/local/Ascend … exist only on hosts.
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$S/etc,workdir=$S/.work/etc" /etc
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$S/usr,workdir=$S/.work/usr" /usr
mount --bind "$S/ssh" /etc/ssh
mount --bind "$S/root" /root
mount --bind "$S/var-lib-containers" /var/lib/containers
mount --bind "$S/var-log" /var/log
mount --bind "$S/data" /data
mount --bind "$S/srv" /srv
mount --bind "$S/tmp" /tmp

# A private /dev: the usual nodes, a private devpts, and NPU stand-ins with /dev/null's
# numbers so `--device /dev/davinci_manager` and friends work unchanged.
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
for n in davinci_manager hisi_hdc devmm_svm $(seq -f 'davinci%g' 0 15); do mknod -m 666 "/dev/$n" c 1 3; done
# podman's lock segment lives in /dev/shm and must not be shared between hosts.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm

# Every source is bound: the staging point goes, and /run becomes the host's own fresh tmpfs.
umount /run
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/sshd

# A docker host (sim/containerEngine.ts) runs Debian's dockerd, as a production host would: its
# images and containers on the host's disk, its sockets and state in the host's /run, no bridge
# and no iptables (containers use the host's network, as the seed's --net=host asks), the
# capability-dropping runc (/usr/local/sbin/omni-runc, see sim/host-runc.sh), tini for --init.
if [ "$ENGINE" = docker ]; then
  PATH="$DOCKER_ROOT/usr/bin:$DOCKER_ROOT/usr/sbin:$PATH" setsid dockerd \
    --data-root /var/lib/containers/docker --exec-root /run/docker --pidfile /run/docker.pid \
    --host unix:///run/docker.sock --storage-driver overlay2 --bridge none --iptables=false \
    --ip-forward=false --ip-masq=false --init-path "$DOCKER_ROOT/usr/bin/tini-static" \
    --add-runtime omni-runc=/usr/local/sbin/omni-runc --default-runtime omni-runc \
    --log-level warn </dev/null >/var/log/dockerd.log 2>&1 &
fi

exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
