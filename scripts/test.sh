#!/usr/bin/env bash
# Runs every test of libvyre; installs what it needs first.
#
#   1. scripts/install-deps.sh --test  (Debian packages, Rust; only if missing)
#   2. cargo test --all-targets --no-fail-fast  (unit and integration tests,
#      examples and benches built and run as tests; not doctests)
#   3. scripts/gen-header.sh --check    (include/vyre.h matches the sources)
#   4. cmake configure + build in build/, then ctest --output-on-failure
#      (C tests plain, under valgrind and ASan/UBSan; header, ABI and
#      install tests; the example)
#   5. loom models: RUSTFLAGS="--cfg loom" cargo test --release --test
#      'loom_*' in target/loom/ (docs/RELIABILITY.md)
#   6. scripts/fuzz.sh $VYRE_FUZZ_SECONDS: every fuzz target
#
# Environment:
#   VYRE_CARGO_PROFILE  release (default) or debug: profile of `cargo test`
#                       and of the CMake build (CMAKE_BUILD_TYPE Release/Debug)
#   VYRE_CTEST_JOBS     parallel CTest jobs (default 2)
#   VYRE_BUILD_DIR      CMake build directory (default build)
#   VYRE_FUZZ_SECONDS   seconds per fuzz target (default 60; 0 skips fuzzing)
#   LOOM_MAX_PREEMPTIONS  loom's bound on preemptions per execution (default 2)
# Exits non-zero if any step fails; prints each runner's summary at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

profile="${VYRE_CARGO_PROFILE:-release}"
jobs="${VYRE_CTEST_JOBS:-2}"
build_dir="${VYRE_BUILD_DIR:-build}"
case "$profile" in
    release) cargo_profile=(--release); build_type=Release ;;
    debug) cargo_profile=(); build_type=Debug ;;
    *) echo "test.sh: VYRE_CARGO_PROFILE must be release or debug" >&2; exit 2 ;;
esac

logs="$(mktemp -d "${TMPDIR:-/tmp}/vyre-test.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
start=$SECONDS
banner() { printf '\n===== %s (%ds)\n' "$*" "$((SECONDS - start))"; }

banner "dependencies"
bash scripts/install-deps.sh --test
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

status=0

banner "cargo test --all-targets --no-fail-fast ${cargo_profile[*]}"
if cargo test --all-targets --no-fail-fast "${cargo_profile[@]}" 2>&1 | tee "$logs/cargo.log"; then
    cargo_ok=1
else
    cargo_ok=0; status=1
fi

banner "scripts/gen-header.sh --check"
if bash scripts/gen-header.sh --check; then header_ok=1; else header_ok=0; status=1; fi

banner "cmake configure + build ($build_type, $build_dir/)"
ctest_ok=0
if cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" \
   && cmake --build "$build_dir" -j 2; then
    banner "ctest --output-on-failure -j $jobs"
    if (cd "$build_dir" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$logs/ctest.log"; then
        ctest_ok=1
    else
        status=1
    fi
else
    echo "test.sh: CMake configure or build failed" >&2
    status=1
fi

banner "loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2})"
# Its own target folder: --cfg loom would otherwise rebuild everything above.
if LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test --release --test 'loom_*' 2>&1 | tee "$logs/loom.log"; then
    loom_ok=1
else
    loom_ok=0; status=1
fi

fuzz_seconds="${VYRE_FUZZ_SECONDS:-60}"
fuzz_ok=1
if [ "$fuzz_seconds" -gt 0 ]; then
    banner "scripts/fuzz.sh $fuzz_seconds"
    if ! bash scripts/fuzz.sh "$fuzz_seconds" 2>&1 | tee "$logs/fuzz.log"; then fuzz_ok=0; status=1; fi
fi

banner "summary"
echo "cargo test:"
grep -E '^test result:' "$logs/cargo.log" | sed 's/^/  /' || echo "  (no test result lines)"
[ "$cargo_ok" -eq 1 ] || echo "  FAILED"
echo "header check: $([ "$header_ok" -eq 1 ] && echo ok || echo FAILED)"
echo "ctest:"
if [ -f "$logs/ctest.log" ]; then
    grep -E 'tests passed|tests failed|^The following tests' "$logs/ctest.log" | sed 's/^/  /' || true
    sed -n '/^The following tests FAILED:/,$p' "$logs/ctest.log" | tail -n +2 | sed 's/^/  /'
    [ "$ctest_ok" -eq 1 ] || echo "  FAILED"
else
    echo "  not run (configure or build failed)"
fi
echo "loom:"
grep -E '^test result:' "$logs/loom.log" | sed 's/^/  /' || echo "  (no test result lines)"
[ "$loom_ok" -eq 1 ] || echo "  FAILED"
if [ "$fuzz_seconds" -gt 0 ]; then
    echo "fuzz:"
    sed -n '/^fuzz summary:/,$p' "$logs/fuzz.log" | tail -n +2 | sed 's/^/  /'
    [ "$fuzz_ok" -eq 1 ] || echo "  FAILED"
else
    echo "fuzz: skipped (VYRE_FUZZ_SECONDS=0)"
fi
# One closing line with the counts of every runner (a fuzz target counts
# as one test).
cargo_pass=0 cargo_fail=0 cargo_ignored=0
while read -r p f i; do
    cargo_pass=$((cargo_pass + p)); cargo_fail=$((cargo_fail + f)); cargo_ignored=$((cargo_ignored + i))
done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' "$logs/cargo.log")
ctest_total=0 ctest_fail=0 ctest_skip=0
if [ -f "$logs/ctest.log" ]; then
    line="$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$logs/ctest.log" | tail -n1 || true)"
    if [ -n "$line" ]; then
        ctest_fail="$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")"
        ctest_total="$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")"
    fi
    ctest_skip="$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$logs/ctest.log" || true)"
fi
# A step that failed without counting (build error, header diff) counts as one failure.
extra_fail=0
[ "$header_ok" -eq 1 ] || extra_fail=$((extra_fail + 1))
[ "$cargo_ok" -eq 1 ] || [ "$cargo_fail" -gt 0 ] || extra_fail=$((extra_fail + 1))
[ "$ctest_ok" -eq 1 ] || [ "$ctest_fail" -gt 0 ] || extra_fail=$((extra_fail + 1))
loom_pass=0 loom_fail=0
while read -r p f; do
    loom_pass=$((loom_pass + p)); loom_fail=$((loom_fail + f))
done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$logs/loom.log")
[ "$loom_ok" -eq 1 ] || [ "$loom_fail" -gt 0 ] || extra_fail=$((extra_fail + 1))
fuzz_pass=0 fuzz_fail=0
if [ "$fuzz_seconds" -gt 0 ]; then
    read -r fuzz_pass fuzz_fail < <(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$logs/fuzz.log" | tail -n1) || true
    fuzz_pass="${fuzz_pass:-0}" fuzz_fail="${fuzz_fail:-0}"
    [ "$fuzz_ok" -eq 1 ] || [ "$fuzz_fail" -gt 0 ] || extra_fail=$((extra_fail + 1))
fi
passed=$((cargo_pass + ctest_total - ctest_fail - ctest_skip + loom_pass + fuzz_pass))
failed=$((cargo_fail + ctest_fail + extra_fail + loom_fail + fuzz_fail))
skipped=$((cargo_ignored + ctest_skip))
echo "total time: $((SECONDS - start))s"
if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED"
else
    echo "test.sh: all passed"
fi
echo "total: $passed passed, $failed failed, $skipped skipped"
exit "$status"
