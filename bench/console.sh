# shellcheck shell=bash
# The admin console as a person uses it (the kit's startup/fl_admin.sh in a container of the Clara image, fed on
# stdin), for the benchmark's plain scripts. Sourced; the script defines fail (message -> exit 1).
#
#   console_open NAME LABEL ADMIN_KIT IMAGE EMAIL LOG   log in (at most $CONSOLE_LOGIN_WAIT s)
#   console "COMMAND" [SECONDS]                         send one command, read its reply up to "Done [" into $reply
#                                                       (shutdown, restart, remove_client: confirmed with the user)
#   count REGEX                                         how many lines of $reply match
#   console_close                                       bye, and end the container's CLI
CONSOLE_LOGIN_WAIT=${CONSOLE_LOGIN_WAIT:-120}
# How long one reply may take: the engine answers in seconds; a silent console is a failure, not a wait.
CONSOLE_REPLY_WAIT=${CONSOLE_REPLY_WAIT:-120}
reply=""

console_read_until() {  # pattern, timeout per line
  local pattern=$1 timeout=$2 line
  reply=""
  while IFS= read -r -t "$timeout" line <&"$admin_out"; do
    reply+=$line$'\n'
    printf '%s\n' "$line" >>"$console_log"
    [[ $line == *"$pattern"* ]] && return 0
  done
  return 1
}

console_open() {
  local name=$1 label=$2 kit=$3 image=$4 email=$5
  console_log=$6
  console_email=$email
  coproc ADMIN {
    exec docker run -i --rm --name "$name" --label "$label" --net=host -e PYTHONUNBUFFERED=1 \
      -v "$kit:/workspace/admin" "$image" bash /workspace/admin/startup/fl_admin.sh 2>&1
  }
  admin_in=${ADMIN[1]}
  admin_out=${ADMIN[0]}
  printf '%s\n' "$email" >&"$admin_in"
  console_read_until "Type ? to list commands" "$CONSOLE_LOGIN_WAIT" \
    || fail "the admin console did not log in within $CONSOLE_LOGIN_WAIT s (see $console_log)"
}

console() {
  printf '%s\n' "$1" >>"$console_log"
  printf '%s\n' "$1" >&"$admin_in"
  # These ask "Confirm with User Name:" (a prompt without a line end): the answer goes right after.
  case $1 in
    shutdown*|restart*|remove_client*|delete_run_number*) printf '%s\n' "$console_email" >&"$admin_in" ;;
  esac
  console_read_until "Done [" "${2:-$CONSOLE_REPLY_WAIT}" \
    || fail "the admin console gave no answer to '$1' within ${2:-$CONSOLE_REPLY_WAIT} s (see $console_log)"
}

count() { grep -c -E "$1" <<<"$reply" || true; }

console_close() {
  if [ -n "${ADMIN_PID:-}" ]; then
    { printf 'bye\n' >&"$admin_in"; } 2>/dev/null || true
    kill "$ADMIN_PID" 2>/dev/null || true
  fi
}

# How long the training may go without a new round or a new model submitted before it counts as hung (a site's
# start that hangs stops every round).
CONSOLE_STALL_WAIT=${CONSOLE_STALL_WAIT:-180}

deploy_run() {  # mmar, number of sites: deploy to the server and every site (a busy site may miss the first)
  local mmar=$1 n=$2 attempt
  console "deploy $mmar server"
  [ "$(count 'deployed')" -ge 1 ] || fail "deploy $mmar server failed: $reply"
  for attempt in 1 2 3; do
    console "deploy $mmar client"
    [ "$(count 'MMAR deployed')" -ge "$n" ] && return 0
    [ "$attempt" -lt 3 ] || fail "deploy $mmar client reached only some sites: $reply"
    sleep 1
  done
}

