# tests/test_reproduce.sh: paper/reproduce.py (make reproduce) on tiny runs made here:
# a reference run from a QUICK-sized config (claims on event counts, which are
# deterministic, and a bound no run meets: tiny runs' timings are noise) (a generated and a recorded-file workload),
# reproduced from its meta.json, with claims that hold, one that fails and one the
# reference cannot test.
source tests/lib.sh
# hlbench + Python; the sanitizer builds change nothing the test looks at.
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_reproduce; exit 0; }
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  fail "Debian's python3-matplotlib is missing (make deps installs it)"; finish test_reproduce; exit
fi
R=$PWD/paper/reproduce.py
BIN=$(cd "$HL_BIN" && pwd)
w="$HL_TMP/work"
mkdir -p "$w/conf/traces" "$w/results"
gen "$w/conf/traces/rec.hlt" threadtest --threads 2 --iterations 2 --objects 2000 --size 32 --seed 3
cat >"$w/conf/q.conf" <<'CONF'
allocators = system null
threads    = 1
repeats    = 1
timeout    = 60
workload tt  = gen threadtest --iterations 5 --objects 20000 --size 64
workload rec = file traces/rec.hlt
sim = presets/tiny.conf
sim_workloads = rec
CONF
mkdir -p "$w/conf/presets" && cp sim/presets/skylake.conf "$w/conf/presets/tiny.conf"
# A relative config path, as `make bench` gives it: reproduce must resolve the file
# workload against the config's folder, from the path stored in meta.json.
(cd "$w" && "$BIN/hlbench" --config conf/q.conf --bin "$BIN" --results results >/dev/null 2>"$HL_TMP/bench.err")
expect_eq "reference run made" "$?" 0
ref=$(ls -d "$w"/results/*/ | head -1)
ref=${ref%/}
[ -f "$ref/bench.csv" ] && pass || fail "no reference run"

cat >"$w/claims.conf" <<'CLAIMS'
# deterministic: the trace's event count is the same in every run
events-same:  m("events", "tt", "system") ~ ref tol 0
events-side:  m("events", "rec", "null", 2) / m("events", "rec", "system", 2) side 0.5 tol 0%
enough:       m("events", "tt", "system") / 1000 > 100 tol 0                       # 200000 events
impossible:   m("wall_s", "tt", "system") < 0 tol 0                                # always fails
no-ravioli:   m("wall_s", "tt", "ravioli") / m("wall_s", "tt", "system") side 1 tol 5%
CLAIMS
cd "$w"
expect_status "a failing claim: exit 1" 1 /usr/bin/python3 "$R" --ref "$ref" --bin "$BIN" \
  --results results --claims claims.conf
out=$(cat "$HL_TMP/out")
new=$(ls -d results/*/ | grep -v "^results/$(basename "$ref")/" | head -1)
new=${new%/}
expect_eq "one new run made" "$(ls -d results/*/ | wc -l)" 2
[ -f "$new/bench.csv" ] && pass || fail "no new run"
grep -q "workload rec = file $w/conf/traces/rec.hlt" build/reproduce/*.conf && pass ||
  fail "file workload not made absolute: $(grep rec build/reproduce/*.conf)"
grep -q "^sim = $w/conf/presets/tiny.conf" build/reproduce/*.conf && pass ||
  fail "sim preset not made absolute: $(grep '^sim' build/reproduce/*.conf)"
sims() { awk -F, 'NR > 1 && $4 == "sim"' "$1/bench.csv" | wc -l; }
expect_eq "simulated runs in the reference (rec x 2 allocators)" "$(sims "$ref")" 2
expect_eq "the simulated pass rerun" "$(sims "$new")" 2
expect_eq "both workloads rerun" "$(cut -d, -f2 "$new/bench.csv" | sort -u | tr '\n' ' ')" "rec tt workload "
for c in events-same events-side enough; do
  echo "$out" | grep -q "^$c .*HOLDS" && pass || fail "$c should hold: $(echo "$out" | grep "^$c")"
done
echo "$out" | grep -q "^impossible .*DOES NOT HOLD: < 0, tol 0%; limit 0 .*reference run does not satisfy it either" &&
  pass || fail "impossible should fail: $(echo "$out" | grep '^impossible')"
echo "$out" | grep -q "^no-ravioli .*NA .*UNTESTED" && pass || fail "no-ravioli should be untested"
echo "$out" | grep -q "3 hold, 1 do not hold, 1 untested (of 5 claims)" && pass || fail "bad tally: $out"
# reference and new values printed: events are equal in both
line=$(echo "$out" | grep "^events-same ")
expect_eq "reference value = new value" "$(echo "$line" | awk '{ print ($2 == $3) }')" 1

# only claims that hold: exit 0 (check the run just made, without running again)
grep -v '^impossible' claims.conf >ok.conf
expect_status "claims hold: exit 0" 0 /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims ok.conf
grep -q "3 hold, 0 do not hold, 1 untested" "$HL_TMP/out" && pass || fail "ok tally: $(tail -1 "$HL_TMP/out")"
# nothing testable: exit 1
grep '^no-ravioli' claims.conf >none.conf
expect_fail "no claim testable" "no claim could be tested" /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims none.conf
# bad input: exit 2 with the reason
printf 'x: m("wall_s", "tt") <\n' >bad.conf
expect_fail "bad claims file" "bad.conf:1: expected 'ID: EXPRESSION OP BOUND tol T'" \
  /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims bad.conf
printf 'x: __import__("os").system("true") < 1 tol 0\n' >evil.conf
expect_fail "code in a claim" "evil.conf:1: .*(not allowed|only m)" \
  /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims evil.conf
expect_fail "no reference" "nothing/bench.csv: no such file" /usr/bin/python3 "$R" --ref nothing --claims ok.conf
mkdir -p noconf && cp "$ref/bench.csv" noconf/ && echo '{}' >noconf/meta.json
expect_fail "reference without its config" "no 'config'" /usr/bin/python3 "$R" --ref noconf \
  --bin "$BIN" --results results --claims ok.conf
expect_status "usage error is 2" 2 /usr/bin/python3 "$R" --ref noconf --bin "$BIN" --claims ok.conf
finish test_reproduce
