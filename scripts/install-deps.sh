#!/usr/bin/env bash
# Installs what building and testing libvyre needs, and only what is missing:
#   Debian packages: build-essential cmake pkg-config binutils, ca-certificates
#     (cargo fetches crates over https), glslc and spirv-tools (build.rs
#     compiles and validates the shaders), the Vulkan loader and Mesa's
#     lavapipe CPU driver (libvulkan1 mesa-vulkan-drivers: without a GPU the
#     resident kernel runs on lavapipe); with --test also valgrind;
#   Rust: cargo/rustc through rustup, only when cargo is not found.
# apt-get update runs only when a package is missing. Run by scripts/test.sh
# and scripts/demo.sh; needs root (or sudo) only when something is missing.
#
#   scripts/install-deps.sh [--test]
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

log() { echo "install-deps: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else log "need root to run: $*"; return 1
    fi
}

# ---------------------------------------------------------- Debian packages
packages=(build-essential cmake pkg-config binutils ca-certificates glslc spirv-tools
          libvulkan1 mesa-vulkan-drivers)
[ "$want_test" -eq 1 ] && packages+=(valgrind)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]} and apt-get is not available; install them by hand"
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --------------------------------------------------------------------- Rust
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
        log "cargo not found; installing the stable toolchain with rustup"
        rustup toolchain install stable --profile minimal
        rustup default stable
    else
        # Debian 12's own rustc is older than the crate's rust-version; this
        # is a last resort for machines without rustup.
        log "neither cargo nor rustup found; trying Debian's cargo"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq
        as_root apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null
    fi
fi
command -v cargo >/dev/null 2>&1 || { log "cargo is still not available"; exit 1; }
log "ready: $(cargo --version), $(cmake --version | head -n1), $(cc --version | head -n1)"
