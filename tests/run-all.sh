#!/usr/bin/env bash
# Runs every test stage (or the ones named: unit engine integration lint sanity molecule) and ends
# with a one-screen summary. Exits non-zero when any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit lint sanity engine integration molecule)
out=$repo/tests/output
mkdir -p "$out"
rm -f "$out/engine.result"
export ANSIBLE_CONFIG=$repo/ansible.cfg
export CLARAFL_REQUIRE_ENGINE=${CLARAFL_REQUIRE_ENGINE:-1}

results=()
integration_ran=0
run_stage() {
  local name=$1; shift
  local start=$SECONDS rc
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  results+=("$(printf '%-28s %-6s %4ss' "$name" "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$((SECONDS - start))")")
  return 0
}

# The engine stage mostly waits on the engine's own timers (a site's restart, a round, the kit's sleeps), so it runs
# beside the unit, lint and sanity stages and the single-host molecule scenarios (one process on one core each, one
# after the other); its output follows theirs. The integration stage and the multi-host scenario (default) run
# alone: each keeps both cores busy.
beside_pid=""
start_beside() {
  local name=$1; shift
  echo "=== $name (beside the stages that follow, its output after theirs): $*"
  ( start=$SECONDS; "$@" > "$out/$name.log" 2>&1; echo "$? $((SECONDS - start))" > "$out/$name.result" ) &
  beside_pid=$!
}
join_beside() {
  [ -n "$beside_pid" ] || return 0
  wait "$beside_pid"
  beside_pid=""
  local rc=1 secs=0
  [ -f "$out/engine.result" ] && read -r rc secs < "$out/engine.result"
  echo "=== engine (ran beside the stages above)"
  cat "$out/engine.log"
  results+=("$(printf '%-28s %-6s %4ss' engine "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$secs")")
}
declare -A scenario_ran=()
run_scenarios() {  # all | single-host
  local scenario
  for scenario in molecule/*/; do
    scenario=$(basename "$scenario")
    [ -z "${scenario_ran[$scenario]:-}" ] || continue
    [ "$1" = all ] || [ "$scenario" != default ] || continue
    scenario_ran[$scenario]=1
    run_stage "molecule:$scenario" molecule test -s "$scenario"
  done
}
engine_cmd=(python -m pytest tests/engine -q -p no:cacheprovider -rfE)
for stage in "${stages[@]}"; do
  case $stage in engine) ;; unit|lint|sanity) if [[ " ${stages[*]} " == *" engine "* ]]; then
    start_beside engine "${engine_cmd[@]}"; fi; break ;; *) break ;; esac
done

for stage in "${stages[@]}"; do
  case $stage in
    unit) run_stage unit python -m pytest tests/unit -q -p no:cacheprovider -rfE ;;
    engine) [ -n "$beside_pid" ] || [ -f "$out/engine.result" ] || run_stage engine "${engine_cmd[@]}" ;;
    lint) run_stage lint bash -c 'ansible-lint --profile production --offline && tests/changelog.sh' ;;
    sanity) run_stage sanity tests/sanity.sh ;;
    integration|molecule)
      if [ -n "$beside_pid" ] && [[ " ${stages[*]} " == *" molecule "* ]]; then run_scenarios single-host; fi
      join_beside ;;&
    # Two modules at once, each whole in one worker (its tests in order, one federation of its own project and
    # ports): most of a module's time is one Ansible process on one core, and the machine has two. The modules are
    # handed out longest first (tests/integration/conftest.py orders them), not by their number of tests; every
    # test's time goes to integration.xml.
    integration) rm -f "$out/engine-logs.txt"; integration_ran=1
                 run_stage integration python -m pytest tests/integration -q -p no:cacheprovider -n 2 --dist loadfile \
                   --no-loadscope-reorder --durations=15 -rfE --junitxml="$out/integration.xml" ;;
    molecule) run_scenarios all ;;
    *) echo "run-all: unknown stage $stage (unit engine integration lint sanity molecule)" >&2; exit 2 ;;
  esac
done
join_beside

passed=0; failed=0
echo
echo "================ summary ================"
for r in "${results[@]}"; do
  echo "$r"
  case $r in *" pass "*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
# The failed tests by name, last: a CI log may keep only its tail.
for r in "${results[@]}"; do
  case $r in
    *" FAIL "*)
      name=${r%% *}
      grep -E '^(FAILED|ERROR)[ :]|(failed|unreachable)=[1-9]|Error:|ERROR!' "$out/$name.log" 2>/dev/null | tail -15 \
        | sed "s|^|$name: |" ;;
  esac
done
# The engine's own logs of the failed integration tests (their tails, tests/integration/conftest.py), last too.
if [ "$integration_ran" = 1 ] && [ -s "$out/engine-logs.txt" ]; then
  echo "engine logs of the failed integration tests (end of tests/output/engine-logs.txt):"
  tail -n "${CLARAFL_SUMMARY_LOG_LINES:-60}" "$out/engine-logs.txt" | sed 's|^|  |'
fi
echo "logs: tests/output/<stage>.log"
echo "stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
