#!/usr/bin/env bash
# Regenerates include/vyre.h from the Rust sources with the pinned cbindgen.
#
#   scripts/gen-header.sh           write include/vyre.h
#   scripts/gen-header.sh --check   regenerate into a temporary file and fail,
#                                   printing a diff, if include/vyre.h differs
#
# cbindgen is pinned (CBINDGEN_VERSION below): a different version may format
# the header differently. If the cbindgen on PATH (or in ~/.cargo/bin) is
# missing or another version, the pinned one is installed with
# `cargo install --locked`.
set -euo pipefail

CBINDGEN_VERSION=0.27.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
header="$root/include/vyre.h"

mode=write
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    -h|--help)
        sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    *) echo "gen-header.sh: unknown argument '$1' (use --check or nothing)" >&2; exit 2 ;;
esac

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

cbindgen_version() {
    # "cbindgen 0.27.0" -> "0.27.0"; empty when not installed.
    command -v cbindgen >/dev/null 2>&1 || return 0
    cbindgen --version 2>/dev/null | awk '{print $2}'
}

have="$(cbindgen_version)"
if [ "$have" != "$CBINDGEN_VERSION" ]; then
    echo "gen-header.sh: cbindgen ${have:-not found}; installing cbindgen $CBINDGEN_VERSION" >&2
    if ! command -v cargo >/dev/null 2>&1; then
        echo "gen-header.sh: cargo is not installed (scripts/test.sh installs it)" >&2
        exit 1
    fi
    cargo install --locked cbindgen --version "$CBINDGEN_VERSION" --force
    hash -r
    have="$(cbindgen_version)"
    if [ "$have" != "$CBINDGEN_VERSION" ]; then
        echo "gen-header.sh: cbindgen on PATH is still ${have:-missing}, wanted $CBINDGEN_VERSION" >&2
        exit 1
    fi
fi

tmp="$(mktemp "${TMPDIR:-/tmp}/vyre.h.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

# cbindgen reads the crate's sources directly (no compilation needed).
(cd "$root" && cbindgen --quiet --config cbindgen.toml --crate vyre --output "$tmp" .)

if [ "$mode" = check ]; then
    if [ ! -f "$header" ]; then
        echo "gen-header.sh --check: include/vyre.h does not exist; run scripts/gen-header.sh" >&2
        exit 1
    fi
    if ! diff -u --label include/vyre.h --label "include/vyre.h (regenerated)" "$header" "$tmp"; then
        echo "gen-header.sh --check: include/vyre.h is out of date; run scripts/gen-header.sh and commit it" >&2
        exit 1
    fi
    echo "gen-header.sh --check: include/vyre.h is up to date (cbindgen $CBINDGEN_VERSION)"
else
    mkdir -p "$(dirname "$header")"
    if [ -f "$header" ] && cmp -s "$tmp" "$header"; then
        echo "gen-header.sh: include/vyre.h unchanged"
    else
        cp "$tmp" "$header"
        chmod 0644 "$header"
        echo "gen-header.sh: wrote include/vyre.h"
    fi
fi
