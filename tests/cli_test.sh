#!/usr/bin/env bash
# cli_test.sh KRY — end-to-end checks of the `kry` program, reported as TAP.
# Reference values are analytic spectra computed here with awk, independent of kry.
set -u
KRY=$(realpath "$1")
cd "$(dirname "${BASH_SOURCE[0]}")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }

# expect_exit CODE DESCRIPTION -- ARGS... : runs kry, checks the exit code and that stderr
# is exactly one line (for failures).
expect_exit() {
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

# max_err_vs FILE K WHICH SPEC: largest |computed - analytic| over the K eigenvalues in
# the JSON output FILE, for the 1-D Laplacian of size N (laplace1d:N).
laplace1d_err() {
    local file=$1 nn=$2 k=$3
    tr -d '\n ' <"$file" | sed 's/.*"eigenvalues":\[\([^]]*\)\].*/\1/' | tr ',' '\n' |
        awk -v n="$nn" -v k="$k" 'BEGIN { pi = atan2(0, -1); worst = 0 }
            { i = NR; exact = 2 - 2 * cos((n - i + 1) * pi / (n + 1));
              d = $1 - exact; if (d < 0) d = -d; if (d > worst) worst = d; cnt++ }
            END { if (cnt != k) print "count", cnt; else printf "%.3e\n", worst }'
}

# 1. JSON output on a built-in problem agrees with the analytic spectrum.
for reorth in full selective partial dgks none; do
    if expect_exit 0 "eigs laplace1d:200 -k 4 LA reorth=$reorth exits 0" -- \
        eigs --problem laplace1d:200 -k 4 --which LA --reorth "$reorth" --format json --quiet; then
        cp "$tmp/out" "$tmp/json"
        err=$(laplace1d_err "$tmp/json" 200 4)
        if awk -v e="$err" 'BEGIN { exit !(e + 0 <= 1e-9 && e != "") }' && [ "${err#count}" = "$err" ]; then
            ok "reorth=$reorth eigenvalues match 2-2cos(k pi/201) (max err $err)"
        else
            not_ok "reorth=$reorth eigenvalues match the analytic spectrum" "max err $err"
        fi
    fi
done
keys=$(tr -d '\n ' <"$tmp/json" | grep -o '"[a-z]*":' | tr -d '":' | tr '\n' ' ')
if [ "$keys" = "eigenvalues residuals converged matvecs seconds reason " ]; then
    ok "JSON has exactly the documented keys"
else
    not_ok "JSON has exactly the documented keys" "got: $keys"
fi

# 2. Power iteration and deflation on a diagonal problem (largest magnitude).
if expect_exit 0 "eigs diag power exits 0" -- \
    eigs --problem diag:1:10:10 -k 1 --which LM --method power --tol 1e-10 --format json --quiet; then
    v=$(tr -d '\n ' <"$tmp/out" | sed 's/.*"eigenvalues":\[\([^],]*\).*/\1/')
    awk -v v="$v" 'BEGIN { d = v - 10; exit !(d < 1e-8 && d > -1e-8) }' &&
        ok "power finds 10 on diag:1:10:10" || not_ok "power finds 10 on diag:1:10:10" "got $v"
fi
expect_exit 0 "eigs diag deflation k=3 exits 0" -- \
    eigs --problem diag:1:10:10 -k 3 --which LM --method deflation --tol 1e-10 --format tsv --quiet

# 3. Table output and --vectors.
expect_exit 0 "eigs table output with --vectors" -- \
    eigs --problem laplace2d:10x12 -k 3 --vectors "$tmp/vec.mtx" --quiet
if head -n 1 "$tmp/vec.mtx" | grep -q '^%%MatrixMarket matrix array real general' &&
    grep -v '^%' "$tmp/vec.mtx" | head -n 1 | grep -q '^120 3$'; then
    ok "--vectors writes a 120 x 3 Matrix Market array"
else
    not_ok "--vectors writes a 120 x 3 Matrix Market array" "$(head -n 3 "$tmp/vec.mtx")"
fi

# 4. Budget exhausted: exit 1 with results still printed.
expect_exit 1 "budget too small exits 1" -- \
    eigs --problem laplace1d:400 -k 5 --max-matvecs 12 --format json --quiet
grep -q '"eigenvalues"' "$tmp/out" && ok "results printed when not converged" ||
    not_ok "results printed when not converged"

# 4b. Thick restart (the default) vs --restart none, --basis, progress lines, and every
#     copy of the paired eigenvalues of a square grid (reference: awk + sort).
json_values() { tr -d '\n ' <"$1" | sed 's/.*"eigenvalues":\[\([^]]*\)\].*/\1/' | tr ',' '\n'; }
grid_top() { # grid_top M K ORDER: the K largest (ORDER -g -r) or smallest (-g) of the M x M grid
    awk -v m="$1" 'BEGIN { pi = atan2(0, -1);
        for (i = 1; i <= m; i++) for (j = 1; j <= m; j++)
            printf "%.17g\n", 4 - 2 * cos(i * pi / (m + 1)) - 2 * cos(j * pi / (m + 1)) }' |
        sort $3 | head -n "$2"
}
max_diff() { paste "$1" "$2" | awk 'BEGIN { w = 0 } { d = $1 - $2; if (d < 0) d = -d; if (d > w) w = d; n++ }
    END { if (n == 0) print "none"; else printf "%.3e\n", w }'; }
for which in LA SA; do
    order=-g; [ "$which" = LA ] && order="-g -r"
    if expect_exit 0 "thick restart laplace2d:14x14 -k 8 $which exits 0" -- \
        eigs --problem laplace2d:14x14 -k 8 --which "$which" --format json --quiet; then
        json_values "$tmp/out" >"$tmp/got"
        grid_top 14 8 "$order" >"$tmp/want"
        d=$(max_diff "$tmp/got" "$tmp/want")
        if [ "$(grep -c . "$tmp/got")" -eq 8 ] && awk -v d="$d" 'BEGIN { exit !(d + 0 <= 1e-10 && d != "none") }'; then
            ok "square grid $which: every paired eigenvalue returned (max err $d)"
        else
            not_ok "square grid $which: every paired eigenvalue returned" "max err $d; got $(tr '\n' ' ' <"$tmp/got")"
        fi
    fi
done
if expect_exit 0 "--restart none --reorth selective exits 0" -- \
    eigs --problem laplace1d:200 -k 4 --restart none --reorth selective --format json --quiet; then
    err=$(laplace1d_err "$tmp/out" 200 4)
    awk -v e="$err" 'BEGIN { exit !(e + 0 <= 1e-9 && e != "") }' &&
        ok "--restart none matches the analytic spectrum ($err)" ||
        not_ok "--restart none matches the analytic spectrum" "max err $err"
fi
if expect_exit 0 "--basis 9 (many restarts) exits 0" -- \
    eigs --problem laplace1d:120 -k 4 --basis 9 --format json --quiet; then
    err=$(laplace1d_err "$tmp/out" 120 4)
    awk -v e="$err" 'BEGIN { exit !(e + 0 <= 1e-9 && e != "") }' &&
        ok "--basis 9 matches the analytic spectrum ($err)" ||
        not_ok "--basis 9 matches the analytic spectrum" "max err $err"
fi
if expect_exit 0 "progress lines without --quiet" -- eigs --problem laplace1d:100 -k 3 --basis 8; then
    grep -q "kry eigs: restart [0-9]*, [0-9]* matvecs" "$tmp/err" &&
        ok "progress lines go to stderr" || not_ok "progress lines go to stderr" "$(head -3 "$tmp/err")"
fi

# 5. Usage errors: exit 2 and one line.
expect_exit 2 "-k 0 is a usage error" -- eigs --problem laplace1d:10 -k 0
expect_exit 2 "k > n is a usage error" -- eigs --problem laplace1d:10 -k 11
expect_exit 2 "unknown option" -- eigs --problem laplace1d:10 --frobnicate
expect_exit 2 "bad --which" -- eigs --problem laplace1d:10 --which XX
expect_exit 2 "bad --reorth" -- eigs --problem laplace1d:10 --reorth sometimes
expect_exit 2 "bad --restart" -- eigs --problem laplace1d:10 --restart often
expect_exit 2 "--basis 0" -- eigs --problem laplace1d:10 --basis 0
expect_exit 2 "--basis below k + 2" -- eigs --problem laplace1d:50 -k 4 --basis 5
expect_exit 2 "--basis with --restart none" -- eigs --problem laplace1d:50 --basis 20 --restart none
expect_exit 2 "bad --tol" -- eigs --problem laplace1d:10 --tol abc
expect_exit 2 "no matrix given" -- eigs -k 2
expect_exit 2 "bad problem spec" -- eigs --problem laplace3d:4
expect_exit 2 "unknown command" -- frobnicate

# 6. Bad input data: exit 3 and one line naming the file (and line where one applies).
for f in data/bad_*.mtx; do
    [ -e "$f" ] || continue
    if expect_exit 3 "bad input $f exits 3" -- eigs --mtx "$f" -k 1 --quiet; then
        grep -q "$(basename "$f")" "$tmp/err" && ok "message for $f names the file" ||
            not_ok "message for $f names the file" "$(cat "$tmp/err")"
    fi
done
expect_exit 3 "missing file exits 3" -- eigs --mtx data/does_not_exist.mtx -k 1
# The malformed inputs the foundation issue names, each with the line its message cites.
for case in bad_banner:1 too_few:6 index_range:4 nan:4 inf:3 nonsquare:2 complex:1 skew:1 \
    hermitian:1; do
    f=${case%%:*}.mtx line=${case##*:}
    if expect_exit 3 "$f exits 3" -- eigs --mtx "data/$f" -k 1 --quiet; then
        grep -q "^kry eigs: data/$f:$line: " "$tmp/err" && ok "$f message cites $f:$line" ||
            not_ok "$f message cites $f:$line" "$(cat "$tmp/err")"
    fi
done
if expect_exit 3 "a general matrix that is not symmetric exits 3" -- \
    eigs --mtx data/notsym.mtx -k 1 --quiet; then
    grep -q "not symmetric: |a(2,3) - a(3,2)| = 0.25 at (2, 3)" "$tmp/err" &&
        ok "asymmetry message names the largest asymmetry" ||
        not_ok "asymmetry message names the largest asymmetry" "$(cat "$tmp/err")"
fi

# 7. kry train: a short run learns toy12; bad options and missing data fail cleanly.
if expect_exit 0 "train toy12 dim 5, 30 epochs" -- \
    train --task toy12 --dim 5 --epochs 30 --seed 3 --format json --quiet; then
    keys=$(tr -d '\n ' <"$tmp/out" | grep -o '"[a-z_]*":' | tr -d '":' | tr '\n' ' ')
    for key in train_loss val_loss epochs seconds_per_epoch; do
        case " $keys" in
        *" $key "*) ok "train JSON has $key" ;;
        *) not_ok "train JSON has $key" "keys: $keys" ;;
        esac
    done
    val=$(tr -d '\n ' <"$tmp/out" | sed 's/.*"val_loss":\([^,}]*\).*/\1/')
    awk -v v="$val" 'BEGIN { exit !(v + 0 < 0.35) }' &&
        ok "train reaches validation BCE $val < 0.35 (log 2 = 0.69 is chance)" ||
        not_ok "train reaches validation BCE < 0.35" "got $val"
fi
expect_exit 2 "train: unknown task" -- train --task nope
expect_exit 2 "train: zero epochs" -- train --task toy12 --epochs 0
KRY_DATA_DIR="$tmp/nodata" expect_exit 3 "train: missing data set names the path" -- \
    train --task diabetes --quiet
grep -q "$tmp/nodata/diabetes" "$tmp/err" && ok "missing data message names the file" ||
    not_ok "missing data message names the file" "$(cat "$tmp/err")"

echo "1..$n"
[ "$fails" -eq 0 ]
