#!/usr/bin/env bash
# Builds the simulated cluster's images offline from this machine's own binaries and loads
# them into a shared read-only image store (additionalimagestores of every host):
#   localhost/omni-sim-engine:HASH    bash, busybox, procps, curl, setsid, Debian's python3 with
#                                     its standard library (also as `python`, as omniinfer's images
#                                     name it), the engine simulator as `vllm` and the fake `ray`
#   localhost/omni-sim-proxy:HASH     nginx + njs module, mime.types, bash, busybox, curl
# usage: build-images.sh SIM_STATE_DIR        (prints "built"/"cached" per image)
#        the store is $OMNI_SIM_IMAGE_STORE (default /var/lib/omni-deploy-sim/images)
# HASH is that of the image's rootfs tar: checkouts side by side on one machine (a developer's
# and CI's, two worktrees, an older build in the upgrade test) each run the images of their own
# sources, whichever built last. SIM_STATE_DIR/images.env names this checkout's two (ENGINE_IMAGE=,
# PROXY_IMAGE=). `:latest` names the newest build on the machine, for inventories written by hand.
# Nothing is re-imported that the store has already; nothing is rebuilt when no input changed.
set -euo pipefail
S=$(realpath -m "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
# Outside the checkout on purpose (see IMAGE_STORE in sim/images.ts): hosts cannot see private paths.
STORE=${OMNI_SIM_IMAGE_STORE:-/var/lib/omni-deploy-sim/images}
mkdir -p "$S/bin" "$S/build" "$STORE"
# One build at a time per checkout (tests that start together share $S/build).
exec 9>"$S/.build-images.lock"
flock 9

# --- engine simulator: static Go binary, rebuilt only when its sources change -------------
src_hash=$(cd "$HERE/engine" && cat go.mod ./*.go | sha256sum | cut -c1-16)
if [ ! -x "$S/bin/omni-sim" ] || [ "$(cat "$S/bin/omni-sim.src" 2>/dev/null)" != "$src_hash" ]; then
  (cd "$HERE/engine" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$S/bin/omni-sim.new" .)
  mv "$S/bin/omni-sim.new" "$S/bin/omni-sim"
  echo "$src_hash" > "$S/bin/omni-sim.src"
fi

# --- fast path: nothing that goes into the images changed since the last build -------------
# Debian's interpreter (not whatever `python3` is first on PATH: a pyenv shim, a venv).
PYTHON=/usr/bin/python3
PYTHON_BIN=$(readlink -f "$PYTHON")
PYTHON_LIB=/usr/lib/$(basename "$PYTHON_BIN")
HOST_INPUTS=(/usr/bin/busybox /usr/bin/bash /usr/bin/setsid /usr/bin/curl /usr/bin/ps /usr/bin/pgrep
  /usr/bin/pkill /usr/bin/kill /usr/sbin/nginx /usr/lib/nginx/modules/ngx_http_js_module.so /etc/nginx/mime.types
  "$PYTHON_BIN")
inputs_hash=$( {
  cat "$0" "$S/bin/omni-sim" | sha256sum # contents only: checkouts of the same sources share a cache entry
  stat -L -c '%n %s %Y' "${HOST_INPUTS[@]}"
  find "$PYTHON_LIB" -printf '%P %s %T@\n' | LC_ALL=C sort
} | sha256sum | cut -c1-16)
# Which images these inputs made, per inputs hash: another checkout's build does not evict ours.
mkdir -p "$STORE/.inputs.d" "$STORE/.images.d"
if [ -f "$STORE/.inputs.d/$inputs_hash" ]; then
  # shellcheck disable=SC1090
  . "$STORE/.inputs.d/$inputs_hash"
  if [ -f "$STORE/.images.d/${ENGINE_IMAGE##*/}" ] && [ -f "$STORE/.images.d/${PROXY_IMAGE##*/}" ]; then
    cp "$STORE/.inputs.d/$inputs_hash" "$S/images.env"
    echo "cached $ENGINE_IMAGE, $PROXY_IMAGE (inputs unchanged)"
    exit 0
  fi
fi

# --- rootfs helpers --------------------------------------------------------------------------
copy_with_libs() { # ROOT SRC [DEST]
  local root=$1 src=$2 dest=${3:-$2}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$src" "$root$dest"
  ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

base_rootfs() { # ROOT
  local r=$1
  rm -rf "$r"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,tmp,data,var/log,var/tmp,run,proc,sys,dev}
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 700 "$r/root"
  cp /usr/bin/busybox "$r/bin/busybox"
  for a in $(/usr/bin/busybox --list); do
    [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
  done
  rm -f "$r/bin/sh" "$r/bin/bash" "$r/bin/ps" "$r/bin/setsid" "$r/bin/kill"
  copy_with_libs "$r" /usr/bin/bash /bin/bash
  ln -s bash "$r/bin/sh"
  copy_with_libs "$r" /usr/bin/setsid /usr/bin/setsid
  copy_with_libs "$r" /usr/bin/curl /usr/bin/curl
  for t in ps pgrep pkill kill; do copy_with_libs "$r" "/usr/bin/$t" "/usr/bin/$t"; done
  cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
P
  cat > "$r/etc/group" <<'G'
root:x:0:
www-data:x:33:
nogroup:x:65534:
G
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
  printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' > "$r/root/.bashrc"
}

# python3 and its standard library, without what only builds or tests Python itself (the static
# libpython, the test suite, Tk): omniinfer's tools run in its images with `python`.
add_python() { # ROOT
  local r=$1 lib
  copy_with_libs "$r" "$PYTHON_BIN"
  ln -s "$(basename "$PYTHON_BIN")" "$r/usr/bin/python3"
  ln -s python3 "$r/usr/bin/python"
  mkdir -p "$r/usr/lib"
  tar -C "$(dirname "$PYTHON_LIB")" -c --dereference \
    --exclude="$(basename "$PYTHON_LIB")/config-*" --exclude="$(basename "$PYTHON_LIB")/test" \
    --exclude="$(basename "$PYTHON_LIB")/idlelib" --exclude="$(basename "$PYTHON_LIB")/tkinter" \
    --exclude="$(basename "$PYTHON_LIB")/turtledemo" "$(basename "$PYTHON_LIB")" | tar -C "$r/usr/lib" -x
  # The extension modules' own libraries (ssl, ffi, sqlite, lzma…).
  for lib in "$r$PYTHON_LIB"/lib-dynload/*.so; do
    { ldd "$lib" 2>/dev/null || true; } | { grep -oE '/[^ ]+' || true; } | while read -r dep; do
      [ -e "$r$dep" ] && continue
      mkdir -p "$r$(dirname "$dep")"
      cp -L "$dep" "$r$dep"
    done
  done
}

engine=$S/build/engine-rootfs
base_rootfs "$engine"
add_python "$engine"
cp "$S/bin/omni-sim" "$engine/usr/local/bin/omni-sim"
ln -s omni-sim "$engine/usr/local/bin/vllm"
ln -s omni-sim "$engine/usr/local/bin/ray"

proxy=$S/build/proxy-rootfs
base_rootfs "$proxy"
copy_with_libs "$proxy" /usr/sbin/nginx
copy_with_libs "$proxy" /usr/lib/nginx/modules/ngx_http_js_module.so
mkdir -p "$proxy/etc/nginx" "$proxy/var/lib/nginx" "$proxy/var/log/nginx" "$proxy/var/www/html"
cp /etc/nginx/mime.types "$proxy/etc/nginx/mime.types"
cat > "$proxy/etc/nginx/nginx.conf" <<'N'
load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
user www-data;
worker_processes 1;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  server { listen 80; location / { return 200 "omni-sim proxy image\n"; } }
}
N

# --- import into the shared store, cached by rootfs content ---------------------------------
PATHV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
import_image() { # NAME ROOTFS CMD-JSON VAR  (sets VAR to the image's content tag)
  local name=$1 root=$2 cmd=$3 tar hash
  tar=$S/build/$name.tar
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tar" .
  hash=$(sha256sum "$tar" | cut -c1-16)
  printf -v "$4" '%s' "localhost/$name:$hash"
  if [ -f "$STORE/.images.d/$name:$hash" ]; then
    echo "cached localhost/$name:$hash"
    rm -f "$tar"
    return
  fi
  # Private mount namespace with its own /run, /dev/shm and /var/lib/containers: the build
  # leaves no lock, runroot or state behind in the machine's (or a host's) podman. The tar comes
  # in on stdin, opened before those mounts: the checkout may live under one of them.
  unshare --mount --propagation private bash -euc '
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /dev/shm
    mkdir -p /var/lib/containers
    mount -t tmpfs tmpfs /var/lib/containers
    p() { podman --root "$1" --runroot /run/containers/storage --storage-driver overlay "${@:2}"; }
    p "$1" import --quiet --change "CMD $3" --change "ENV $4" - "localhost/$2:$5" >/dev/null
    p "$1" tag "localhost/$2:$5" "localhost/$2:latest"
  ' _ "$STORE" "$name" "$cmd" "$PATHV" "$hash" <"$tar"
  touch "$STORE/.images.d/$name:$hash"
  rm -f "$tar"
  echo "built localhost/$name:$hash"
}
import_image omni-sim-engine "$engine" '["/bin/bash"]' ENGINE_IMAGE
import_image omni-sim-proxy "$proxy" '["/usr/sbin/nginx","-g","daemon off;"]' PROXY_IMAGE
printf 'ENGINE_IMAGE=%s\nPROXY_IMAGE=%s\n' "$ENGINE_IMAGE" "$PROXY_IMAGE" > "$STORE/.inputs.d/$inputs_hash"
cp "$STORE/.inputs.d/$inputs_hash" "$S/images.env"
