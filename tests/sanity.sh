#!/usr/bin/env bash
# ansible-test sanity on this collection, offline. ansible-test wants the collection at
# .../ansible_collections/clarafl/federation, so a copy of the tracked files is laid out there.
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

rm -rf "$dest"
mkdir -p "$dest"
# Tracked and new (not ignored) files, without the link that points back at the tree.
git ls-files -z --cached --others --exclude-standard | grep -zvE '^(\.collections/|collections$|playbooks/collections$)' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar -C "$repo" --null -T - -cf - | tar -C "$dest" -xf -
cd "$dest"
git init -q . && git add -A >/dev/null
ansible-test sanity --local --python "$python" --requirements --color no "$@"
