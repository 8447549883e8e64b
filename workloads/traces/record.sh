#!/usr/bin/env bash
# workloads/traces/record.sh: re-record the shipped traces of real Debian programs.
#
# Each program runs under the heaplab recorder (build/lib/libhlrecord.so); its log
# is imported into a trace, checked, and compressed with xz into
# workloads/traces/NAME.hlt.xz. NOTES.md is rewritten with each program's package
# version, command line and the date. Run from the repository root after `make`:
#   workloads/traces/record.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REC=$PWD/build/lib/libhlrecord.so
HLTRACE=$PWD/build/bin/hltrace
OUT=$PWD/workloads/traces
[ -x "$HLTRACE" ] && [ -f "$REC" ] || { echo "record.sh: run make first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
notes="$work/NOTES.md"
cat >"$notes" <<'TXT'
# Recorded traces of real programs

Made by `workloads/traces/record.sh` (run it to re-record them on your machine). Each
program ran under heaplab's recorder (`workloads/RECORDING.md`); its log was imported
with `hltrace import record` and compressed with xz. `make` decompresses them into
`build/traces/`. The bench matrix (`harness/bench.conf`) replays them as `file`
workloads.

| trace | program (Debian package version) | command | events | threads | recorded |
| --- | --- | --- | --- | --- | --- |
TXT

# record NAME PACKAGE COMMAND...: every process writes its own log (a shell or
# env that execs the program, gcc's driver and cc1 ...); the program that did the
# work is the one with the largest log, and that one is kept.
record() {
  local name=$1 package=$2; shift 2
  rm -f "$work"/log.*
  (cd "$work" && LD_PRELOAD=$REC HEAPLAB_RECORD="$work/log" "$@" >/dev/null)
  local log
  log=$(ls -S "$work"/log.*.raw | head -n1)
  "$HLTRACE" import record "$log" -o "$work/$name.hlt" 2>"$work/import.txt"
  "$HLTRACE" check "$work/$name.hlt" >/dev/null
  xz -9 -T1 -c "$work/$name.hlt" >"$OUT/$name.hlt.xz"
  local events threads version
  events=$("$HLTRACE" stats "$work/$name.hlt" | awk '/^events:/ {print $2}')
  threads=$("$HLTRACE" stats "$work/$name.hlt" | awk '/^threads:/ {print $2}')
  version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || echo unknown)
  printf '| %s | %s (%s) | `%s` | %s | %s | %s |\n' "$name" "$package" "$version" "$*" \
    "$events" "$threads" "$(date -u +%Y-%m-%d)" >>"$notes"
  echo "record.sh: $name: $events events, $threads threads, $(stat -c %s "$OUT/$name.hlt.xz") bytes"
}

# python3 building and dropping dicts and strings; PYTHONMALLOC=malloc sends every
# object through malloc (pymalloc would otherwise hide small objects in its arenas).
cat >"$work/dicts.py" <<'PY'
import json
for round in range(4):
    d = {f"key{i}": "v" * (i % 97) + str(i) for i in range(20000)}
    s = json.dumps(d)
    back = json.loads(s)
    assert len(back) == len(d)
    words = " ".join(sorted(d.keys())).split()
    del d, s, back, words
PY
record python3-dicts python3.11 env PYTHONMALLOC=malloc /usr/bin/python3 dicts.py

# the C compiler proper (cc1) compiling a small program
cat >"$work/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct node { struct node *l, *r; int key; char name[24]; } node;
static node *insert(node *t, int k) {
  if (!t) { t = calloc(1, sizeof *t); t->key = k; snprintf(t->name, sizeof t->name, "n%d", k); return t; }
  if (k < t->key) t->l = insert(t->l, k); else t->r = insert(t->r, k);
  return t;
}
static int depth(const node *t) { if (!t) return 0; int a = depth(t->l), b = depth(t->r); return 1 + (a > b ? a : b); }
int main(int argc, char **argv) {
  node *t = NULL;
  for (int i = 0; i < 1000 + argc; i++) t = insert(t, (i * 7919) % 1009);
  printf("%d %s\n", depth(t), argv[0]);
  return strcmp(argv[0], "x") == 0;
}
C
record cc1-tree gcc-12 gcc -O2 -c prog.c -o prog.o

# sqlite3 running a query mix on an in-memory database
cat >"$work/mix.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, 'name' || x, x % 97, randomblob(x % 200) FROM c;
CREATE INDEX t_grp ON t(grp);
SELECT grp, count(*), avg(length(payload)) FROM t GROUP BY grp ORDER BY 2 DESC LIMIT 5;
SELECT count(*) FROM t a JOIN t b ON a.grp = b.grp AND a.id < b.id WHERE a.id < 300;
UPDATE t SET name = upper(name) WHERE id % 3 = 0;
DELETE FROM t WHERE grp < 20;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name LIMIT 2000);
SQL
record sqlite3-mix sqlite3 sh -c 'sqlite3 :memory: < mix.sql'

# a threaded program: a thread pool whose workers build objects that the main
# thread consumes and drops (cross-thread frees)
cat >"$work/pool.py" <<'PY'
from concurrent.futures import ThreadPoolExecutor
def work(n):
    return {f"k{n}-{i}": [i] * (i % 7) for i in range(2000)}
with ThreadPoolExecutor(max_workers=4) as pool:
    total = sum(len(d) for d in pool.map(work, range(60)))
assert total == 60 * 2000
PY
record python3-threads python3.11 env PYTHONMALLOC=malloc /usr/bin/python3 pool.py

cp "$notes" "$OUT/NOTES.md"
echo "record.sh: wrote $OUT/*.hlt.xz and NOTES.md"
