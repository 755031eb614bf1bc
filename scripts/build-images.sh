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
  key=$(printf '%s\n' "$pkgs" "$(sha256sum "$0")" | sha256sum | cut -c1-16)
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

build_python38() {
  local image=python:3.8-slim prefix pkgs key tar tmp
  if ! prefix=$(pyenv prefix "$py38_version" 2>/dev/null); then
    prefix=/root/.pyenv/versions/$py38_version
  fi
  [ -x "$prefix/bin/python3.8" ] || die "CPython $py38_version not found (looked in $prefix): install it with 'pyenv install $py38_version'"
  pkgs=ca-certificates,libbz2-1.0,libcrypt1,libssl3,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2,libreadline8,libsqlite3-0,libtirpc3,libuuid1,zlib1g
  key=$(printf '%s\n' "$pkgs" "$("$prefix/bin/python3.8" -VV)" "$(sha256sum "$0")" | sha256sum | cut -c1-16)
  if [ "$(label_of "$image")" = "$key" ]; then
    echo "build-images: $image is up to date"
    return
  fi
  tar=$(rootfs debian12-py38 "$pkgs")
  tmp=$(mktemp -d "$cache/py38.XXXXXX")
  mkdir -p "$tmp/root"
  tar -C "$tmp/root" -xf "$tar"
  # Lay CPython out as the official image does: under /usr/local, libpython found through ld.so.cache.
  tar -C "$prefix" --exclude='lib/python3.8/test' --exclude='lib/python3.8/idlelib' \
      --exclude='lib/python3.8/tkinter' --exclude='lib/python3.8/lib2to3/tests' \
      --exclude='lib/python3.8/site-packages/*' -cf - bin include lib share 2>/dev/null \
    | tar -C "$tmp/root/usr/local" -xf -
  "$prefix/bin/python3.8" - "$prefix" "$tmp/root/usr/local/lib/python3.8/site-packages" <<'PY'
import os, shutil, sys
src = os.path.join(sys.argv[1], "lib", "python3.8", "site-packages")
dst = sys.argv[2]
os.makedirs(dst, exist_ok=True)
# Only pip and setuptools: the image must not inherit whatever this machine installed.
for name in os.listdir(src):
    base = name.split("-")[0].lower()
    if base in ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "pkg_resources"):
        path = os.path.join(src, name)
        (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, os.path.join(dst, name))
PY
  # pyenv's scripts point at its own prefix; the image's point at /usr/local.
  grep -rlI "^#!$prefix/bin/python" "$tmp/root/usr/local/bin" 2>/dev/null \
    | xargs -r sed -i "1s|^#!$prefix/bin/python.*|#!/usr/local/bin/python3.8|"
  for n in python3 python; do ln -sf python3.8 "$tmp/root/usr/local/bin/$n"; done
  [ -e "$tmp/root/usr/local/bin/pip3" ] || printf '#!/usr/local/bin/python3.8\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' > "$tmp/root/usr/local/bin/pip3"
  [ -e "$tmp/root/usr/local/bin/pip" ] || ln -sf pip3 "$tmp/root/usr/local/bin/pip"
  chmod 0755 "$tmp/root/usr/local/bin/pip3"
  chroot "$tmp/root" /sbin/ldconfig
  chroot "$tmp/root" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib' \
    || die "the Python $py38_version copied into $image does not start; see the error above"
  tar -C "$tmp/root" -cf - . | docker import \
    --change "LABEL org.clarafl.inputs=$key" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    - "$image" >/dev/null
  rm -rf "$tmp"
  echo "build-images: built $image"
}

build_ee_base() {
  local image=clarafl/ee-base:bookworm-py3.11 prefix pkgs key tar tmp lib old
  if ! prefix=$(pyenv prefix "$py311_version" 2>/dev/null); then
    prefix=/root/.pyenv/versions/$py311_version
  fi
  [ -x "$prefix/bin/python3.11" ] \
    || die "CPython $py311_version not found (looked in $prefix): install it with 'pyenv install $py311_version'"
  # What CPython's modules link to, and what Ansible needs at run time: the SSH client and the CA certificates.
  pkgs=ca-certificates,openssh-client,libbz2-1.0,libcrypt1,libssl3,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2
  pkgs=$pkgs,libreadline8,libsqlite3-0,libtirpc3,libuuid1,zlib1g
  # Only this function and the package manager script count: other targets' changes do not rebuild it.
  key=$(printf '%s\n' "$pkgs" "$("$prefix/bin/python3.11" -VV)" "$(declare -f build_ee_base)" \
          "$(sha256sum <"$here/ee-pkgmgr")" | sha256sum | cut -c1-16)
  if [ "$(label_of "$image")" = "$key" ]; then
    echo "build-images: $image is up to date"
    return
  fi
  tar=$(rootfs debian12-ee "$pkgs")
  tmp=$(mktemp -d "$cache/ee-base.XXXXXX")
  mkdir -p "$tmp/root"
  tar -C "$tmp/root" -xf "$tar"
  # No downloaded packages, no translations (LANG is C.UTF-8).
  rm -rf "$tmp/root"/var/cache/apt/archives/*.deb "$tmp/root"/usr/share/locale/*
  # CPython under /usr/local: the interpreter, its library (no tests, IDLE, Tk, static library, bytecode for -O)
  # and, of the packages this machine installed, pip and setuptools only.
  lib=lib/python3.11
  tar -C "$prefix" --exclude="$lib/test" --exclude="$lib/idlelib" --exclude="$lib/tkinter" \
      --exclude="$lib/lib2to3/tests" --exclude="$lib/config-3.11-*/*.a" --exclude="$lib/site-packages/*" \
      --exclude='*.opt-[12].pyc' \
      -cf - bin/python3.11 lib/libpython3.11.so lib/libpython3.11.so.1.0 lib/libpython3.so "$lib" \
    | tar -C "$tmp/root/usr/local" -xf -
  (cd "$prefix/$lib/site-packages" \
     && tar --exclude='*.opt-[12].pyc' -cf - pip pip-*.dist-info setuptools setuptools-*.dist-info \
          pkg_resources _distutils_hack distutils-precedence.pth) \
    | tar -C "$tmp/root/usr/local/$lib/site-packages" -xf -
  for n in python3 python; do ln -sf python3.11 "$tmp/root/usr/local/bin/$n"; done
  printf '#!/usr/local/bin/python3.11\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' \
    > "$tmp/root/usr/local/bin/pip3"
  chmod 0755 "$tmp/root/usr/local/bin/pip3"
  ln -sf pip3 "$tmp/root/usr/local/bin/pip"
  install -m 0755 "$here/ee-pkgmgr" "$tmp/root/usr/local/sbin/ee-pkgmgr"
  # Packages the build installs later bring no documentation but their copyright files.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' > "$tmp/root/etc/dpkg/dpkg.cfg.d/01-nodoc"
  chroot "$tmp/root" /sbin/ldconfig
  chroot "$tmp/root" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, ensurepip, pip' \
    || die "the Python $py311_version copied into $image does not start; see the error above"
  old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  tar -C "$tmp/root" -cf - . | docker import \
    --change "LABEL org.clarafl.inputs=$key" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$image" >/dev/null
  rm -rf "$tmp"
  # The image this one replaces, unless something still uses it.
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
  echo "build-images: built $image"
}

case "$only" in
  all) build_systemd_host; build_python38 ;;
  systemd) build_systemd_host ;;
  python38) build_python38 ;;
  # Not part of all: only the execution environment needs it.
  ee-base) build_ee_base ;;
  *) die "usage: $0 [all|systemd|python38|ee-base]" ;;
esac
