#!/bin/bash
# `docker` on a simulated host (installed as /usr/local/bin/docker by sim/disks.ts): podman,
# shadowing the machine's Docker CLI, which has no engine here, with the few differences from
# Docker that deploys rely on taken care of.
set -uo pipefail

# `docker run`/`create` options that take no value; every other option takes one (`--name x`,
# `-e K=V`…). Knowing this is what tells where the image is, and so where the options end.
BOOL_LONG=" --detach --interactive --tty --rm --init --privileged --publish-all --read-only \
--no-healthcheck --oom-kill-disable --help --quiet --sig-proxy --disable-content-trust --replace \
--rmi --env-host --http-proxy --no-hosts --read-only-tmpfs --rootfs --tls-verify --passwd "
BOOL_SHORT=dtiPq

# Docker creates a missing host folder of a bind mount (`-v /host/dir:/in/container`); podman
# refuses ("no such file or directory"). The seed's `docker run` counts on Docker here. Only
# absolute host paths of `-v`/`--volume` (a named volume or a container-only path is no host
# folder; `--mount` fails in Docker too), and nothing is interpreted by a shell.
create_bind_sources() {
  local arg spec src letters i c err
  while [ $# -gt 0 ]; do
    arg=$1
    shift
    spec=
    case $arg in
      --) return ;;
      --volume=*) spec=${arg#--volume=} ;;
      --volume) spec=${1:-} && shift ;;
      --*=*) ;;
      --*) [[ $BOOL_LONG == *" $arg "* ]] || shift ;;
      -?*)
        letters=${arg#-}
        for ((i = 0; i < ${#letters}; i++)); do
          c=${letters:i:1}
          [[ $BOOL_SHORT == *"$c"* ]] && continue
          # A short option with a value: the rest of the word, or the next word.
          if [ $((i + 1)) -lt ${#letters} ]; then
            [ "$c" = v ] && spec=${letters:i+1}
          else
            [ "$c" = v ] && spec=${1:-}
            shift
          fi
          break
        done
        ;;
      *) return ;; # the image: what follows is the container's command
    esac
    src=${spec%%:*}
    if [ "$src" != "$spec" ] && [[ $src == /* ]] && [ ! -e "$src" ]; then
      if ! err=$(mkdir -p -- "$src" 2>&1); then
        echo "docker: Error response from daemon: error while creating mount source path '$src': $err" >&2
        exit 125
      fi
    fi
  done
}

# A fault knob (sim/README.md): /data/omni-sim/docker-run-delay holds the seconds the next
# `docker run` takes before it starts, as a slow image pull would; read once, then removed.
slow_start() {
  local f=/data/omni-sim/docker-run-delay s
  [ -r "$f" ] || return 0
  s=$(cat "$f")
  rm -f "$f"
  sleep "$s"
}

case ${1:-} in
  run) slow_start && create_bind_sources "${@:2}" ;;
  create) create_bind_sources "${@:2}" ;;
  container) case ${2:-} in run | create) create_bind_sources "${@:3}" ;; esac ;;
  # There is no registry: a pull of an image the host already has answers like a pull that
  # finds it up to date; anything else goes to podman and fails like a missing image.
  pull)
    img=
    for a in "${@:2}"; do case $a in -*) ;; *) img=$a ;; esac; done
    if [ -n "$img" ] && podman image exists "$img" 2>/dev/null; then
      echo "Status: Image is up to date for $img"
      exit 0
    fi
    ;;
  # docker's `rm -f` kills a running container at once (SIGKILL); podman's stops it first and
  # waits 10 s for a bash entrypoint that ignores SIGTERM.
  # Without --force docker removes a stopped container (and refuses a running one); podman's
  # --time needs --force.
  rm)
    for a in "${@:2}"; do
      case $a in
        -f | --force | --force=true | -[!-]*f*) exec podman rm --time 0 "${@:2}" ;;
      esac
    done
    ;;
  # `docker stop` and podman's agree on what happens: SIGTERM to PID 1, `--time` (default 10 s)
  # to exit, then SIGKILL; exit status 137. The seed's `--entrypoint=bash -it` container never
  # exits on SIGTERM (PID 1 ignores a signal it has no handler for, and an interactive bash
  # ignores SIGTERM anyway), so both wait out the timeout. Docker says nothing about it; podman
  # warns on stderr that it resorted to SIGKILL, which a tool reading stderr takes for an error.
  stop)
    { podman "$@" 2>&1 1>&3 3>&- | { grep -v 'failed to stop container .* resorting to SIGKILL' >&2 || true; }
      rc=${PIPESTATUS[0]}; } 3>&1
    exit "$rc"
    ;;
  # `docker exec -d` prints nothing; podman prints the exec session's ID.
  exec)
    for ((i = 2; i <= $#; i++)); do
      a=${!i}
      case $a in
        -d | --detach | --detach=true | -[it]*d* | -d[it]*)
          podman "$@" >/dev/null
          exit $?
          ;;
        -e | --env | --env-file | -u | --user | -w | --workdir | --detach-keys) i=$((i + 1)) ;;
        -*) ;;
        *) break ;; # the container: what follows is the command
      esac
    done
    ;;
esac
exec podman "$@"
