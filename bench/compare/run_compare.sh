#!/usr/bin/env bash
# Side by side: the floor and the permit service (the project), same machine, same run (issue 14).
# The project's copy of ../shared/perf/run_compare.sh: the floor app and the load generator are the shared ones
# ($PERF_DIR), the seed and the scenarios are this folder's (they follow the project's API). `make bench-compare`
# runs it and appends the table, with the date, machine, commit and load, to bench/RESULTS.md.
# Starts both with the same gunicorn settings (sync x5), seeds what is missing, runs every scenario
# (saturation, then a fixed rate), interleaved floor / project, prints loadgen's --table with the
# "x floor" ratio, the RSS and PSS of each worker and master, and stops both by their own PIDs.
#
#   bench/compare/run_compare.sh                       # defaults: 10 s per run, 2 s warm-up
#   DURATION=15 WARMUP=3 bench/compare/run_compare.sh  # longer runs on a quiet machine
#
# Needs: a project checkout with its venv (git clone <project> $PROJECT_REPO && make -C $PROJECT_REPO venv),
# PostgreSQL on loopback with databases perfproj and perffloor (created here if missing, trust auth), psql.
#
# Settings (environment, defaults in brackets):
#   PERF_DIR          the shared harness: floor.py, loadgen.py [the project's ../shared/perf]
#   PROJECT_REPO      project checkout with .venv [this folder's project]
#   RESULTS           a Markdown file the table is appended to, with date, machine, commit and load []
#   PYTHON            interpreter for the floor, loadgen and seed_project.py [$PROJECT_REPO/.venv/bin/python]
#                     (the project's venv holds Flask, SQLAlchemy, psycopg, PyJWT, gunicorn at the same versions)
#   PG                psql connection arguments [-h 127.0.0.1 -p 5432 -U postgres]
#   PROJECT_DB        [postgresql+psycopg://postgres@127.0.0.1:5432/perfproj]
#   FLOOR_DB          [postgresql+psycopg://postgres@127.0.0.1:5432/perffloor]
#   PROJECT_BIND      [127.0.0.1:8104]        FLOOR_BIND  [127.0.0.1:8105]   (loopback only)
#   WORKER_CLASS      [sync]   WORKERS [5]
#   PERMITS           permits in each app [100000]
#   SEED              1 = seed the project up to PERMITS (skipped when already there) [1]
#   FLOOR_INIT        1 = (re)load the floor's tables, 0 = keep them [1]
#   LIVE              permits walked through the API into the live states by the seed [40]
#   POOL              active permits in the transition pool [300]
#   SCENARIOS         [read list transition hot-transition create ingest500]  (the floor has no list)
#   RATES             fixed-rate runs, req/s; a scenario without a rate gets none
#                     [read=200 transition=50 ingest500=10]
#   MODES             [closed open]
#   DURATION [10]  WARMUP [2]  PAUSE [1]
#   SAT_CONNECTIONS [16]  HOT_CONNECTIONS [16]  OPEN_CONNECTIONS [64]
#   PROFILE           a py-spy binary (pip install py-spy, in a venv of its own): records one project worker
#                     for DURATION s during the saturation run of PROFILE_SCENARIO [transition], writes
#                     $OUT/pyspy.txt (top functions) and $OUT/pyspy.raw (collapsed stacks) []
#   OUT               results folder [/tmp/compare-<UTC time>]
#   PREFER            the project's writes (transition, hot-transition, create) send Prefer: return=$PREFER, e.g.
#                     minimal (project_scenarios.py, param prefer); the floor's answers are minimal already []
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_REPO=${PROJECT_REPO:-$(cd "$here/../.." && pwd)}
PERF_DIR=${PERF_DIR:-$PROJECT_REPO/../shared/perf}
RESULTS=${RESULTS:-}
PYTHON=${PYTHON:-$PROJECT_REPO/.venv/bin/python}
PG=${PG:--h 127.0.0.1 -p 5432 -U postgres}
PROJECT_DB=${PROJECT_DB:-postgresql+psycopg://postgres@127.0.0.1:5432/perfproj}
FLOOR_DB=${FLOOR_DB:-postgresql+psycopg://postgres@127.0.0.1:5432/perffloor}
PROJECT_BIND=${PROJECT_BIND:-127.0.0.1:8104}
FLOOR_BIND=${FLOOR_BIND:-127.0.0.1:8105}
WORKER_CLASS=${WORKER_CLASS:-sync}
WORKERS=${WORKERS:-5}
PERMITS=${PERMITS:-100000}
SEED=${SEED:-1}
FLOOR_INIT=${FLOOR_INIT:-1}
LIVE=${LIVE:-40}
POOL=${POOL:-300}
SCENARIOS=${SCENARIOS:-read list transition hot-transition create ingest500}
RATES=${RATES:-read=200 transition=50 ingest500=10}
MODES=${MODES:-closed open}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
PAUSE=${PAUSE:-1}
SAT_CONNECTIONS=${SAT_CONNECTIONS:-16}
HOT_CONNECTIONS=${HOT_CONNECTIONS:-16}
OPEN_CONNECTIONS=${OPEN_CONNECTIONS:-64}
PROFILE=${PROFILE:-}
PROFILE_SCENARIO=${PROFILE_SCENARIO:-transition}
OUT=${OUT:-/tmp/compare-$(date -u +%Y%m%dT%H%M%SZ)}

for bind in "$PROJECT_BIND" "$FLOOR_BIND"; do
  case "$bind" in 127.*) ;; *) echo "run_compare: $bind is not a loopback address" >&2; exit 2 ;; esac
