#!/usr/bin/env bash
# Builds libvyre (Release) and its C examples with CMake, then runs:
#   1. build/examples/vyre-scan -F examples/patterns/secrets.txt --verify examples/corpus
#      a grep-like secret scanner on libvyre's scanning engine: it walks the
#      bundled demo corpus (fake credentials in source, config and log files),
#      scans every file on the default backend (the resident Vulkan kernel: the
#      GPU, else lavapipe), prints path:end_offset:pattern for every match and a
#      summary (throughput, backend, device), and checks every file against the
#      CPU oracle (--verify);
#   2. build/examples/megakernel_demo: the bare megakernel driven from C.
# Both use the public header only. Installs what it needs.
#
#   bash scripts/demo.sh                  # both steps
#   bash scripts/demo.sh ARGS...          # only vyre-scan, with ARGS instead of
#                                         # the defaults (paths relative to the repo)
#
# Environment: VYRE_BUILD_DIR (default build); VYRE_BACKEND=reference|vulkan
# picks the backend of both programs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${VYRE_BUILD_DIR:-build}"

bash scripts/install-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --target vyre-scan megakernel_demo -j 2

if [ "$#" -gt 0 ]; then
    echo
    echo "===== $build_dir/examples/vyre-scan $*"
    exec "$build_dir/examples/vyre-scan" "$@"
fi

echo
echo "===== $build_dir/examples/vyre-scan -F examples/patterns/secrets.txt --verify examples/corpus"
"$build_dir/examples/vyre-scan" -F examples/patterns/secrets.txt --verify examples/corpus

echo
echo "===== $build_dir/examples/megakernel_demo"
exec "$build_dir/examples/megakernel_demo"
