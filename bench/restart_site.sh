#!/usr/bin/env bash
# One site restarted by the admin console until it trains again, on a federation that is up and whose last run
# is over (the collection's, after site.yml; baseline.sh does the same on its own with --restart-site):
#
#   bench/restart_site.sh --admin-kit DIR --admin EMAIL --site NAME --sites N --mmar NAME --run N
#                         --project NAME [--image IMAGE] [--timings FILE] [--timeout SECONDS]
#
# As a person does it in the admin console (the kit's fl_admin.sh in a container, bench/console.sh): starts run N
# (deploy to the server and every site, start server, start client) and waits until SITE trains; then
# `restart client SITE` (mark restart_sent), waits until SITE answers the server with a new token (site_answering),
# `deploy MMAR client SITE`, `start client SITE`, and waits until it trains again (site_training); then aborts the
# run. Every wait ends after --timeout seconds (120) with a sentence. The marks (epoch seconds) go to --timings as
# JSON, as baseline.sh writes them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
admin_kit=""
admin_email=""
site=""
sites=""
mmar=""
run=""
project=""
image=clarafl/clara-train-cpu:4.0
timings=""
wait_timeout=120

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --admin-kit) admin_kit=$2; shift 2 ;;
    --admin) admin_email=$2; shift 2 ;;
    --site) site=$2; shift 2 ;;
    --sites) sites=$2; shift 2 ;;
    --mmar) mmar=$2; shift 2 ;;
    --run) run=$2; shift 2 ;;
    --project) project=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --timings) timings=$2; shift 2 ;;
    --timeout) wait_timeout=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "restart_site.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for name in admin_kit admin_email site sites mmar run project; do
  [ -n "${!name}" ] || { echo "restart_site.sh: --${name//_/-} is needed" >&2; usage >&2; exit 2; }
done
[[ $sites =~ ^[1-9][0-9]*$ && $run =~ ^[1-9][0-9]*$ && $wait_timeout =~ ^[1-9][0-9]*$ ]] \
  || { echo "restart_site.sh: --sites, --run and --timeout take positive numbers" >&2; exit 2; }
[ -f "$admin_kit/startup/fl_admin.sh" ] || { echo "restart_site.sh: no admin kit at $admin_kit" >&2; exit 2; }

declare -A marks=()
order=()
mark() { marks[$1]=$EPOCHREALTIME; order+=("$1"); echo "[restart $project] $(date -u +%H:%M:%S) $1"; }
error=""
label=org.clarafl.bench-restart=$project
write_timings() {
  [ -n "$timings" ] || return 0
  local e=${error//\\/\\\\} sep="" name
  e=${e//\"/\\\"}
  e=${e//$'\n'/\\n}
  {
    printf '{"tool": "restart", "project": "%s", "site": "%s", "ok": %s, "error": "%s", "marks": {' \
      "$project" "$site" "$([ -z "$error" ] && echo true || echo false)" "$e"
    for name in "${order[@]}"; do printf '%s"%s": %s' "$sep" "$name" "${marks[$name]}"; sep=", "; done
    printf '}}\n'
  } >"$timings"
}
fail() {
  error=$*
  echo "restart_site.sh: $*" >&2
  exit 1
}
# shellcheck source=bench/console.sh
. "$here/console.sh"
CONSOLE_REPLY_WAIT=$wait_timeout
on_exit() {
  local rc=$?
  console_close
  docker rm -f "$project-restart-admin" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ] && [ -z "$error" ]; then error="exit status $rc"; fi
  write_timings
  exit "$rc"
}
trap on_exit EXIT
# A command that fails unexpectedly (set -e) is named, so that no run ends without a sentence.
set -E
trap '[ -n "$error" ] || error="unexpected failure at line $LINENO of restart_site.sh: $BASH_COMMAND"' ERR

log=$(mktemp "${TMPDIR:-/tmp}/restart-console.XXXXXX")
mark start
console_open "$project-restart-admin" "$label" "$admin_kit" "$image" "$admin_email" "$log"
restart_phase "$site" "$mmar" "$run" "$sites"
echo "[restart $project] $site trained again $(awk "BEGIN { printf \"%.1f\", ${marks[site_training]} - ${marks[restart_sent]} }") s after restart client"
console_close
rm -f "$log"
