#!/usr/bin/env bash
# The benchmark in one command: bench/run.sh [--sites 3,10,20] [--rounds 3] [bench.py options]
# (bench/bench.py --help lists them). Needs a running Docker engine, the Clara image
# clarafl/clara-train-cpu:4.0 and the project venv (.venv, `make venv`). It keeps its own venv,
# bench/.venv, with bench/requirements.txt (matplotlib), remade when that file changes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cd "$repo"

if ! docker info >/dev/null 2>&1; then
  echo "bench: no Docker engine answers: run scripts/setup-host.sh first" >&2
  exit 2
fi
if [ ! -x "$repo/.venv/bin/ansible-playbook" ]; then
  echo "bench: the project venv is missing: run make venv first" >&2
  exit 2
fi

venv=$here/.venv
stamp=$venv/.installed-$(sha256sum "$here/requirements.txt" | cut -c1-16)
if [ ! -f "$stamp" ] || ! "$venv/bin/python" -c 'import matplotlib, yaml' >/dev/null 2>&1; then
  python=${BENCH_PYTHON:-$(command -v python3)}
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
  touch "$stamp"
fi
exec "$venv/bin/python" "$here/bench.py" "$@"
