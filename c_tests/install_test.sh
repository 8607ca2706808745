#!/usr/bin/env bash
# Install test (CTest: install_consumers). Installs the build tree into a
# temporary prefix, checks the installed layout, then builds and runs:
#   1. c_tests/consumer with CMake: find_package(vyre CONFIG) (twice, plus a
#      subproject), linking vyre::vyre and vyre::vyre_static;
#   2. the same main.c with `cc $(pkg-config --cflags --libs vyre)`, and once
#      statically with pkg-config's --static flags.
# Arguments are passed by c_tests/CMakeLists.txt.
set -euo pipefail

build_dir= work_dir= consumer_dir= libdir=lib includedir=include version=
cmake_bin=cmake generator= cc=cc pkg_config=pkg-config
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build_dir="$2" ;;
        --work-dir) work_dir="$2" ;;
        --consumer-dir) consumer_dir="$2" ;;
        --libdir) libdir="$2" ;;
        --includedir) includedir="$2" ;;
        --version) version="$2" ;;
        --cmake) cmake_bin="$2" ;;
        --generator) generator="$2" ;;
        --cc) cc="$2" ;;
        --pkg-config) pkg_config="$2" ;;
        *) echo "install_test.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
for v in build_dir work_dir consumer_dir version; do
    if [ -z "${!v}" ]; then echo "install_test.sh: --${v//_/-} is required" >&2; exit 2; fi
done

fail() { echo "install_test.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

major="${version%%.*}"
prefix="$work_dir/prefix"
rm -rf "$work_dir"
mkdir -p "$work_dir"

step "cmake --install $build_dir --prefix $prefix"
"$cmake_bin" --install "$build_dir" --prefix "$prefix"

case "$libdir" in /*) fail "absolute CMAKE_INSTALL_LIBDIR is not supported by this test" ;; esac
lib="$prefix/$libdir"
inc="$prefix/$includedir"

step "installed layout"
[ -f "$lib/libvyre.so.$version" ] && [ ! -L "$lib/libvyre.so.$version" ] \
    || fail "$lib/libvyre.so.$version is missing or not a regular file"
[ -L "$lib/libvyre.so.$major" ] && [ "$(readlink "$lib/libvyre.so.$major")" = "libvyre.so.$version" ] \
    || fail "$lib/libvyre.so.$major is not a link to libvyre.so.$version"
[ -L "$lib/libvyre.so" ] && [ "$(readlink -f "$lib/libvyre.so")" = "$(readlink -f "$lib/libvyre.so.$version")" ] \
    || fail "$lib/libvyre.so is not a link to the library"
[ -f "$lib/libvyre.a" ] || fail "$lib/libvyre.a missing"
[ -f "$inc/vyre.h" ] || fail "$inc/vyre.h missing"
[ -f "$lib/cmake/vyre/vyreConfig.cmake" ] || fail "vyreConfig.cmake missing"
[ -f "$lib/cmake/vyre/vyreConfigVersion.cmake" ] || fail "vyreConfigVersion.cmake missing"
[ -f "$lib/pkgconfig/vyre.pc" ] || fail "vyre.pc missing"
(cd "$prefix" && find . \( -type f -o -type l \) | sort | sed 's/^/   /')

# ------------------------------------------------------------ CMake consumer
step "CMake consumer: configure"
gen_args=()
[ -n "$generator" ] && gen_args=(-G "$generator")
"$cmake_bin" -S "$consumer_dir" -B "$work_dir/consumer-build" "${gen_args[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DVYRE_EXPECTED_VERSION="$version"
step "CMake consumer: build"
"$cmake_bin" --build "$work_dir/consumer-build"
for exe in consumer consumer_static sub/consumer_sub; do
    step "run $exe"
    "$work_dir/consumer-build/$exe"
done
# The shared consumer must resolve libvyre from the prefix (its build RPATH),
# the static one must not need libvyre.so at all.
ldd "$work_dir/consumer-build/consumer" | grep "libvyre.so.$major => $lib/" >/dev/null \
    || fail "consumer does not load $lib/libvyre.so.$major: $(ldd "$work_dir/consumer-build/consumer")"
if ldd "$work_dir/consumer-build/consumer_static" | grep libvyre >/dev/null; then
    fail "consumer_static depends on libvyre.so"
fi

# ------------------------------------------------------- pkg-config consumer
export PKG_CONFIG_PATH="$lib/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
step "pkg-config (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
pc_version="$("$pkg_config" --modversion vyre)"
[ "$pc_version" = "$version" ] || fail "pkg-config --modversion vyre = $pc_version, expected $version"
pc_prefix="$("$pkg_config" --variable=prefix vyre)"
[ "$pc_prefix" = "$prefix" ] || fail "pkg-config prefix = $pc_prefix, expected $prefix"
echo "   cflags: $("$pkg_config" --cflags vyre)"
echo "   libs:   $("$pkg_config" --libs vyre)"
echo "   static: $("$pkg_config" --static --libs vyre)"

step "pkg-config consumer (shared)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$cc" -std=c99 -Wall -Wextra -Werror -DEXPECTED_VERSION="\"$version\"" \
    "$consumer_dir/main.c" -o "$work_dir/pc_consumer" \
    $("$pkg_config" --cflags --libs vyre)
LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work_dir/pc_consumer"

step "pkg-config consumer (static: -Wl,-Bstatic -lvyre + Libs.private)"
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -DEXPECTED_VERSION="\"$version\"" \
    "$consumer_dir/main.c" -o "$work_dir/pc_consumer_static" \
    $("$pkg_config" --cflags vyre) \
    $("$pkg_config" --libs-only-L vyre) -Wl,-Bstatic -lvyre -Wl,-Bdynamic \
    $("$pkg_config" --static --libs-only-l vyre | sed 's/-lvyre\b//')
if ldd "$work_dir/pc_consumer_static" | grep libvyre >/dev/null; then
    fail "pc_consumer_static depends on libvyre.so"
fi
"$work_dir/pc_consumer_static"

echo "install_test.sh: all install checks passed"
