#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time; fails on any
# crash, assertion failure, leak or hang (libFuzzer's -timeout).
#
#   scripts/fuzz.sh [seconds per target, default 60] [target...]
#
# Toolchain: cargo-fuzz needs nightly-only flags (-Zsanitizer=address). CI
# and developer machines have one stable toolchain and cannot download
# another, so the stable compiler is run with RUSTC_BOOTSTRAP=1, which
# unlocks those flags; the address sanitizer's runtime ships with stable's
# x86_64 Linux standard library. cargo-fuzz itself is installed from
# crates.io when missing. Each target starts from its committed seeds
# (fuzz/corpus/<target>/, read only) and writes what it discovers to a
# scratch folder; a failing input is kept in fuzz/artifacts/<target>/.
# Prints the executions of each target and a closing summary line.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

seconds="${1:-60}"
shift || true
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --version '^0.13' >&2
fi
export RUSTC_BOOTSTRAP=1
# One build flavour for build and run: release, with debug assertions (and
# so overflow checks) on.
flags=(--release --debug-assertions)

if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
cargo fuzz build "${flags[@]}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/vyre-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0 summary=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "artifacts/$target"
    log="$scratch/$target.log"
    echo "== fuzz $target (${seconds}s)"
    # -timeout: one input taking 10 s is a hang. The seeds' folder comes
    # second, so libFuzzer reads it but writes new inputs to the scratch one.
    if cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        result=ok; passed=$((passed + 1))
    else
        result=FAILED; failed=$((failed + 1))
        tail -n 60 "$log"
    fi
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)"
    summary+=("$(printf '  %-10s %-6s %12s executions in %ss' "$target" "$result" "${runs:-?}" "$seconds")")
    echo "${summary[-1]}"
done
echo "fuzz summary:"
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
