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

# 7. kry hessian on a small synthetic CSV (no network, no cache): 120 rows, 8 features,
#    3 classes around fixed prototypes, generated here with a deterministic LCG.
awk 'BEGIN { s = 12345;
    for (r = 0; r < 120; r++) {
        c = r % 3; line = "";
        for (j = 0; j < 8; j++) {
            s = (s * 1103515245 + 12345) % 2147483648;
            x = ((j + c) % 3) - 1 + 0.8 * (s / 2147483648 - 0.5);
            line = line sprintf("%.6f,", x);
        }
        print line c } }' >"$tmp/h.csv"
json_array() { # json_array FILE OBJECT KEY: the array OBJECT.KEY, one number per line
    tr -d '\n ' <"$1" | sed "s/.*\"$2\":{\([^}]*\)}.*/\1/" | sed "s/.*\"$3\":\[\([^]]*\)\].*/\1/" |
        tr ',' '\n' | awk 1
}
hopts="--data $tmp/h.csv --hidden 6 --steps 25 --lr 0.3 --batch 16 --hessian-rows 80 -k 4 --quiet"
if expect_exit 0 "hessian json with --save-params exits 0" -- \
    hessian $hopts --format json --save-params "$tmp/p.txt"; then
    cp "$tmp/out" "$tmp/h1.json"
    keys=$(tr -d '\n ' <"$tmp/h1.json" | grep -o '"[a-z_]*":' | tr -d '":' | sort -u | tr '\n' ' ')
    for k in before after eigenvalues residuals hvps seconds; do
        case " $keys" in *" $k "*) ;; *) not_ok "hessian JSON has key $k" "keys: $keys"; continue 2 ;; esac
    done
    ok "hessian JSON has before/after with eigenvalues, residuals, hvps, and seconds"
    [ "$(json_array "$tmp/h1.json" after eigenvalues | wc -l)" -eq 4 ] &&
        ok "hessian JSON after has 4 eigenvalues" || not_ok "hessian JSON after has 4 eigenvalues"
    # 8 -> 6 -> 3: P = 6*9 + 3*7 = 75 numbers after the sizes line.
    if [ "$(head -n 1 "$tmp/p.txt")" = "8 6 3" ] && [ "$(wc -l <"$tmp/p.txt")" -eq 76 ]; then
        ok "--save-params writes the sizes line and 75 numbers"
    else
        not_ok "--save-params writes the sizes line and 75 numbers" "$(head -n 2 "$tmp/p.txt")"
    fi
    # Reloading the trained parameters reproduces the trained spectrum bit for bit (%.17g).
    if expect_exit 0 "hessian --load-params --steps 0 exits 0" -- \
        hessian --data "$tmp/h.csv" --hessian-rows 80 -k 4 --quiet --steps 0 \
        --load-params "$tmp/p.txt" --format json; then
        a=$(json_array "$tmp/h1.json" after eigenvalues | tr '\n' ' ')
        b=$(json_array "$tmp/out" before eigenvalues | tr '\n' ' ')
        if [ -n "$a" ] && [ "$a" = "$b" ]; then
            ok "--save-params then --load-params reproduces the spectrum bit for bit"
        else
            not_ok "--save-params then --load-params reproduces the spectrum bit for bit" "$a vs $b"
        fi
        grep -q '"after"' "$tmp/out" && not_ok "--steps 0 prints no after object" ||
            ok "--steps 0 prints no after object"
    fi
    # The FD-HVP operator gives the same eigenvalues to ~1e-7.
    if expect_exit 0 "hessian --hvp fd exits 0" -- hessian $hopts --format json --hvp fd; then
        paste <(json_array "$tmp/h1.json" after eigenvalues) <(json_array "$tmp/out" after eigenvalues) |
            awk '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1; if (d > 1e-7 * a) bad++ }
                 END { exit bad > 0 }' &&
            ok "--hvp fd eigenvalues match --hvp exact to 1e-7" ||
            not_ok "--hvp fd eigenvalues match --hvp exact to 1e-7"
    fi
fi
# Trace: for softmax regression (8 features, 3 classes: P = 27) -k 27 gives every
# eigenvalue, whose sum is the trace; Hutchinson's estimate must lie within 5 standard
# errors of it.
if expect_exit 0 "hessian --trace with all eigenvalues exits 0" -- \
    hessian --data "$tmp/h.csv" --hidden none --steps 10 --hessian-rows 60 -k 27 --tol 1e-10 \
    --trace --probes 400 --format json --quiet; then
    sum=$(json_array "$tmp/out" after eigenvalues | awk '{ s += $1 } END { printf "%.17g", s }')
    tr_est=$(tr -d '\n ' <"$tmp/out" | sed 's/.*"after":{\(.*\)/\1/' | sed 's/.*"trace":\([^,]*\),.*/\1/')
    tr_se=$(tr -d '\n ' <"$tmp/out" | sed 's/.*"after":{\(.*\)/\1/' | sed 's/.*"trace_stderr":\([^,]*\),.*/\1/')
    if awk -v s="$sum" -v t="$tr_est" -v e="$tr_se" 'BEGIN { d = s - t; if (d < 0) d = -d;
        exit !(e > 0 && d <= 5 * e) }'; then
        ok "Hutchinson trace $tr_est +- $tr_se agrees with the eigenvalue sum $sum"
    else
        not_ok "Hutchinson trace agrees with the eigenvalue sum" "$tr_est +- $tr_se vs $sum"
    fi
