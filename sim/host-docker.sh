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

case ${1:-} in
  run | create) create_bind_sources "${@:2}" ;;
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
  rm) exec podman rm --time 0 "${@:2}" ;;
esac
exec podman "$@"