done
declare -A rate
for pair in $RATES; do rate[${pair%%=*}]=${pair#*=}; done
mkdir -p "$OUT"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$PROJECT_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$PROJECT_REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+changes"; fi
results=$OUT/results.jsonl
: > "$results"
fixture=$OUT/fixture.json
export JWT_SECRET=${JWT_SECRET:-floor-bench-only-secret-0123456789abcdef}

for db in "${PROJECT_DB##*/}" "${FLOOR_DB##*/}"; do
  # shellcheck disable=SC2086
  if ! psql $PG -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql $PG -c "CREATE DATABASE $db" >/dev/null
  fi
done

pids=()
stop_all() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

gunicorn_extra=(--graceful-timeout 5 --worker-tmp-dir /dev/shm)

# --- the project ---------------------------------------------------------------------------------------
(cd "$PROJECT_REPO" && DATABASE_URL=$PROJECT_DB .venv/bin/permit-service db upgrade \
  && DATABASE_URL=$PROJECT_DB .venv/bin/permit-service seed-demo) > "$OUT/project-setup.log" 2>&1
(
  cd "$PROJECT_REPO"
  export DATABASE_URL=$PROJECT_DB LISTEN_HOST=${PROJECT_BIND%:*} PORT=${PROJECT_BIND##*:} WEB_CONCURRENCY=$WORKERS \
    JWT_ACCESS_MINUTES=720
  exec .venv/bin/gunicorn --config gunicorn.conf.py -k "$WORKER_CLASS" -w "$WORKERS" "${gunicorn_extra[@]}" wsgi:app
) > "$OUT/project-gunicorn.log" 2>&1 &
project_pid=$!
pids+=("$project_pid")

# --- the floor -----------------------------------------------------------------------------------------
if [ "$FLOOR_INIT" = 1 ]; then
  DATABASE_URL=$FLOOR_DB "$PYTHON" "$PERF_DIR/floor.py" init --permits "$PERMITS"
fi
floor_extra=()
if "$PYTHON" -m gunicorn --help 2>/dev/null | grep -q -- '--no-control-socket'; then floor_extra+=(--no-control-socket); fi
DATABASE_URL=$FLOOR_DB "$PYTHON" -m gunicorn --chdir "$PERF_DIR" -k "$WORKER_CLASS" -w "$WORKERS" -b "$FLOOR_BIND" \
  "${gunicorn_extra[@]}" "${floor_extra[@]}" --error-logfile "$OUT/floor-gunicorn.log" floor:app &
floor_pid=$!
pids+=("$floor_pid")
floor_token=$(DATABASE_URL=$FLOOR_DB "$PYTHON" "$PERF_DIR/floor.py" token --ttl 7200)

loadgen() { "$PYTHON" "$PERF_DIR/loadgen.py" "$@"; }
loadgen --url "http://$FLOOR_BIND" --token "$floor_token" --wait-for /permits/1 --wait-timeout 60
loadgen --url "http://$PROJECT_BIND" --token '' --wait-for /readyz --wait-timeout 60

seed() { "$PYTHON" "$here/seed_project.py" --url "http://$PROJECT_BIND" --db "$PROJECT_DB" "$@"; }
if [ "$SEED" = 1 ]; then
  seed seed --permits "$PERMITS" --live "$LIVE" 2>&1 | tee "$OUT/seed.log" >&2
  # The seed copies finished permits by SQL: render their documents as an upgraded database would (README).
  (cd "$PROJECT_REPO" && DATABASE_URL=$PROJECT_DB .venv/bin/permit-service documents rebuild) 2>&1 | tee -a "$OUT/seed.log" >&2
fi
seed fixture --out "$fixture" --pool "$POOL" 2>> "$OUT/fixture.log"

hot_check() {  # 2xx answers of the project's last hot-transition run (warm-up included) vs the permit's version
  "$PYTHON" - "$fixture" "$results" "$PROJECT_DB" <<'EOF'
import json, sys, psycopg
fx = json.load(open(sys.argv[1]))
runs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
last = [r for r in runs if r["label"] == "project" and r["scenario"] == "hot-transition"][-1]
acked = last["ok"] + last.get("warmup", {}).get("ok", 0)
with psycopg.connect(sys.argv[3].replace("+psycopg", "")) as conn:
    version = conn.execute("SELECT version FROM permits WHERE id = %s", (fx["hot"]["id"],)).fetchone()[0]
print(f"project hot-transition: {acked} acknowledged, permit {fx['hot']['id']} version advanced by "
      f"{version - fx['hot']['version']}")
EOF
}

prepare() {  # app scenario: re-read the transition pool's states, or walk a fresh hot permit
  [ "$1" = project ] || return 0
  case "$2" in
    transition) seed fixture --out "$fixture" --pool "$POOL" 2>> "$OUT/fixture.log"; sleep "$PAUSE" ;;
    hot-transition) seed fixture --out "$fixture" --pool "$POOL" --new-hot 2>> "$OUT/fixture.log"; sleep "$PAUSE" ;;
  esac
}

