#!/usr/bin/env bash
# ansible-test sanity, offline, on the collection as it ships: the tarball `ansible-galaxy collection build`
# makes, installed at .../ansible_collections/clarafl/federation where ansible-test wants it. The build must
# warn of nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${SANITY_PYTHON:-$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
work=${CLARAFL_CACHE:-$HOME/.cache/clarafl}/sanity
dest=$work/ansible_collections/clarafl/federation

# ansible-test bootstraps pip in its venvs with a script it downloads; offline, a stand-in
# that uses the interpreter's own ensurepip does the same job.
pip_version=$(python - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cat > "$cache" <<'PY'
# Stand-in for the get-pip bootstrap script ansible-test downloads (not reachable offline).
import subprocess
import sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY

rm -rf "$work"
mkdir -p "$work/dist"
ansible-galaxy collection build --output-path "$work/dist" "$repo" 2>&1 | tee "$work/build.log"
if grep -q 'WARNING' "$work/build.log"; then
  echo "sanity: ansible-galaxy collection build warned (above): fix galaxy.yml or build_ignore" >&2
  exit 1
fi
# What `ansible-galaxy collection install` lays out: the tarball's content in the collection's folder.
mkdir -p "$dest"
tar -C "$dest" -xzf "$work"/dist/clarafl-federation-*.tar.gz
cd "$dest"
git init -q . && git add -A >/dev/null
ansible-test sanity --local --python "$python" --requirements --color no "$@"
