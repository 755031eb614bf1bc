#!/usr/bin/env bash
# The runbook's steps as a plain bash script, without Ansible: the benchmark's baseline.
#
#   bench/baseline.sh --sites 3 --rounds 3 [--timings FILE] [--keep] [--restart-site]
#
# On this machine's Docker engine, with the Clara image already present, it does what the runbook
# (../shared/seed, "Project config" to "Start Training") has a person type, and nothing more:
#   1. write project.yml and authz_config.json (cn localhost, every org relaxed);
#   2. run the provisioner in the Clara image (COLUMNS wide enough for its password table);
#   3. read the passwords off its output and `unzip -P` each kit;
#   4. write each site's share of the demo data (the data the collection's demo writes; one
#      container for all sites) and copy the demo MMAR into the admin's transfer folder with
#      num_rounds and min_num_clients set ("Missing Config Files");
#   5. `docker run -d` the server with its kit's start.sh, wait until it listens, then each client;
#   6. the admin console (startup/fl_admin.sh, fed on stdin): check_status client until every site
#      answers, set_run_number 1, upload_folder, deploy server, deploy client, start server,
#      start client ("training started" = the moment `start client` returns), then
#      check_status server once a second until the run has stopped ("all rounds done");
#   7. with --restart-site: run 2, then `restart client <first site>` and what a person does to bring the
#      site back (bench/console.sh restart_phase): its marks restart_sent, site_answering, site_training.
# It uses the collection's demo MMAR and demo data and the same number of rounds, its own project
# name, container names (clarafl_base<N>-*) and ports (8312/8313), and removes its containers and
# files at the end (unless --keep). Timestamps (epoch seconds) of every step go to --timings as JSON.
# Every wait ends with a sentence: --timeout (300 s) for the server, the sites and each console reply, and
# --stall (180 s) without a new round while training. The work folder is its own: it is made with a marker
# (.clarafl-bench-baseline) and only what the script made in a folder with that marker is removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

sites=3
rounds=3
project=""
fed_port=8312
admin_port=8313
image=clarafl/clara-train-cpu:4.0
work=""
timings=""
keep=false
cleanup_only=false
restart_site=false
wait_timeout=300
stall_timeout=180
admin_email=admin@clarafl.base
sites_per_org=2
marker_name=.clarafl-bench-baseline
# What the script makes in its work folder, and nothing else is removed there.
made_entries=(provisioning kits data admin-console.log)

usage() {
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  cat <<EOF
options: --sites N (3) --rounds N (3) --project NAME (clarafl_base<N>) --fed-port (8312) --admin-port (8313)
         --image IMAGE ($image) --work DIR (bench/work/baseline/<project>) --timings FILE
         --timeout SECONDS per wait ($wait_timeout) --stall SECONDS without a new round ($stall_timeout)
         --restart-site (then measure one site restarted by the admin console until it trains again)
         --keep (leave containers and files) --cleanup (only remove them)
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --sites) sites=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --project) project=$2; shift 2 ;;
    --fed-port) fed_port=$2; shift 2 ;;
    --admin-port) admin_port=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --timings) timings=$2; shift 2 ;;
    --timeout) wait_timeout=$2; shift 2 ;;
    --stall) stall_timeout=$2; shift 2 ;;
    --restart-site) restart_site=true; shift ;;
    --keep) keep=true; shift ;;
    --cleanup) cleanup_only=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "baseline.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $sites =~ ^[1-9][0-9]*$ ]] || { echo "baseline.sh: --sites must be a positive number" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "baseline.sh: --rounds must be a positive number" >&2; exit 2; }
