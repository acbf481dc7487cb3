#!/usr/bin/env bash
# Run one benchmark against the parsnip of a given checkout, on a fresh database, and report the
# CPU the server and PostgreSQL spent. For before/after pairs: check the old revision out beside
# this one (git worktree add ../before <rev>; a venv in it: python3 -m venv .venv &&
# .venv/bin/pip install -q -e .) and alternate the two trees, run after run.
#
#   benchmarks/run_tree.sh TREE LABEL OUT.json SCRIPT [script args...]
#   benchmarks/run_tree.sh ../before "before" /tmp/b1.json rest_bench.py --phases create
#
# Env: DB (default pbench, dropped and created on 127.0.0.1:5432), PORT (18777),
# PARSNIP_ARGS (extra server options).
set -u
TREE=$(cd "$1" && pwd); LABEL=$2; OUT=$(realpath -m "$3"); SCRIPT=$4; shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
DB=${DB:-pbench}; PORT=${PORT:-18777}
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
"$TREE/.venv/bin/parsnip" --appId APP --masterKey MASTER --port "$PORT" \
    --databaseURI "postgresql://postgres@127.0.0.1:5432/$DB" ${PARSNIP_ARGS:-} > /tmp/run_tree-server.log 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/parse/health" && break; sleep 0.2; done
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { local t=0; for p in $(pgrep -u postgres); do t=$((t + $(ticks "$p"))); done; echo "$t"; }
S0=$(ticks $PID); G0=$(pg_ticks)
"$HERE/../.venv/bin/python" "$HERE/$SCRIPT" --url "http://127.0.0.1:$PORT/parse" --label "$LABEL" --json-out "$OUT" "$@"
S1=$(ticks $PID); G1=$(pg_ticks)
echo "CPU ticks (1/100 s) during the run: server $((S1 - S0)), postgres $((G1 - G0))"
kill $PID; wait $PID 2>/dev/null