run() {  # app scenario [loadgen args]
  local app=$1 scenario=$2; shift 2
  local common=(--scenario "$scenario" --duration "$DURATION" --warmup "$WARMUP" --label "$app" --out "$results" --progress)
  if [ "$app" = floor ]; then
    loadgen --url "http://$FLOOR_BIND" --token "$floor_token" --permits "$PERMITS" "${common[@]}" "$@" > /dev/null
  else
    loadgen --url "http://$PROJECT_BIND" --token '' --scenarios "$here/project_scenarios.py" \
      --param "fixture=$fixture" ${PREFER:+--param "prefer=$PREFER"} "${common[@]}" "$@" > /dev/null
  fi
  sleep "$PAUSE"
}

profile() {  # record one project worker during the next DURATION s, in the background
  local worker
  worker=$(ps -o pid= --ppid "$project_pid" | head -1 | tr -d ' ')
  ( sleep "$WARMUP"; "$PROFILE" record -d "$DURATION" -r 200 -f raw -o "$OUT/pyspy.raw" --pid "$worker" \
      > "$OUT/pyspy.log" 2>&1 ) &
  profile_pid=$!
}
profile_pid=

for scenario in $SCENARIOS; do
  conns=$SAT_CONNECTIONS
  [ "$scenario" = hot-transition ] && conns=$HOT_CONNECTIONS
  apps="floor project"
  [ "$scenario" = list ] && apps=project          # the floor has no list endpoint
  case " $MODES " in *" closed "*)
    for app in $apps; do
      prepare "$app" "$scenario"
      if [ "$app" = project ] && [ "$scenario" = "$PROFILE_SCENARIO" ] && [ -n "$PROFILE" ]; then profile; fi
      run "$app" "$scenario" --saturate --connections "$conns"
      if [ "$app" = project ] && [ "$scenario" = hot-transition ]; then hot_check > "$OUT/hot_check.txt"; fi
    done ;;
  esac
  case " $MODES " in *" open "*)
    if [ -n "${rate[$scenario]:-}" ]; then
      for app in $apps; do
        prepare "$app" "$scenario"
        run "$app" "$scenario" --rate "${rate[$scenario]}" --connections "$OPEN_CONNECTIONS"
      done
    fi ;;
  esac