fi
# Density: the CSV has t and both densities, which are nonnegative and integrate to 1
# (trapezoidal rule on the grid, which spans the Ritz range plus 3 sigma).
if expect_exit 0 "hessian --density exits 0" -- \
    hessian $hopts --density "$tmp/dens.csv" --density-probes 3 --points 300 --format json; then
    if [ "$(head -n 1 "$tmp/dens.csv")" = "t,density_before,density_after" ] &&
        [ "$(wc -l <"$tmp/dens.csv")" -eq 301 ] &&
        awk -F, 'NR > 1 { if ($2 < 0 || $3 < 0) bad = 1;
                 if (NR > 2) { h = $1 - t; i2 += h * ($2 + b) / 2; i3 += h * ($3 + a) / 2 }
                 t = $1; b = $2; a = $3 }
             END { d2 = i2 - 1; d3 = i3 - 1; if (d2 < 0) d2 = -d2; if (d3 < 0) d3 = -d3;
                   exit bad || d2 > 1e-2 || d3 > 1e-2 }' "$tmp/dens.csv"; then
        ok "--density writes two nonnegative densities that integrate to 1"
    else
        not_ok "--density writes two nonnegative densities that integrate to 1" "$(head -n 3 "$tmp/dens.csv")"
    fi
    grep -q '"density_hvps"' "$tmp/out" && ok "hessian JSON reports density_hvps" ||
        not_ok "hessian JSON reports density_hvps"
fi
# --check: true residuals (recomputed with one HVP per pair) pass the tolerance test the
# driver applied (|r| <= tol |theta|, here with a factor 2 of slack); --verify changes
# nothing on a spectrum without repeated eigenvalues but costs HVPs.
if expect_exit 0 "hessian --check --verify exits 0" -- \
    hessian $hopts --check --verify --tol 1e-6 --format json; then
    paste <(json_array "$tmp/out" after eigenvalues) <(json_array "$tmp/out" after true_residuals) |
        awk '{ a = $1 < 0 ? -$1 : $1; if (!($2 <= 2e-6 * a)) bad++; n++ } END { exit bad > 0 || n != 4 }' &&
        ok "--check true residuals are within the tolerance" ||
        not_ok "--check true residuals are within the tolerance" "$(grep true_residuals "$tmp/out")"
    grep -q '"verify_hvps"' "$tmp/out" && grep -q '"orthogonality"' "$tmp/out" &&
        ok "hessian JSON reports verify_hvps and orthogonality" ||
        not_ok "hessian JSON reports verify_hvps and orthogonality"
fi
expect_exit 0 "hessian table output exits 0" -- hessian $hopts --trace --probes 10
grep -q 'eigenvalue' "$tmp/out" && grep -q 'trace (Hutchinson)' "$tmp/out" &&
    ok "hessian table shows eigenvalues and the trace" ||
    not_ok "hessian table shows eigenvalues and the trace" "$(head -c 300 "$tmp/out")"
expect_exit 1 "hessian with a too small HVP budget exits 1" -- hessian $hopts --max-hvps 5
# Errors.
if KRY_DATA_DIR="$tmp/nodata" expect_exit 3 "hessian without the digits data exits 3" -- \
    hessian --quiet; then
    grep -q "$tmp/nodata/digits.csv" "$tmp/err" && grep -q 'scripts/fetch-data' "$tmp/err" &&
        ok "missing digits: the message names the path and the fetch command" ||
        not_ok "missing digits: the message names the path and the fetch command" "$(cat "$tmp/err")"
fi
sed '5s/,[0-9]*$/,1.5/' "$tmp/h.csv" >"$tmp/badlabel.csv"
expect_exit 3 "hessian with a non-integer label exits 3" -- hessian --data "$tmp/badlabel.csv" --quiet
grep -q 'badlabel.csv: data row 5' "$tmp/err" && ok "bad label: the message names file and row" ||
    not_ok "bad label: the message names file and row" "$(cat "$tmp/err")"
expect_exit 3 "hessian with mismatched --load-params exits 3" -- \
    hessian --data "$tmp/h.csv" --hidden 5 --load-params "$tmp/p.txt" --quiet
{ echo "8 6 3"; echo "0.25"; echo "abc"; } >"$tmp/badp.txt"
expect_exit 3 "hessian with a malformed parameter file exits 3" -- \
    hessian --data "$tmp/h.csv" --load-params "$tmp/badp.txt" --quiet
grep -q 'badp.txt:3' "$tmp/err" && ok "malformed parameter file: message names file:line" ||
    not_ok "malformed parameter file: message names file:line" "$(cat "$tmp/err")"
expect_exit 2 "hessian --hessian-rows beyond the data exits 2" -- \
    hessian --data "$tmp/h.csv" --hessian-rows 500 --quiet
expect_exit 2 "hessian bad --act exits 2" -- hessian --act sigmoid
expect_exit 2 "hessian bad --hidden exits 2" -- hessian --hidden 16,,16
expect_exit 2 "hessian bad --hvp exits 2" -- hessian --hvp approx
expect_exit 2 "hessian -k beyond the parameter count exits 2" -- \
    hessian --data "$tmp/h.csv" --hidden none -k 28 --quiet

echo "1..$n"
[ "$fails" -eq 0 ]
