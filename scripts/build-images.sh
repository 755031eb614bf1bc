#!/usr/bin/env bash
# Builds, with no container registry, the two local images the tests need:
#   clarafl-test/debian12-systemd:latest  Debian 12 with systemd, python3, sudo and sshd (Molecule hosts)
#   python:3.8-slim                       Debian 12 with CPython 3.8 from this machine
#                                         (the base the clara_image `build` source uses)
# and, only when asked (target ee-base), the base of the execution environment (scripts/build-ee.sh):
#   clarafl/ee-base:bookworm-py3.11       Debian 12 with CPython 3.11 from this machine, the SSH client,
#                                         and ee-pkgmgr as ansible-builder's package manager
# Each image carries a label with the hash of its inputs; an image whose label matches is kept.
# Root filesystems are cached as tarballs under $CLARAFL_CACHE (default ~/.cache/clarafl).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CLARAFL_CACHE:-$HOME/.cache/clarafl}/images
suite=bookworm
mirror=${DEBIAN_MIRROR:-}
py38_version=${PY38_VERSION:-3.8.18}
py311_version=${PY311_VERSION:-3.11.7}
only=${1:-all}

die() { echo "build-images: $*" >&2; exit 1; }

# Prerequisites, each with what to do about it.
command -v docker >/dev/null || die "docker CLI not found: install docker.io (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}: start dockerd first"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
[ "$(id -u)" = 0 ] || die "debootstrap needs root: run as root"

