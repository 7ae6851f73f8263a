#!/usr/bin/env bash
# cli_funm.sh KRY — a command-line walkthrough of matrix functions with kry, checked:
# log-det, traces, f(A) v and spectral densities of built-in problems whose spectra are
# known, so every number can be compared with an analytic value computed here by awk.
# Output is TAP (the test suite runs it); read it as a tutorial: each block is one
# command a user would type.
set -u
KRY=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }

# run CODE DESC -- ARGS: runs kry, checks the exit code (and one stderr line on failure).
run() {
    local want=$1 desc=$2
    shift 3
    local got=0
    "$KRY" "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    if [ "$got" -ne "$want" ]; then
        not_ok "$desc" "exit $got, expected $want; stderr: $(head -c 300 "$tmp/err")"
        return 1
    fi
    if [ "$want" -ge 2 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
        not_ok "$desc" "expected one line on stderr, got: $(cat "$tmp/err")"
        return 1
    fi
    ok "$desc"
}

# json KEY: the number after "KEY": in $tmp/out.
json() { tr -d '\n ' <"$tmp/out" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# check DESC AWK-CONDITION VAR=VALUE...: passes when the awk condition holds.
check() {
    local desc=$1 cond=$2
    shift 2
    local args=()
    for a in "$@"; do args+=(-v "$a"); done
    if awk "${args[@]}" "BEGIN { exit !($cond) }"; then ok "$desc"; else not_ok "$desc" "$*"; fi
}

# 1. log det of the 2-D Laplacian on a 20 x 20 grid: eigenvalues
#    4 - 2cos(i pi/21) - 2cos(j pi/21), so log det = sum of their logs.
exact=$(awk 'BEGIN { pi = atan2(0, -1); for (i = 1; i <= 20; i++) for (j = 1; j <= 20; j++)
             s += log(4 - 2 * cos(i * pi / 21) - 2 * cos(j * pi / 21)); printf "%.12f", s }')
if run 0 "logdet laplace2d:20x20 (30 probes, 30 steps) exits 0" -- \
    logdet --problem laplace2d:20x20 --probes 30 --steps 30 --seed 7 --format json --quiet; then
    est=$(json estimate)
    se=$(json stderr)
    check "log det within 3 standard errors of the exact $exact (got $est +/- $se)" \
        "(e - x < 0 ? x - e : e - x) <= 3 * s" e="$est" x="$exact" s="$se"
    check "log det within 2 % of the exact value" "(e - x < 0 ? x - e : e - x) <= 0.02 * x" \
        e="$est" x="$exact"
    keys=$(tr -d '\n ' <"$tmp/out" | grep -o '"[a-z_]*":' | tr -d '":' | tr '\n' ' ')
    case "$keys" in
    "estimate stderr matvecs seconds "*) ok "JSON starts with estimate, stderr, matvecs, seconds" ;;
    *) not_ok "JSON starts with estimate, stderr, matvecs, seconds" "got: $keys" ;;
    esac
    check "matvecs = probes x steps" "m == 900" m="$(json matvecs)"
fi

# 2. log det needs a positive definite matrix: diag(-1 .. 2) is not.
if run 3 "logdet of an indefinite matrix exits 3 with one line" -- \
    logdet --problem diag:-1:2:50 --quiet; then
    if grep -q "not positive definite" "$tmp/err"; then ok "the message says why"; else
        not_ok "the message says why" "$(cat "$tmp/err")"; fi
fi
run 3 "funm --f sqrt of an indefinite matrix exits 3" -- funm --problem diag:-1:2:50 --f sqrt

# 3. f(A) v: y = exp(-0.3 A) 1 for the 1-D Laplacian of size 50, against the
#    eigen-expansion sum_k exp(-0.3 lambda_k) (u_k^T 1) u_k, u_k(i) = sqrt(2/51) sin(i k pi/51).
if run 0 "funm exp(-0.3 A) 1 on laplace1d:50 exits 0" -- \
    funm --problem laplace1d:50 --f exp --t -0.3 --steps 30 --out "$tmp/y.mtx" --quiet; then
    err=$(grep -v '^%' "$tmp/y.mtx" | tail -n +2 | awk 'BEGIN { pi = atan2(0, -1); n = 50 }
        { y[NR] = $1 }
        END { for (i = 1; i <= n; i++) { s = 0
                for (k = 1; k <= n; k++) {
                  lam = 2 - 2 * cos(k * pi / (n + 1)); c = 0
                  for (j = 1; j <= n; j++) c += sqrt(2 / (n + 1)) * sin(j * k * pi / (n + 1))
                  s += exp(-0.3 * lam) * c * sqrt(2 / (n + 1)) * sin(i * k * pi / (n + 1)) }
                d = y[i] - s; if (d < 0) d = -d; if (d > worst) worst = d }
              printf "%.3e", worst }')
    check "f(A) v matches the eigen-expansion (max error $err)" "e <= 1e-12" e="$err"
fi
printf '%%%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n' >"$tmp/v3.mtx"
run 3 "funm with a vector of the wrong length exits 3" -- \
    funm --problem laplace1d:50 --f log --vector "$tmp/v3.mtx"

# 4. tr A by Hutchinson's estimator (f = x): tr tridiag(-1, 2, -1) = 2 n.
if run 0 "trace of laplace1d:100 exits 0" -- trace --problem laplace1d:100 --format json --quiet
then
    check "tr A within 3 standard errors of 200" "(e - 200 < 0 ? 200 - e : e - 200) <= 3 * s" \
        e="$(json estimate)" s="$(json stderr)"
fi

# 5. The spectral density integrates to 1 (trapezoid rule on the CSV grid).
if run 0 "density of laplace2d:16x16 exits 0" -- \
    density --problem laplace2d:16x16 --points 400 --out "$tmp/d.csv" --quiet; then
    integral=$(awk -F, 'NR > 1 { if (NR > 2) s += 0.5 * ($1 - t) * ($2 + d); t = $1; d = $2 }
                        END { printf "%.6f", s }' "$tmp/d.csv")
    check "density integrates to 1 (got $integral)" "(i - 1 < 0 ? 1 - i : i - 1) <= 2e-3" \
        i="$integral"
fi
if command -v gnuplot >/dev/null 2>&1; then
    run 0 "density --png draws a plot with gnuplot" -- density --problem laplace2d:16x16 \
        --out "$tmp/d.csv" --png "$tmp/d.png" --quiet && [ -s "$tmp/d.png" ] &&
        ok "the PNG file is not empty"
else
    run 4 "density --png without gnuplot says so" -- density --problem laplace2d:16x16 \
        --out "$tmp/d.csv" --png "$tmp/d.png" --quiet
fi

# 6. Usage errors are one clear line and exit 2.
run 2 "funm without --f" -- funm --problem laplace1d:10
run 2 "funm with an unknown function" -- funm --problem laplace1d:10 --f tan
run 2 "--t with a function other than exp" -- trace --problem laplace1d:10 --f log --t 2
run 2 "an option of another command" -- funm --problem laplace1d:10 --f exp --probes 3
run 2 "a malformed --range" -- density --problem laplace1d:10 --range 3:1
run 2 "--reorth selective is not offered" -- logdet --problem laplace1d:10 --reorth selective
run 3 "a missing Matrix Market file" -- logdet --mtx "$tmp/none.mtx"

echo "1..$n"
[ "$fails" -eq 0 ]
