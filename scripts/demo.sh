#!/usr/bin/env bash
# Builds libvyre (Release) and its C example with CMake, then runs
# build/examples/megakernel_demo: a C program that drives a megakernel on the
# default backend (the resident Vulkan kernel: the GPU, else lavapipe)
# through the public header only. Installs what it needs.
#
# Environment: VYRE_BUILD_DIR (default build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="${VYRE_BUILD_DIR:-build}"

bash scripts/install-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --target megakernel_demo -j 2

echo
echo "===== $build_dir/examples/megakernel_demo"
exec "$build_dir/examples/megakernel_demo" "$@"
