#!/usr/bin/env bash
# Builds the execution environment clarafl/federation-ee:<collection version> from execution-environment.yml,
# with no container registry and no Galaxy:
#   1. its base image (build-images.sh ee-base),
#   2. the collection's tarball, built from the files git tracks or would track (no venv, no .cache),
#   3. the collections it depends on, copied from the ansible package in the venv (.venv-ee),
#   4. ansible-builder build with the Docker CLI,
# then prints the image's size and how long the build took.
#   scripts/build-ee.sh             build (layers whose inputs did not change come from the cache)
#   scripts/build-ee.sh --no-cache  build without cached layers
#   scripts/build-ee.sh clean       remove the image, its stages' images and .cache/ee
# Environment: EE_VENV (default .venv-ee: requirements-ee.txt), EE_IMAGE (default clarafl/federation-ee:<version>).
set -euo pipefail

die() { echo "build-ee: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${EE_VENV:-.venv-ee}
bin=$root/$venv/bin
work=.cache/ee
files=$work/files
context=$work/context
mode=${1:-build}

for tool in python ansible-builder ansible-galaxy; do
  [ -x "$bin/$tool" ] || die "$bin/$tool not found: make venv-ee (a venv with requirements-ee.txt at $venv)"
done
git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || die "$root is not a git checkout: the collection is built from the files git lists"
command -v docker >/dev/null || die "docker CLI not found: make host"
docker info >/dev/null 2>&1 || die "no Docker engine answers: make host"

version=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
image=${EE_IMAGE:-clarafl/federation-ee:$version}
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
# The untagged images of the build's intermediate stages (the builder's cache), and no others.
stage_images() { docker images -q --no-trunc -f dangling=true -f label=org.clarafl.ee-stage; }

case "$mode" in
  build) no_cache= ;;
  --no-cache) no_cache=1 ;;
  clean)
    stage=$(docker image inspect -f '{{ index .Config.Labels "org.clarafl.ee-stage" }}' "$image" 2>/dev/null || true)
    if [ "$stage" = final ]; then
      docker rmi "$image" >/dev/null && echo "build-ee: removed $image"
    fi
    stage_images | xargs -r docker rmi >/dev/null 2>&1 || true
    rm -rf "$work"
    exit 0
    ;;
  *) die "usage: $0 [--no-cache|clean]" ;;
esac

start=$(date +%s)

"$root/scripts/build-images.sh" ee-base

mkdir -p "$files/collections"

# The collection: built from a copy of what git would commit, so that no venv or cache ends up in the tarball.
# The tarball is replaced only when its content changed (its MANIFEST.json holds the checksum of every file), so
# that an unchanged collection keeps the build's cached layers.
rm -rf "$work/src" "$work/tarball"
mkdir -p "$work/src" "$work/tarball"
git ls-files -z --cached --others --exclude-standard \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -C "$work/src" -xf -
"$bin/ansible-galaxy" collection build "$work/src" --output-path "$work/tarball" >/dev/null
new=$work/tarball/clarafl-federation-$version.tar.gz
[ -s "$new" ] || die "ansible-galaxy collection build made no $new"
cur=$files/collections/clarafl-federation.tar.gz
if [ -s "$cur" ] && cmp -s <(tar -xzOf "$cur" MANIFEST.json) <(tar -xzOf "$new" MANIFEST.json); then
  echo "build-ee: clarafl.federation $version is unchanged"
else
  mv "$new" "$cur"
  echo "build-ee: built clarafl.federation $version"
fi
rm -rf "$work/src" "$work/tarball"

# The collections it depends on: the copies the ansible package bundles, one folder each, as
# execution-environment.yml lists them (type: dir).
"$bin/python" - "$files/collections" <<'PY'
import json, os, shutil, sys, sysconfig

import yaml

dest = sys.argv[1]
bundled = os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections")
wanted = [os.path.basename(c["name"])
          for c in yaml.safe_load(open("execution-environment.yml"))["dependencies"]["galaxy"]["collections"]
          if c.get("type") == "dir"]
for entry in os.listdir(dest):
    if entry not in wanted and os.path.isdir(os.path.join(dest, entry)):
        shutil.rmtree(os.path.join(dest, entry))
for fqcn in wanted:
    src = os.path.join(bundled, *fqcn.split(".", 1))
    if not os.path.isfile(os.path.join(src, "MANIFEST.json")):
        sys.exit("build-ee: %s is not among the collections of the ansible package in %s" % (fqcn, sys.prefix))
    out = os.path.join(dest, fqcn)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(src, "MANIFEST.json")) as fh:
        print("build-ee: %s %s from the ansible package" % (fqcn, json.load(fh)["collection_info"]["version"]))
PY

# pip inside the build trusts the CA bundle pip trusts here, and uses the package index configured here, if any.
ca=${PIP_CERT:-$("$bin/python" -m pip config get global.cert 2>/dev/null || true)}
ca=${ca:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$ca" ] || die "CA bundle $ca not found: set PIP_CERT to the bundle pip should trust"
index=${PIP_INDEX_URL:-$("$bin/python" -m pip config get global.index-url 2>/dev/null || true)}
case "$index" in
  file:*) index= ;;
  *@*) echo "build-ee: warning: the package index URL holds credentials; the image's layers keep a copy of it" >&2 ;;
esac
rm -rf "$files/pip"
mkdir -p "$files/pip"
install -m 0644 "$ca" "$files/pip/ca-bundle.crt"
# Owner-only: the index URL may hold credentials.
(
  umask 077
  {
    printf '[global]\ncert = /output/pip/ca-bundle.crt\n'
    [ -z "$index" ] || printf 'index-url = %s\n' "$index"
  } > "$files/pip/pip.conf"
)

# ansible-builder copies into the context what changed; a fresh context drops what was removed since.
rm -rf "$context"
old=$(image_id "$image")
build_start=$(date +%s)
# The build's steps on the terminal, its whole output in the log.
if ! "$bin/ansible-builder" build --container-runtime docker --file execution-environment.yml --context "$context" \
       --tag "$image" ${no_cache:+--no-cache} --verbosity 3 2>&1 \
     | tee "$work/build.log" | { grep --line-buffered -E '^Step [0-9]+/' || true; }; then
  tail -40 "$work/build.log" >&2
  die "ansible-builder build failed (its whole output: $work/build.log)"
fi
end=$(date +%s)
# The image this build replaced, unless a container still uses it, and the stages' images of earlier builds: the
# builder printed the id of each image this build made or took from its cache (" ---> 0123456789ab").
if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
used=$(grep -o -e '---> [0-9a-f]\{12\}' "$work/build.log" | cut -c6- | sort -u)
for id in $(stage_images); do
  short=${id#sha256:}
  grep -qxF "${short:0:12}" <<<"$used" || docker rmi "$id" >/dev/null 2>&1 || true
done

mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1000000}'; }
echo "build-ee: $image: $(mb "$image") (base clarafl/ee-base:bookworm-py3.11: $(mb clarafl/ee-base:bookworm-py3.11))"
echo "build-ee: built in $((end - start)) s (ansible-builder: $((end - build_start)) s)"
