#!/usr/bin/env bash
# The runbook's steps as a plain bash script, without Ansible: the benchmark's baseline.
#
#   bench/baseline.sh --sites 3 --rounds 3 [--timings FILE] [--keep]
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
#      check_status server once a second until the run has stopped ("all rounds done").
# It uses the collection's demo MMAR and demo data and the same number of rounds, its own project
# name, container names (clarafl_base<N>-*) and ports (8312/8313), and removes its containers and
# files at the end (unless --keep). Timestamps (epoch seconds) of every step go to --timings as JSON.
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
wait_timeout=1800
admin_email=admin@clarafl.base
sites_per_org=2

usage() {
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  cat <<EOF
options: --sites N (3) --rounds N (3) --project NAME (clarafl_base<N>) --fed-port (8312) --admin-port (8313)
         --image IMAGE ($image) --work DIR (bench/work/baseline/<project>) --timings FILE
         --timeout SECONDS per wait ($wait_timeout) --keep (leave containers and files) --cleanup (only remove them)
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
    --keep) keep=true; shift ;;
    --cleanup) cleanup_only=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "baseline.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $sites =~ ^[1-9][0-9]*$ ]] || { echo "baseline.sh: --sites must be a positive number" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "baseline.sh: --rounds must be a positive number" >&2; exit 2; }
project=${project:-clarafl_base$sites}
work=${work:-$repo/bench/work/baseline/$project}
label=org.clarafl.bench=$project

declare -A marks=()
order=()
mark() { marks[$1]=$EPOCHREALTIME; order+=("$1"); echo "[baseline $project] $(date -u +%H:%M:%S) $1"; }
mark start

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

cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  rm -rf "$work"
}

if $cleanup_only; then cleanup; exit 0; fi

fail() {
  error=$*
  echo "baseline.sh: $*" >&2
  exit 1
}

on_exit() {
  local rc=$?
  if [ -n "${ADMIN_PID:-}" ]; then
    { printf 'bye\n' >&"$admin_in"; } 2>/dev/null || true
    kill "$ADMIN_PID" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -z "$error" ]; then error="exit status $rc"; fi
  write_timings
  if ! $keep; then cleanup; fi
  exit "$rc"
}
trap on_exit EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A clean start: nothing of this project, and the ports free.
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
chmod 700 "$work"

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
console_log=$work/admin-console.log
coproc ADMIN {
  exec docker run -i --rm --name "$project-admin" --label "$label" --net=host -e PYTHONUNBUFFERED=1 \
    -v "$kits/admin:/workspace/admin" "$image" bash /workspace/admin/startup/fl_admin.sh 2>&1
}
admin_in=${ADMIN[1]}
admin_out=${ADMIN[0]}

reply=""
read_until() {  # pattern, timeout per line
  local pattern=$1 timeout=$2 line
  reply=""
  while IFS= read -r -t "$timeout" line <&"$admin_out"; do
    reply+=$line$'\n'
    printf '%s\n' "$line" >>"$console_log"
    [[ $line == *"$pattern"* ]] && return 0
  done
  return 1
}
console() {  # command [timeout]: send one command, read its reply up to "Done [...]"
  printf '%s\n' "$1" >>"$console_log"
  printf '%s\n' "$1" >&"$admin_in"
  read_until "Done [" "${2:-300}" || fail "the admin console gave no answer to '$1' (see $console_log)"
}
count() { grep -c -E "$1" <<<"$reply" || true; }

printf '%s\n' "$admin_email" >&"$admin_in"
read_until "Type ? to list commands" 120 || fail "the admin console did not log in (see $console_log)"

deadline=$((SECONDS + wait_timeout))
while :; do
  console "check_status client"
  [ "$(count 'client name: .*status: ')" -ge "$sites" ] && break
  [ $SECONDS -lt $deadline ] || fail "not every site answered check_status client within $wait_timeout s"
  sleep 1
done
mark sites_answering

console "set_run_number 1"
console "upload_folder clarafl_demo"
console "deploy clarafl_demo server"
[ "$(count 'deployed')" -ge 1 ] || fail "deploy clarafl_demo server failed: $reply"
for attempt in 1 2 3; do
  console "deploy clarafl_demo client"
  [ "$(count 'MMAR deployed')" -ge "$sites" ] && break
  [ "$attempt" -lt 3 ] || fail "deploy clarafl_demo client reached only some sites: $reply"
  sleep 1
done
mark deployed
console "start server"
[ "$(count 'starting')" -ge 1 ] || fail "start server failed: $reply"
console "start client"
if [ "$(count 'Start the client')" -lt "$sites" ]; then
  # A busy site may answer "No replies" although it starts: its status tells, and a site that is
  # still idle gets its own start once more (the collection's console module does the same).
  late=$(grep -E '^(> )?instance:[^:]* ?: No replies' <<<"$reply" | sed -E 's/^(> )?instance:([^ :]*) ?:.*/\2/' | tr '\n' ' ')
  [ -n "$late" ] && [ "$(count 'instance:.*: ')" -eq "$(( $(count 'Start the client') + $(count 'No replies') ))" ] \
    || fail "start client did not start every site: $reply"
  started=false
  for attempt in $(seq 1 30); do
    console "check_status client"
    idle=""
    for site in $late; do grep -q "client name: $site.*status: training started" <<<"$reply" || idle+="$site "; done
    [ -z "$idle" ] && { started=true; break; }
    [ "$attempt" = 10 ] && console "start client $idle"
    sleep 1
  done
  $started || fail "start client did not start sites $late (see $console_log)"
fi
mark training_started

started=$SECONDS
seen_started=false
deadline=$((SECONDS + wait_timeout))
while :; do
  console "check_status server"
  if grep -q "FL server status: training started" <<<"$reply"; then seen_started=true; fi
  if grep -q "FL server status: training stopped" <<<"$reply" && { $seen_started || [ $((SECONDS - started)) -gt 60 ]; }; then
    break
  fi
  [ $SECONDS -lt $deadline ] || fail "run 1 had not finished after $wait_timeout s"
  sleep 1
done
mark all_rounds_done
printf 'bye\n' >&"$admin_in"

metrics=$kits/server/run_1/metrics.jsonl
if [ -f "$metrics" ]; then
  rounds_done=$(grep -o '"round": [0-9]*' "$metrics" | awk '{ if ($2 > max) max = $2 } END { print max + 0 }')
fi
[ "$rounds_done" -ge "$rounds" ] || fail "the server recorded $rounds_done of $rounds rounds in $metrics"
echo "[baseline $project] trained $rounds_done round(s) on $sites site(s)"
