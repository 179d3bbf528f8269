#!/bin/bash
# runc for the dockerd of a simulated host (installed as /usr/local/sbin/omni-runc by
# sim/disks.ts, dockerd's default runtime). Docker's `--privileged` asks for every capability
# the kernel knows, and runc fails (`unable to apply caps: operation not permitted`) on one that
# this machine's capability bounding set lacks (CAP_SYS_RESOURCE here); podman drops those by
# itself. So the capabilities the bounding set lacks are taken out of the container's spec
# (`create --bundle DIR`: DIR/config.json) and of an exec's (`exec --process FILE`), then runc runs.
set -euo pipefail
NAMES=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
  SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
  AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
  PERFMON BPF CHECKPOINT_RESTORE)

files=()
prev=
for a in "$@"; do
  case $prev in
    --bundle | -b) files+=("$a/config.json") ;;
    --process | -p) files+=("$a") ;;
  esac
  case $a in
    --bundle=*) files+=("${a#--bundle=}/config.json") ;;
    --process=*) files+=("${a#--process=}") ;;
  esac
  prev=$a
done

if [ ${#files[@]} -gt 0 ]; then
  bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  edits=()
  for i in "${!NAMES[@]}"; do
    if (((bounding >> i) & 1)); then continue; fi
    c="\"CAP_${NAMES[$i]}\""
    edits+=(-e "s/${c},//g" -e "s/,${c}//g" -e "s/${c}//g")
  done
  for f in "${files[@]}"; do
    if [ ${#edits[@]} -gt 0 ] && [ -f "$f" ]; then sed -i "${edits[@]}" "$f"; fi
  done
fi
exec runc "$@"
