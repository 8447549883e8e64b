# tests/test_reproduce.sh: paper/reproduce.py (make reproduce) on tiny runs made here:
# a reference run from a QUICK-sized config (a generated and a recorded-file workload;
# claims on event counts, which are deterministic, and a bound no run meets: tiny runs'
# timings are noise), reproduced from its meta.json on new seeds, with claims that hold,
# one that fails, one the reference cannot test, geometric-mean claims with their
# confidence bounds, and a reference made of parts.
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
repeats    = 2
vary_seed  = yes
seed       = 5
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
group gen = tt
# deterministic: the trace's event count is the same in every run
events-same:  m("events", "tt", "system") ~ ref tol 0
events-side:  m("events", "rec", "null", 2) / m("events", "rec", "system", 2) side 0.5 tol 0%
enough:       m("events", "tt", "system") / 1000 > 100 tol 0                       # 200000 events
impossible:   m("wall_s", "tt", "system") < 0 tol 0                                # always fails
no-ravioli:   m("wall_s", "tt", "ravioli") / m("wall_s", "tt", "system") side 1 tol 5%
gm-events:    gm("events", "null", "system", "gen") < 1.0001 tol 0                 # equal: 1
gm-ci:        gm_hi("events", "null", "system", "gen") - gm_lo("events", "null", "system", "gen") < 0.0001 tol 0
CLAIMS
cd "$w"
expect_status "a failing claim: exit 1" 1 /usr/bin/python3 "$R" --ref "$ref" --bin "$BIN" \
  --out results/rerun --claims claims.conf
out=$(cat "$HL_TMP/out")
new=results/rerun
[ -f "$new/bench.csv" ] && pass || fail "no new run"
expect_eq "results kept, traces not" "$(ls "$new" | grep -v git.diff | tr '\n' ' ')" \
  "bench.csv meta.json summary.txt "
copy=build/paper-run/$(basename "$ref").conf
grep -q "workload rec = file ../../conf/traces/rec.hlt" "$copy" && pass ||
  fail "file workload not made relative to the copy: $(grep rec "$copy")"
grep -q "^sim = ../../conf/presets/tiny.conf" "$copy" && pass ||
  fail "sim preset not made relative to the copy: $(grep '^sim' "$copy")"
expect_eq "new seeds: the reference's + 100" \
  "$(awk -F, 'NR > 1 && $2 == "tt" { print $5 }' "$new/bench.csv" | sort -u | tr '\n' ' ')" "105 106 "
sims() { awk -F, 'NR > 1 && $4 == "sim"' "$1/bench.csv" | wc -l; }
expect_eq "simulated runs in the reference (rec x 2 allocators, once: no seed)" "$(sims "$ref")" 2
expect_eq "the simulated pass rerun" "$(sims "$new")" 2
expect_eq "both workloads rerun" "$(cut -d, -f2 "$new/bench.csv" | sort -u | tr '\n' ' ')" "rec tt workload "
for c in events-same events-side enough gm-events gm-ci; do
  echo "$out" | grep -q "^$c .*HOLDS" && pass || fail "$c should hold: $(echo "$out" | grep "^$c")"
done
echo "$out" | grep -q "^impossible .*DOES NOT HOLD: < 0, tol 0%; limit 0 .*reference run does not satisfy it either" &&
  pass || fail "impossible should fail: $(echo "$out" | grep '^impossible')"
echo "$out" | grep -q "^no-ravioli .*NA .*UNTESTED" && pass || fail "no-ravioli should be untested"
echo "$out" | grep -q "5 hold, 1 do not hold, 1 untested (of 7 claims)" && pass || fail "bad tally: $out"
# reference and new values printed: events are equal in both
line=$(echo "$out" | grep "^events-same ")
expect_eq "reference value = new value" "$(echo "$line" | awk '{ print ($2 == $3) }')" 1

# only claims that hold: exit 0 (check the run just made, without running again)
grep -v '^impossible' claims.conf >ok.conf
expect_status "claims hold: exit 0" 0 /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims ok.conf
grep -q "5 hold, 0 do not hold, 1 untested" "$HL_TMP/out" && pass || fail "ok tally: $(tail -1 "$HL_TMP/out")"
# a reference made of parts (the paper's results/paper/main, ...), read as one run
for d in parts/a dup/a dup/b; do mkdir -p $d && cp "$ref"/*.csv "$ref"/*.json $d/; done
expect_status "a reference of parts" 0 /usr/bin/python3 "$R" --ref parts --new "$new" --claims ok.conf
expect_fail "a cell in two parts" "is in both dup/a and dup/b" /usr/bin/python3 "$R" --ref dup \
  --new "$new" --claims ok.conf
# paper/run.py (make paper-run): never over an existing reference, only known parts
P=$(dirname "$R")/run.py
expect_fail "paper-run refuses an existing folder" "exists; a reference run is never overwritten" \
  /usr/bin/python3 "$P" --out parts --bin "$BIN"
expect_fail "paper-run: unknown part" "unknown part 'bogus'" /usr/bin/python3 "$P" --out new \
  --parts main,bogus --bin "$BIN"
printf 'x: gm("events", "a", "b", "nogroup") < 1 tol 0\n' >nogroup.conf
expect_fail "an undefined group" "nogroup.conf:1: no group 'nogroup'" \
  /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims nogroup.conf
# nothing testable: exit 1
grep '^no-ravioli' claims.conf >none.conf
expect_fail "no claim testable" "no claim could be tested" /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims none.conf
# bad input: exit 2 with the reason
printf 'x: m("wall_s", "tt") <\n' >bad.conf
expect_fail "bad claims file" "bad.conf:1: expected 'ID: EXPRESSION OP BOUND tol T'" \
  /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims bad.conf
printf 'x: __import__("os").system("true") < 1 tol 0\n' >evil.conf
expect_fail "code in a claim" "evil.conf:1: .*(not allowed|only m|unknown name)" \
  /usr/bin/python3 "$R" --ref "$ref" --new "$new" --claims evil.conf
expect_fail "no reference" "nothing: No such file" /usr/bin/python3 "$R" --ref nothing --claims ok.conf
mkdir -p noconf && cp "$ref/bench.csv" noconf/ && echo '{}' >noconf/meta.json
expect_fail "reference without its config" "no 'config'" /usr/bin/python3 "$R" --ref noconf \
  --bin "$BIN" --out results/r2 --claims ok.conf
expect_status "usage error is 2" 2 /usr/bin/python3 "$R" --ref noconf --bin "$BIN" --claims ok.conf
finish test_reproduce