start_run() {  # number of sites: start server, start client, until every site trains
  local n=$1 late site idle attempt started=false
  console "start server"
  [ "$(count 'starting')" -ge 1 ] || fail "start server failed: $reply"
  console "start client"
  [ "$(count 'Start the client')" -lt "$n" ] || return 0
  # A busy site may answer "No replies" although it starts: its status tells, and a site that is
  # still idle gets its own start once more (the collection's console module does the same).
  late=$(grep -E '^(> )?instance:[^:]* ?: No replies' <<<"$reply" | sed -E 's/^(> )?instance:([^ :]*) ?:.*/\2/' | tr '\n' ' ')
  [ -n "$late" ] && [ "$(count 'instance:.*: ')" -eq "$(( $(count 'Start the client') + $(count 'No replies') ))" ] \
    || fail "start client did not start every site: $reply"
  for attempt in $(seq 1 30); do
    console "check_status client"
    idle=""
    for site in $late; do grep -q "client name: $site.*status: training started" <<<"$reply" || idle+="$site "; done
    [ -z "$idle" ] && { started=true; break; }
    [ "$attempt" = 10 ] && console "start client $idle"
    sleep 1
  done
  $started || fail "start client did not start sites $late within 30 s (see $console_log)"
}

wait_run_end() {  # run number: check_status server each second until the run has stopped, or no progress
  local run=$1 started=$SECONDS seen_started=false progress="" last_progress=$SECONDS now
  while :; do
    console "check_status server"
    if grep -q "FL server status: training started" <<<"$reply"; then seen_started=true; fi
    if grep -q "FL server status: training stopped" <<<"$reply" && { $seen_started || [ $((SECONDS - started)) -gt 60 ]; }; then
      return 0
    fi
    now=$({ grep -oE 'current round:[0-9]+|submitted models for current round: [0-9]+' <<<"$reply" || true; } \
      | tr '\n' ' ')
    if [ "$now" != "$progress" ]; then progress=$now; last_progress=$SECONDS; fi
    [ $((SECONDS - last_progress)) -lt "$CONSOLE_STALL_WAIT" ] \
      || fail "run $run made no progress for $CONSOLE_STALL_WAIT s (${progress:-no round}): a site's start probably hung (see $console_log)"
    sleep 1
  done
}

site_token() {  # site: its token in the last check_status client reply
  { grep -oE "client name: $1[[:space:]]+token: [^[:space:]]+" <<<"$reply" || true; } | head -1 | sed -E 's/.*token: //'
}

site_status() {  # site: its status in the last check_status client reply
  { grep -oE "client name: $1[[:space:]].*status: [a-z ]+" <<<"$reply" || true; } | head -1 \
    | sed -E 's/.*status: //; s/ +$//'
}

restart_phase() {  # site, mmar, run number, number of sites: marks restart_sent, site_answering, site_training
  local site=$1 mmar=$2 run=$3 n=$4 token deadline
  console "set_run_number $run"
  deploy_run "$mmar" "$n"
  start_run "$n"
  deadline=$((SECONDS + CONSOLE_REPLY_WAIT))
  until console "check_status client" && [ "$(site_status "$site")" = "training started" ]; do
    [ $SECONDS -lt $deadline ] || fail "$site did not train in run $run within $CONSOLE_REPLY_WAIT s"
    sleep 1
  done
  token=$(site_token "$site")
  mark restart_sent
  # The engine answers it "Server did not respond" although the site restarts.
  console "restart client $site"
  deadline=$((SECONDS + CONSOLE_REPLY_WAIT))
  while :; do
    console "check_status client"
    local now
    now=$(site_token "$site")
    [ -n "$now" ] && [ "$now" != "$token" ] && break
    [ $SECONDS -lt $deadline ] || fail "$site did not answer the server within $CONSOLE_REPLY_WAIT s after restart client"
    sleep 0.5
  done
  mark site_answering
  console "deploy $mmar client $site"
  [ "$(count 'MMAR deployed')" -ge 1 ] || fail "deploy $mmar client $site failed after its restart: $reply"
  console "start client $site"
  deadline=$((SECONDS + CONSOLE_REPLY_WAIT))
  until console "check_status client" && [ "$(site_status "$site")" = "training started" ]; do
    [ $SECONDS -lt $deadline ] || fail "$site did not train again within $CONSOLE_REPLY_WAIT s after its start"
    sleep 0.5
  done
  mark site_training
  console "abort client"
  console "abort server"
}
