#!/usr/bin/env bash
# The changelog's sources are well formed and CHANGELOG.rst is what they say (antsibull-changelog).
set -euo pipefail
cd "$(dirname "$0")/.."
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
committed=$(mktemp)
trap 'cp "$committed" CHANGELOG.rst; rm -f "$committed"' EXIT
cp CHANGELOG.rst "$committed"
antsibull-changelog generate
if ! cmp -s CHANGELOG.rst "$committed"; then
  diff -u "$committed" CHANGELOG.rst | head -40 >&2 || true
  echo "changelog: CHANGELOG.rst is not what changelogs/changelog.yaml says: run antsibull-changelog generate" >&2
  exit 1
fi
echo "changelog: CHANGELOG.rst is current"
