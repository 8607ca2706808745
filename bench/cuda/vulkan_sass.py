#!/usr/bin/env python3
"""Cut the machine code of a Vulkan compute pipeline out of the NVIDIA driver's
shader disk cache, for `nvdisasm` to disassemble: the only way found here to
see what the driver compiled shaders/megakernel.comp into (Nsight Compute
profiles CUDA kernels only). bench/RESULTS.md, seventh session, shows it used.

1. On the GPU machine, run anything that builds the pipeline with the cache
   pointed at a fresh folder, and bring its files back:
     export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
     export __GL_SHADER_DISK_CACHE_PATH=/tmp/glcache
     <a bench> ...; find /tmp/glcache -name '*.bin' -size +1k -exec cp {} $OUT/ \\;
2. Here:   python3 bench/cuda/vulkan_sass.py CACHE.bin code.bin
3. On the GPU machine:  /usr/local/cuda/bin/nvdisasm -b SM90 code.bin > code.sass

The cache format is undocumented; what this relies on was read off driver
580.159: records of [u32 compressed length][u32 length][zstd frame]; the
largest record holds the code, which ends with EXIT and a branch to itself.
It needs the `zstd` command.
"""
import struct
import subprocess
import sys

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
EXIT = bytes.fromhex("4d79000000000000")  # EXIT, predicate PT, low half
BRA_SELF = bytes.fromhex("4779fc00fcffffff")  # BRA to itself, low half
INSTRUCTION = 16


def records(blob):
    at = blob.find(ZSTD_MAGIC)
    while at >= 8:
        packed, length = struct.unpack_from("<II", blob, at - 8)
        raw = subprocess.run(["zstd", "-d", "-c"], input=blob[at:at + packed], capture_output=True).stdout
        if len(raw) == length:
            yield raw
        at = blob.find(ZSTD_MAGIC, at + 4)


def code(raw):
    end = raw.rfind(EXIT)
    if end < 0 or raw[end + INSTRUCTION:end + INSTRUCTION + 8] != BRA_SELF:
        sys.exit("no EXIT followed by a branch to itself: not a code record this script knows")
    # The code starts after the record's header; instructions are 16-byte
    # aligned relative to the EXIT. Starting a little early costs only a few
    # garbage lines at the top of the listing.
    header = raw.find(b"VYR1")
    start = max(header, 0) + 12
    start += (end - start) % INSTRUCTION
    return raw[start:end + 2 * INSTRUCTION]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    blob = open(sys.argv[1], "rb").read()
    raw = max(records(blob), key=len, default=None)
    if raw is None:
        sys.exit(f"{sys.argv[1]}: no zstd records")
    text = code(raw)
    open(sys.argv[2], "wb").write(text)
    print(f"{len(text)} bytes of code ({len(text) // INSTRUCTION} instructions) written to {sys.argv[2]}")


if __name__ == "__main__":
    main()
