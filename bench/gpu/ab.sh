#!/usr/bin/env bash
# A/B runs of the scanning benches on the GPU machine, side by side in one
# call: the working tree ("base") and the working tree with each patch
# applied, alternating, so that every variant meets the same machine state.
#
#   bash bench/gpu/ab.sh bench/patches/walk-plain-steps.patch [more.patch ...]
#
# builds bench-large-jobs and bench-scan for every variant here, stages them
# with ../shared/gpu/pack.sh (the GPU machine has no compiler) and writes
# .gpu/ab.sh. Then, through the device tool, with carry [".gpu"]:
#
#   bash .gpu/ab.sh            # one line per rep; bench-scan's large-file rows
#
# Patches must apply to the working tree (`git apply --check`); each is
# reverted after its build, whatever happens.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
pack="$root/../shared/gpu/pack.sh"
[ -f "$pack" ] || { echo "ab.sh: $pack not found (see ../shared/GPU.md)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: bash bench/gpu/ab.sh PATCH..." >&2; exit 2; }
for patch in "$@"; do
    git apply --check "$patch" || { echo "ab.sh: $patch does not apply to the working tree" >&2; exit 2; }
done

out=$(mktemp -d)
build() {  # build into $out/$1-{large,scan}
    cargo build --release --example bench-large-jobs --example bench-scan >/dev/null
    cp target/release/examples/bench-large-jobs "$out/$1-large"
    cp target/release/examples/bench-scan "$out/$1-scan"
    strip "$out/$1-large" "$out/$1-scan"
}
names=(base)
build base
for patch in "$@"; do
    name=$(basename "$patch" .patch)
    git apply "$patch"
    trap 'git apply -R "$patch"' EXIT
    build "$name"
    git apply -R "$patch"
    trap - EXIT
    names+=("$name")
done

bash "$pack" "$out"/*-large "$out"/*-scan /usr/lib/x86_64-linux-gnu/libhs.so.5
{
    echo '. .gpu/env.sh'
    echo 'nvidia-smi --query-gpu=name,driver_version --format=csv,noheader'
    echo 'nvidia-smi -q | grep -A1 "BAR1 Memory Usage" | tail -1'
    echo 'cd "$OUT"'
    echo 'B=$OLDPWD/.gpu/bin'
    echo "for round in 1 2; do"
    echo "  for v in ${names[*]}; do"
    echo '    for l in 10 1000 5000; do echo "-- $v bench-large-jobs $l literals"; $B/$v-large --threads 4 --literals $l --reps 3 2>&1 | tail -2; done'
    echo '    echo "-- $v bench-scan"; $B/$v-scan --sets 1000,5000 --engines vyre --large-mib 256 --queue-depth 16384 --small-mib 1 --headline-jobs 100 2>&1 | grep "large files" | grep "in GPU"'
    echo "  done"
    echo "done"
} > .gpu/ab.sh
rm -rf "$out"
echo "ab.sh: staged ${names[*]}; run: bash .gpu/ab.sh (carry [\".gpu\"])"
