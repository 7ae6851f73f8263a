# scripts/common.sh — shared set-up for ./scripts/demo and ./scripts/test (sourced).
# Installs the Debian packages kry needs (only the missing ones), then configures and
# builds with Meson. Safe to run again: every step is idempotent.

KRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KRY_PACKAGES="gcc pkg-config meson ninja-build libopenblas-dev liblapacke-dev check"

say() { printf '==> %s\n' "$*" >&2; }

kry_install_packages() {
    local missing=() p
    for p in $KRY_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all present"
        return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# kry_build DIR [meson options...]: configure DIR once (reconfigure when it exists), build.
kry_build() {
    local dir=$1
    shift
    cd "$KRY_ROOT"
    if [ -f "$dir/build.ninja" ]; then
        say "reconfiguring $dir"
        meson configure "$dir" "$@" >/dev/null
    else
        say "configuring $dir ($*)"
        meson setup "$dir" "$@" >/dev/null
    fi
    say "building $dir"
    ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