done

mem() {  # "pid RSS MiB (PSS MiB)": PSS shares each page among the processes that map it (a preloaded app's pages)
  awk -v pid="$1" '/^Rss:/ {r = $2} /^Pss:/ {p = $2} END {printf "%s %.0f MiB (PSS %.0f); ", pid, r / 1024, p / 1024}' \
    "/proc/$1/smaps_rollup"
}
rss() {  # every worker of a gunicorn master, then the master
  local pid
  for pid in $(ps -o pid= --ppid "$1"); do mem "$pid"; done
  printf "master "
  mem "$1"
}
if [ -n "$profile_pid" ]; then wait "$profile_pid" || true; fi
rss_line="RSS per worker after the runs: project $(rss "$project_pid")floor $(rss "$floor_pid")"
stop_all

if [ -n "$PROFILE" ] && [ -s "$OUT/pyspy.raw" ]; then
  "$PYTHON" - "$OUT/pyspy.raw" "$PROFILE_SCENARIO" > "$OUT/pyspy.txt" <<'EOF'
import collections, sys
own, total, app, n = collections.Counter(), collections.Counter(), collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    count, frames = int(count), stack.split(";")
    n += count
    own[frames[-1]] += count
    for f in set(frames):
        total[f] += count
    # the deepest frame of the service's own code: where its time goes, library calls included
    mine = [f for f in frames if "permit_service/" in f or "workflows/" in f]
    app[mine[-1] if mine else "(outside permit_service: gunicorn, flask, auth before the view)"] += count
print(f"{n} samples of one worker during the project's {sys.argv[2]} saturation")
print("\ndeepest permit_service/workflows frame, callees included (top 15):")
for f, c in app.most_common(15):
    print(f"  {100 * c / n:5.1f}%  {f}")
print("\nown time (top 15):")
for f, c in own.most_common(15):
    print(f"  {100 * c / n:5.1f}%  {f}")
print("\ninclusive, permit_service/workflows frames (top 20):")
for f, c in [(f, c) for f, c in total.most_common() if "permit_service" in f or "workflows" in f][:20]:
    print(f"  {100 * c / n:5.1f}%  {f}")
EOF
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "### $(date -u '+%Y-%m-%d %H:%M') UTC, commit $commit"
  echo
  echo "Floor vs project: $(nproc) CPUs ($cpu), gunicorn -k $WORKER_CLASS -w $WORKERS, $PERMITS permits each,"\
       "${DURATION} s per run (+${WARMUP} s warm-up); load average $load_start at the start,"\
       "$(cut -d' ' -f1-3 /proc/loadavg) at the end (other sessions share the machine)."
  if [ -n "${PREFER:-}" ]; then echo "The project's writes sent Prefer: return=$PREFER."; fi
  echo
  loadgen --table "$results"
  echo
  echo "$rss_line"
  if [ -f "$OUT/hot_check.txt" ]; then cat "$OUT/hot_check.txt"; fi
  if [ -f "$OUT/pyspy.txt" ]; then echo; echo "py-spy ($PROFILE_SCENARIO): $OUT/pyspy.txt"; fi
} | tee "$OUT/table.md"
if [ -n "$RESULTS" ]; then { echo; cat "$OUT/table.md"; } >> "$RESULTS"; fi
echo "results: $OUT" >&2