for value in "$wait_timeout" "$stall_timeout"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] || { echo "baseline.sh: --timeout and --stall take seconds (a positive number)" >&2; exit 2; }
done
project=${project:-clarafl_base$sites}
work=${work:-$repo/bench/work/baseline/$project}
[[ $work == /* ]] || work=$(pwd)/$work
work=${work%/}
label=org.clarafl.bench=$project
marker=$work/$marker_name

declare -A marks=()
order=()
mark() { marks[$1]=$EPOCHREALTIME; order+=("$1"); echo "[baseline $project] $(date -u +%H:%M:%S) $1"; }

error=""
rounds_done=0
write_timings() {
  [ -n "$timings" ] || return 0
  {
    printf '{"tool": "baseline", "project": "%s", "sites": %d, "rounds": %d, "rounds_done": %d,\n' \
      "$project" "$sites" "$rounds" "$rounds_done"
    local e=${error//\\/\\\\}
    e=${e//\"/\\\"}
    e=${e//$'\n'/\\n}
    e=${e//$'\t'/ }
    e=${e//$'\r'/}
    printf ' "ok": %s, "error": "%s",\n' "$([ -z "$error" ] && echo true || echo false)" "$e"
    printf ' "marks": {'
    local sep=""
    for name in "${order[@]}"; do printf '%s"%s": %s' "$sep" "$name" "${marks[$name]}"; sep=", "; done
    printf '}}\n'
  } >"$timings"
}

# The work folder is the script's when it holds the marker naming this project: "project=<name> created=<bool>".
work_owner() { if [ -f "$marker" ]; then sed -n 's/^project=//p' "$marker" | head -1; fi; }

# Only what this script made: the project's containers (by label) and, in a work folder marked as this
# project's, the entries it writes there; with "release", the marker too, and the folder itself when the
# script made it and it is then empty.
cleanup() {
  local ids owner entry
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  [ -e "$work" ] || return 0
  owner=$(work_owner)
  if [ "$owner" != "$project" ]; then
    if [ -n "$owner" ]; then
      echo "baseline.sh: left $work alone: it is the work folder of $owner, not of $project" >&2
    else
      echo "baseline.sh: left $work alone: baseline.sh did not make it (no $marker_name in it)" >&2
    fi
    return 1
  fi
  for entry in "${made_entries[@]}"; do rm -rf "${work:?}/$entry"; done
  [ "${1:-}" = release ] || return 0
  if grep -qx 'created=true' "$marker"; then
    rm -f "$marker"
    rmdir "$work" 2>/dev/null || echo "baseline.sh: kept $work: it holds files baseline.sh did not make" >&2
  else
    rm -f "$marker"
  fi
}

if $cleanup_only; then cleanup release; exit $?; fi
mark start

fail() {
  error=$*
  echo "baseline.sh: $*" >&2
  exit 1
}

# shellcheck source=bench/console.sh
. "$here/console.sh"
CONSOLE_REPLY_WAIT=$wait_timeout
CONSOLE_STALL_WAIT=$stall_timeout

on_exit() {
  local rc=$?
  console_close
  if [ "$rc" != 0 ] && [ -z "$error" ]; then error="exit status $rc"; fi
  write_timings
  if ! $keep && $work_claimed; then cleanup release || true; fi
  exit "$rc"
}
work_claimed=false
trap on_exit EXIT
# A command that fails unexpectedly (set -e) is named, so that no run ends without a sentence.
set -E
trap '[ -n "$error" ] || error="unexpected failure at line $LINENO of baseline.sh: $BASH_COMMAND"' ERR

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The work folder: a new one (made and marked here), or one this script marked for this project earlier.
if [ -e "$work" ] && [ "$(work_owner)" != "$project" ]; then
  if [ ! -d "$work" ] || [ -n "$(ls -A "$work")" ]; then
    fail "--work $work exists and is not a work folder of baseline.sh for $project (no $marker_name naming it): name a new folder"
  fi
  printf 'project=%s\ncreated=false\n' "$project" >"$marker"
elif [ ! -e "$work" ]; then
  mkdir -p "$work"
  printf 'project=%s\ncreated=true\n' "$project" >"$marker"
fi
work_claimed=true
# A clean start: nothing of this project (what an earlier run of it left), and the ports free.
cleanup
for port in "$fed_port" "$admin_port"; do
  if listening "$port"; then fail "port $port is in use: stop what listens there or pick other ports"; fi
done
docker image inspect "$image" >/dev/null 2>&1 || fail "the image $image is not on this machine"
command -v unzip >/dev/null || fail "unzip is not installed (apt-get install unzip)"

names=()
for ((i = 1; i <= sites; i++)); do names+=("$(printf 'site%0*d' $(( ${#sites} > 2 ? ${#sites} : 2 )) "$i")"); done
org_of() { echo "org$(( $1 / sites_per_org + 1 ))"; }

prov=$work/provisioning
kits=$work/kits
data=$work/data
mkdir -p "$prov" "$kits" "$data"
if grep -qx 'created=true' "$marker"; then chmod 700 "$work"; fi

# --- 1. Project config ---------------------------------------------------------------------------
{
  cat <<EOF
name: $project
he:
  lib: tenseal
  config:
    poly_modulus_degree: 8192
    coeff_mod_bit_sizes: [60, 40, 40]
    scale_bits: 40
    scheme: CKKS
config_folder: config
server:
  org: clarafl
  cn: localhost
  fed_learn_port: $fed_port
  admin_port: $admin_port
  admin_storage: transfer
  min_num_clients: 1
  max_num_clients: 100
  auth: true
  config_validator:
fl_clients:
EOF
  for i in "${!names[@]}"; do printf -- '- org: %s\n  client_name: %s\n' "$(org_of "$i")" "${names[$i]}"; done
  cat <<EOF
admin_clients:
- org: clarafl
  email: $admin_email
EOF
} >"$prov/project.yml"

orgs="\"clarafl\": [\"relaxed\", \"general\"]"
sitemap="\"server\": \"clarafl\""
last_org=""
for i in "${!names[@]}"; do
  org=$(org_of "$i")
  [ "$org" = "$last_org" ] || orgs+=", \"$org\": [\"relaxed\", \"general\"]"
  last_org=$org
  sitemap+=", \"${names[$i]}\": \"$org\""
done
cat >"$prov/authz_config.json" <<EOF
{
  "version": "1.0",
  "roles": {"super": "super user of system", "lead_researcher": "lead researcher of the study",
            "site_researcher": "site researcher of the study", "site_it": "site IT of the study",
            "lead_it": "lead IT of the study"},
  "groups": {
    "relaxed": {"desc": "org group with relaxed policies", "rules": {"allow_byoc": true, "allow_custom_datalist": true}},
    "strict": {"desc": "org group with strict policies", "rules": {"allow_byoc": false, "allow_custom_datalist": false}},
    "general": {"desc": "general group user rights",
                "role_rights": {"super": {}, "lead_researcher": {"train_all": true, "view_all": true},
                                "site_researcher": {"train_self": true, "view_self": true},
                                "lead_it": {"operate_all": true, "view_all": true},
                                "site_it": {"operate_self": true, "view_self": true}}}
  },
  "users": {"$admin_email": {"org": "clarafl", "roles": ["super"]}},
  "orgs": {$orgs},
  "sites": {$sitemap}
}
EOF
mark project_written

# --- 2. Provisioning -----------------------------------------------------------------------------
docker run --rm --name "$project-provision" --label "$label" --network none -e COLUMNS=250 \
  -v "$prov:/workspace" -w /workspace "$image" \
  sh -c 'umask 077; exec provision -p project.yml -a authz_config.json -t audit.pkl -o packages' \
  >"$prov/provision.log" 2>&1 || fail "the provisioner failed: see $prov/provision.log"
mark provisioned

# --- 3. Passwords off the screen, unzip -P each kit -----------------------------------------------
declare -A passwords=()
while read -r password zip; do
  passwords[$zip]=$password
done < <(grep -E '^│ [A-Za-z0-9]+ +│ [^ ]+\.zip ' "$prov/provision.log" \
           | awk -F'│' '{gsub(/ /, "", $2); gsub(/ /, "", $3); print $2, $3}')
unzip_kit() {
  local zip=$1 dest=$2
  [ -n "${passwords[$zip]:-}" ] || fail "no password for $zip in $prov/provision.log"
  unzip -q -o -P "${passwords[$zip]}" "$prov/packages/$zip" -d "$dest"
}
unzip_kit server.zip "$kits/server"
for name in "${names[@]}"; do unzip_kit "$name.zip" "$kits/$name"; done
unzip_kit "$admin_email.zip" "$kits/admin"
mark kits_extracted

# --- 4. Data for each site, and the MMAR with its federated configs -------------------------------
# shellcheck disable=SC2016
docker run --rm --name "$project-data" --label "$label" --network none \
  -v "$repo/roles/fl_client/files:/demo:ro" -v "$data:/data" "$image" \
  python3 -c 'import sys; sys.path.insert(0, "/demo"); import demo_data
n = len(sys.argv) - 1
for i, name in enumerate(sys.argv[1:]):
    assert demo_data.main(["--site-index", str(i), "--num-sites", str(n), "--out", "/data/" + name]) == 0' \
  "${names[@]}" >/dev/null || fail "writing the demo data failed"
mmar=$kits/admin/transfer/clarafl_demo
mkdir -p "$kits/admin/transfer"
cp -r "$repo/roles/fl_admin/files/demo_mmar" "$mmar"
sed -i -E "s/(\"num_rounds\": )[0-9]+/\1$rounds/; s/(\"min_num_clients\": )[0-9]+/\1$sites/" \
  "$mmar/config/config_fed_server.json"
mark data_written

# --- 5. Server, then clients ---------------------------------------------------------------------
run_kit() {  # name, kit dir, mount point, extra docker args...
  local name=$1 kit=$2 mount=$3
  shift 3
  docker run -d --init --name "$project-$name" --label "$label" \
    --net=host --ipc=host --shm-size=1g --ulimit stack=67108864 \
    -v "$kit:$mount" "$@" "$image" \
    bash -c "cd $mount/startup && ./start.sh && exec sleep infinity" >/dev/null
}
run_kit server "$kits/server" /workspace/server
deadline=$((SECONDS + wait_timeout))
until listening "$fed_port" && listening "$admin_port"; do
  [ $SECONDS -lt $deadline ] || fail "the server did not listen on $fed_port/$admin_port within $wait_timeout s"
  sleep 0.5
done
mark server_listening
for name in "${names[@]}"; do
  run_kit "$name" "$kits/$name" /workspace/site -v "$data/$name:/workspace/data:ro"
done
mark clients_started

# --- 6. Admin console ----------------------------------------------------------------------------
console_open "$project-admin" "$label" "$kits/admin" "$image" "$admin_email" "$work/admin-console.log"

deadline=$((SECONDS + wait_timeout))
while :; do
  console "check_status client"
  [ "$(count 'client name: .*status: ')" -ge "$sites" ] && break
  [ $SECONDS -lt $deadline ] || fail "not every site answered check_status client within $wait_timeout s: $(count 'client name: .*status: ') of $sites did"
  sleep 1
done
mark sites_answering

console "set_run_number 1"
console "upload_folder clarafl_demo"
deploy_run clarafl_demo "$sites"
mark deployed
start_run "$sites"
mark training_started
wait_run_end 1
mark all_rounds_done

metrics=$kits/server/run_1/metrics.jsonl
if [ -f "$metrics" ]; then
  rounds_done=$(grep -o '"round": [0-9]*' "$metrics" | awk '{ if ($2 > max) max = $2 } END { print max + 0 }')
fi
[ "$rounds_done" -ge "$rounds" ] || fail "the server recorded $rounds_done of $rounds rounds in $metrics"
echo "[baseline $project] trained $rounds_done round(s) on $sites site(s)"

# --- 7. One site restarted by the admin console, until it trains again -----------------------------
if $restart_site; then
  # The runbook's part is done: a failure from here on fails the restart figure only (bench.py).
  mark restart_phase
  restart_phase "${names[0]}" clarafl_demo 2 "$sites"
  echo "[baseline $project] ${names[0]} trained again $(awk "BEGIN { printf \"%.1f\", ${marks[site_training]} - ${marks[restart_sent]} }") s after restart client"
fi
console_close