if [ -z "$mirror" ]; then
  # The Debian mirror this machine already uses; no other host is reachable.
  src=/etc/apt/sources.list.d/debian.sources
  if [ -r "$src" ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' "$src")
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
fi

mkdir -p "$cache"

label_of() { docker image inspect -f '{{ index .Config.Labels "org.clarafl.inputs" }}' "$1" 2>/dev/null || true; }

# rootfs NAME PACKAGES -> prints the path of a cached tarball of a minbase tree with PACKAGES.
rootfs() {
  local name=$1 pkgs=$2 key tar tmp
  key=$(printf '%s\n' "$suite" "$pkgs" "$mirror" | sha256sum | cut -c1-16)
  tar="$cache/$name-$key.tar"
  if [ ! -s "$tar" ]; then
    tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
    echo "build-images: debootstrap $suite ($name) from $mirror" >&2
    if ! debootstrap --variant=minbase --include="$pkgs" "$suite" "$tmp/root" "$mirror" >"$tmp/log" 2>&1; then
      tail -20 "$tmp/log" >&2
      rm -rf "$tmp"
      die "debootstrap of $name failed (log above); check that $mirror is reachable"
    fi
    # Slim it: no apt lists or caches, no docs.
    rm -rf "$tmp/root"/var/lib/apt/lists/* "$tmp/root"/var/cache/apt/*.bin \
           "$tmp/root"/usr/share/doc/* "$tmp/root"/usr/share/man/*
    tar -C "$tmp/root" -cf "$tar.part" .
    mv "$tar.part" "$tar"
    rm -rf "$tmp"
  fi
  printf '%s\n' "$tar"
}

build_systemd_host() {
  local image=clarafl-test/debian12-systemd:latest pkgs key tar
  # sudo and openssh-server: Molecule's default scenario logs in over SSH as a user with sudo, as on a real host
  # (the host keys made here are shared by every container of the image: a test image only).
  pkgs=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,openssh-server,iproute2,procps,ca-certificates,gnupg,iptables,kmod
  key=$(printf '%s\n' "$pkgs" "$(declare -f build_systemd_host)" | sha256sum | cut -c1-16)
  if [ "$(label_of "$image")" = "$key" ]; then
    echo "build-images: $image is up to date"
    return
  fi
  tar=$(rootfs debian12-systemd "$pkgs")
  # systemd as PID 1; units that make no sense in a container are masked.
  cat "$tar" | docker import \
    --change "LABEL org.clarafl.inputs=$key" \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    - "$image" >/dev/null
  echo "build-images: built $image"
}

# python_prefix VERSION -> prints where pyenv keeps CPython VERSION, or fails saying how to get it.
python_prefix() {
  local v=$1 prefix
  prefix=$(pyenv prefix "$v" 2>/dev/null) || prefix=/root/.pyenv/versions/$v
  [ -x "$prefix/bin/python${v%.*}" ] || die "CPython $v not found (looked in $prefix): install it with 'pyenv install $v'"
  printf '%s\n' "$prefix"
}

# What CPython's modules link to.
python_libs=libbz2-1.0,libcrypt1,libssl3,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2,libreadline8,libsqlite3-0
python_libs=$python_libs,libtirpc3,libuuid1,zlib1g

# python_image IMAGE VERSION NAME PACKAGES CMD [PREPARE [INPUTS]]: Debian 12 minbase with PACKAGES and CPython
# VERSION from this machine under /usr/local, as the official images lay it out (libpython through ld.so.cache),
# tagged IMAGE. PREPARE, a function, finishes the tree (given its path) before it is checked and imported, from
# files whose digests are INPUTS.
python_image() {
  local image=$1 v=$2 name=$3 pkgs=$4 cmd=$5 prepare=${6:-} inputs=${7:-} prefix key tar tmp root lib old
  prefix=$(python_prefix "$v")
  v=${v%.*} lib=lib/python${v}
  # Only what makes this image counts: other targets' changes do not rebuild it.
  key=$(printf '%s\n' "$image" "$pkgs" "$cmd" "$("$prefix/bin/python$v" -VV)" "$(declare -f python_image)" \
          ${prepare:+"$(declare -f "$prepare")"} "$inputs" | sha256sum | cut -c1-16)
  if [ "$(label_of "$image")" = "$key" ]; then
    echo "build-images: $image is up to date"
    return
  fi
  tar=$(rootfs "$name" "$pkgs")
  tmp=$(mktemp -d "$cache/$name.XXXXXX")
  root=$tmp/root
  mkdir -p "$root"
  tar -C "$root" -xf "$tar"
  # No downloaded packages, no translations (LANG is C.UTF-8).
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/locale/*
  # The interpreter, its headers and library (no tests, IDLE, Tk, static library, bytecode for -O) and, of the
  # packages this machine installed into it, pip and setuptools only.
  tar -C "$prefix" --exclude="$lib/test" --exclude="$lib/idlelib" --exclude="$lib/tkinter" \
      --exclude="$lib/lib2to3/tests" --exclude="$lib/config-$v-*/*.a" --exclude="$lib/site-packages/*" \
      --exclude='*.opt-[12].pyc' \
      -cf - "bin/python$v" include "lib/libpython$v.so" "lib/libpython$v.so.1.0" lib/libpython3.so "$lib" \
    | tar -C "$root/usr/local" -xf -
  (cd "$prefix/$lib/site-packages" \
     && tar --exclude='*.opt-[12].pyc' -cf - pip pip-*.dist-info setuptools setuptools-*.dist-info \
          pkg_resources _distutils_hack distutils-precedence.pth) \
    | tar -C "$root/usr/local/$lib/site-packages" -xf -
  for n in python3 python; do ln -sf "python$v" "$root/usr/local/bin/$n"; done
  printf '#!/usr/local/bin/python%s\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' "$v" \
    > "$root/usr/local/bin/pip3"
  chmod 0755 "$root/usr/local/bin/pip3"
  ln -sf pip3 "$root/usr/local/bin/pip"
  [ -z "$prepare" ] || "$prepare" "$root"
  chroot "$root" /sbin/ldconfig
  chroot "$root" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, ensurepip, pip' \
    || die "the Python $v copied into $image does not start; see the error above"
  old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  tar -C "$root" -cf - . | docker import \
    --change "LABEL org.clarafl.inputs=$key" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "CMD [\"$cmd\"]" \
    - "$image" >/dev/null
  rm -rf "$tmp"
  # The image this one replaces, unless something still uses it.
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
  echo "build-images: built $image"
}

# The base the clara_image role's `build` source uses, as the official python:3.8-slim.
build_python38() {
  python_image python:3.8-slim "$py38_version" debian12-py38 "ca-certificates,$python_libs" python3
}

# The execution environment's base: Ansible needs the SSH client and the CA certificates at run time, and
# ansible-builder a package manager (ee-pkgmgr, which speaks apt).
ee_base_finish() {
  install -m 0755 "$here/ee-pkgmgr" "$1/usr/local/sbin/ee-pkgmgr"
  # Packages the build installs later bring no documentation but their copyright files.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    > "$1/etc/dpkg/dpkg.cfg.d/01-nodoc"
}

build_ee_base() {
  python_image clarafl/ee-base:bookworm-py3.11 "$py311_version" debian12-ee \
    "ca-certificates,openssh-client,$python_libs" bash ee_base_finish "$(sha256sum <"$here/ee-pkgmgr")"
}

case "$only" in
  all) build_systemd_host; build_python38 ;;
  systemd) build_systemd_host ;;
  python38) build_python38 ;;
  # Not part of all: only the execution environment needs it.
  ee-base) build_ee_base ;;
  *) die "usage: $0 [all|systemd|python38|ee-base]" ;;
esac
