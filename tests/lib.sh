# tests/lib.sh: helpers for shell tests (source it; bash).
#
# Environment from tests/run.sh: HL_BIN (the commands under test), HL_TMP (a
# scratch folder removed afterwards), HL_SANITIZED=1 when HL_BIN is a
# sanitizer build (LD_PRELOAD of another malloc cannot work there).
#
#   pass DESC / fail DESC          record one result
#   expect_ok DESC CMD...          CMD must exit 0
#   expect_fail DESC REGEX CMD...  CMD must exit non-zero (not by a signal)
#                                  and its stderr must match REGEX (grep -E)
#   expect_status DESC N CMD...    CMD must exit with exactly status N
#   expect_eq DESC GOT WANT        two strings must be equal
#   expect_near DESC GOT WANT TOL  two decimal numbers must differ by at most TOL
#   gen FILE MODEL ARGS...         `hltrace gen` must write FILE and `hltrace check` pass it
#   finish NAME                    print "NAME: N passed, M failed", set exit status
HL_PASSED=0
HL_FAILED=0
pass() { HL_PASSED=$((HL_PASSED + 1)); }
fail() { HL_FAILED=$((HL_FAILED + 1)); echo "FAIL: $*" >&2; }
expect_ok() {
  local desc=$1; shift
  if "$@" >"$HL_TMP/out" 2>"$HL_TMP/err"; then pass; else
    fail "$desc (exit $?): $*"; sed 's/^/    /' "$HL_TMP/err" | head -20 >&2; fi
}
expect_fail() {
  local desc=$1 re=$2; shift 2
  "$@" >"$HL_TMP/out" 2>"$HL_TMP/err"
  local rc=$?
  if [ $rc -eq 0 ]; then fail "$desc: exited 0: $*"
  elif [ $rc -ge 128 ]; then fail "$desc: killed by signal $((rc - 128)): $*"
  elif ! grep -Eq -- "$re" "$HL_TMP/err"; then
    fail "$desc: stderr does not match /$re/:"; sed 's/^/    /' "$HL_TMP/err" | head -5 >&2
  else pass; fi
}
expect_status() {
  local desc=$1 want=$2; shift 2
  "$@" >"$HL_TMP/out" 2>"$HL_TMP/err"
  local got=$?
  if [ "$got" = "$want" ]; then pass; else fail "$desc: exit $got, expected $want: $*"; fi
}
expect_eq() {
  if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}
expect_near() {
  if awk -v g="$2" -v w="$3" -v t="$4" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; then
    pass
  else
    fail "$1: got '$2', want $3 +- $4"
  fi
}
gen() {
  local file=$1
  shift
  expect_ok "gen $*" "$HL_BIN/hltrace" gen "$@" -o "$file"
  expect_ok "check $* ($file)" "$HL_BIN/hltrace" check "$file"
}
finish() {
  echo "$1: $HL_PASSED passed, $HL_FAILED failed"
  [ "$HL_FAILED" -eq 0 ]
}
