// The megakernel's DFA walk loop (shaders/megakernel.comp, dfa_scan) in CUDA,
// one thread per 16 KiB part, over a random table shaped like bench-large-jobs'
// 1 000 literals (11 000 states, 28 columns), so that Nsight Compute, which
// profiles CUDA kernels only, can say what bounds it. Modes: 0 the walk,
// 1 without the class-map load, 2 every lane reading two rows (L1 hits),
// 3 the same through L2 only (ld.global.cg). bench/RESULTS.md, sixth session.
// On the GPU machine: nvcc -O3 -arch=sm_90 -o walk walk_probe.cu && ./walk 32
#include <cstdio>
#include <cstdint>
#include <vector>
#include <random>
__global__ void walk(const uint32_t* __restrict__ rules, const uint4* __restrict__ arena, uint32_t parts,
                     uint32_t part_bytes, uint32_t stride, uint32_t states, uint32_t* out, int mode) {
    uint32_t lane = blockIdx.x * blockDim.x + threadIdx.x;
    if (lane >= parts) return;
    const uint32_t* classmap = rules;          // 64 words
    const uint32_t* trans = rules + 64;
    uint32_t at = lane * part_bytes, end = at + part_bytes, state = 1, hits = 0;
    uint4 chunk = arena[at >> 4];
    for (; at < end; at++) {
        if ((at & 15u) == 0u) chunk = arena[at >> 4];
        uint32_t k = (at >> 2) & 3u;
        uint32_t word = k < 2u ? (k == 0u ? chunk.x : chunk.y) : (k == 2u ? chunk.z : chunk.w);
        uint32_t b = (word >> (8u * (at & 3u))) & 0xFFu;
        uint32_t column = mode == 1 ? (b & 31u) % (stride - 1) : (classmap[b >> 2] >> (8u * (b & 3u))) & 0xFFu;
        uint32_t index = (mode >= 2 ? (state & 1u) + 1u : state) * stride + column;
        uint32_t entry = mode == 3 ? __ldcg(trans + index) : trans[index];
        state = entry & 0x7FFFFFFFu;
        if (state >= states) { out[lane] = 0xFFFFFFFF; return; }
        hits += entry >> 31;
    }
    out[lane] = hits + state;
}
int main(int argc, char** argv) {
    uint32_t parts = 65536, part_bytes = 16384, stride = 28, states = 11000;
    int threads = argc > 1 ? atoi(argv[1]) : 32;
    std::mt19937 rng(7);
    std::vector<uint32_t> rules(64 + states * stride);
    for (int b = 0; b < 256; b++) {
        uint32_t c = (b >= 'a' && b <= 'z') ? (b - 'a' + 1) : 0;
        rules[b / 4] |= c << (8 * (b % 4));
    }
    for (uint32_t s = 0; s < states; s++)
        for (uint32_t c = 0; c < stride; c++)
            rules[64 + s * stride + c] = 1 + rng() % (states - 1) | ((rng() % 1000 == 0) ? 0x80000000u : 0);
    size_t bytes = (size_t)parts * part_bytes;
    std::vector<uint8_t> data(bytes);
    for (auto& d : data) d = 'a' + rng() % 26;
    uint32_t *d_rules, *d_out; uint4* d_arena;
    cudaMalloc(&d_rules, rules.size() * 4); cudaMalloc(&d_arena, bytes); cudaMalloc(&d_out, parts * 4);
    cudaMemcpy(d_rules, rules.data(), rules.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(d_arena, data.data(), bytes, cudaMemcpyHostToDevice);
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    for (int mode = 0; mode < 4; mode++) for (int rep = 0; rep < 3; rep++) {
        cudaEventRecord(a);
        walk<<<(parts + threads - 1) / threads, threads>>>(d_rules, d_arena, parts, part_bytes, stride, states, d_out, mode);
        cudaEventRecord(b); cudaEventSynchronize(b);
        float ms; cudaEventElapsedTime(&ms, a, b);
        printf("block %d, %s: %.2f ms, %.1f GB/s (%s)\n", threads, mode == 3 ? "two hot rows, L2 only (ld.global.cg)" : mode == 2 ? "two hot rows" : mode ? "no class load" : "class map", ms, bytes / ms / 1e6, cudaGetErrorString(cudaGetLastError()));
    }
    return 0;
}
