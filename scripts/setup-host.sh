#!/usr/bin/env bash
# Prepares this machine to run the local federation and the tests: system packages,
# a running Docker engine, and the offline base images. Safe to run again.
set -euo pipefail

die() { echo "setup-host: $*" >&2; exit 1; }
need_pkgs=()
command -v docker >/dev/null || need_pkgs+=(docker.io)
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
command -v zip >/dev/null || need_pkgs+=(zip)
command -v unzip >/dev/null || need_pkgs+=(unzip)
# The Molecule default scenario and the become tests reach their hosts over SSH.
command -v ssh >/dev/null || need_pkgs+=(openssh-client)
command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]}: run as root or install them (apt-get install -y ${need_pkgs[*]})"
  echo "setup-host: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_pkgs[@]}" | sort -u) >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    # No systemd here: run the engine in the background, its log beside the others.
    [ "$(id -u)" = 0 ] || die "no Docker engine answers and starting one needs root"
    echo "setup-host: starting dockerd (log: /var/log/clarafl-dockerd.log)"
    setsid nohup dockerd >/var/log/clarafl-dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/clarafl-dockerd.log >&2 || true; die "dockerd did not come up in 60 s (log above)"; }
fi
echo "setup-host: Docker engine $(docker version -f '{{.Server.Version}}') is running"

"$(dirname "$0")/build-images.sh" "${1:-all}"
