// The resident megakernel: every lane polls the ring, claims any published
// slot by compare-and-swap and executes it, exactly as the reference
// executor (src/backend/reference/exec.rs) does; docs/PROTOCOL.md is the
// specification. All numbers come from vyre_abi.glsl, generated at build
// time from src/protocol/abi.rs.
//
// A dispatch is one slice: each lane stops after `budget` loop iterations
// (lavapipe silently ends a shader's loops after 65 535 iterations in total,
// and GPU drivers may have watchdogs), always between two slots, and the
// host keeps the next slice queued behind this one.
#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef VYRE_IDLE_BACKOFF
// Built twice by build.rs: this variant lets idle lanes wait on the device
// clock (VK_KHR_shader_clock), for devices that have it.
#extension GL_EXT_shader_realtime_clock : require
#endif
#include "vyre_abi.glsl"

layout(local_size_x_id = 0) in;

layout(set = 0, binding = 0) coherent volatile buffer Control { uint ctrl[]; };
layout(set = 0, binding = 1) coherent volatile buffer Ring { uint ring[]; };
// The same ring, read a slot (4 x uvec4) at a time once it is claimed: the
// payload no longer changes then, so its loads need not be volatile and can
// all be in flight at once (on a GPU each is a trip to L2 or further).
layout(set = 0, binding = 1) coherent readonly buffer RingSlots { uvec4 ring_slots[]; };
layout(set = 0, binding = 2) coherent volatile buffer DebugLog { uint dlog[]; };
// Scanning (src/protocol/scan.rs is the specification). The host rewrites
// arena bytes between jobs while the kernel runs, so arena loads must not
// hit a stale L1 line: coherent. Rule tables never change once loaded and
// start on their own 256-byte lines, so they can take the cached path.
layout(set = 0, binding = 3) coherent readonly buffer Arena { uvec4 arena[]; };
layout(set = 0, binding = 4) readonly buffer Rules { uint rules[]; };
layout(set = 0, binding = 5) coherent volatile buffer ScanState { uint sstate[]; };

layout(push_constant) uniform Slice {
    uint budget;      // loop iterations a lane may spend in this slice
    uint max_passes;  // 1 for a single-pass dispatch, 0xFFFFFFFF when resident
    uint lane_count;  // lanes in the whole grid
    uint idle_passes; // empty passes before a lane starts to back off
    uint backoff_max; // longest back-off, in device clock ticks (0: never)
    uint idle_exit;   // leave after this many empty passes (0: never; a dispatch per batch)
    uint slice_ticks; // device clock ticks a slice lasts (backoff variant; 0: no limit)
} pc;

const uint RETRY = 0xFFFFFFFFu;
// How far a lane's scan start moves from one pass to the next, modulo the
// ring: a prime above VYRE_MAX_SLOTS, so the starts of successive passes
// visit every slot, each a long way from the last (see main).
const uint SCAN_JUMP = 106103u;
// Bytes a DFA walk steps between two looks at its budget and the clock.
const uint WALK_BLOCK_BYTES = 1024u;
const uint FAULTED = 0x80000000u;

// Layout, read once from the validated control header.
uint slot_count, tenant_count, observable_count, fence_count;
uint off_metrics, off_tenants, off_tenant_opcodes, off_fences, off_observables;
// Iterations spent, shared by every loop of this invocation.
uint iters = 0u;

// Whether this slice's time is up. On a GPU slices end by the device clock:
// an iteration budget alone let idle lanes, spinning in back-off, use up
// theirs and sit out the rest of a long slice while new work waited; and a
// slice of bounded time lets other contexts share the GPU.
#ifdef VYRE_IDLE_BACKOFF
uint slice_start;
bool time_is_up() { return pc.slice_ticks != 0u && clockRealtime2x32EXT().x - slice_start >= pc.slice_ticks; }
#else
bool time_is_up() { return false; }
#endif
// Arguments of the slot being served.
uint args[VYRE_SLOT_MAX_ARGS];
// Set when a DFA_SCAN claim stored its progress in `args`.
bool args_dirty = false;

uint slot_word(uint slot, uint word) { return slot * VYRE_SLOT_WORDS + word; }
uint obs(uint index) { return off_observables + index; }
uint fault(uint reason) { return FAULTED | reason; }

// Window of `tenant`, read under its sequence word (see
// Control::tenant_window): false for an unknown tenant, a corrupt entry, or
// one that stayed mid-rewrite for VYRE_TENANT_WINDOW_RETRIES reads.
bool tenant_window(uint tenant, out uint base, out uint len) {
    base = 0u;
    len = 0u;
    if (tenant >= tenant_count) return false;
    uint entry = off_tenants + tenant * VYRE_TENANT_ENTRY_WORDS;
    for (uint attempt = 0u; attempt < VYRE_TENANT_WINDOW_RETRIES; attempt++) {
        iters++;
        uint before = ctrl[entry + VYRE_TENANT_WINDOW_SEQ];
        memoryBarrierBuffer();
        base = ctrl[entry + VYRE_TENANT_WINDOW_BASE];
        len = ctrl[entry + VYRE_TENANT_WINDOW_LEN];
        memoryBarrierBuffer();
        if ((before & 1u) == 0u && ctrl[entry + VYRE_TENANT_WINDOW_SEQ] == before) {
            uint end = base + len;
            return end >= base && end <= observable_count;
        }
    }
    return false;
}

bool inside(uint index, uint len) { return index < len; }
bool span_inside(uint first, uint count, uint len) {
    uint end = first + count;
    return end >= first && end <= len;
}

uint opcode_owner(uint opcode) {  // tenant, or 0xFFFFFFFF outside the tenant space
    if (opcode < VYRE_TENANT_OPCODE_BASE) return 0xFFFFFFFFu;
    uint tenant = (opcode - VYRE_TENANT_OPCODE_BASE) / VYRE_TENANT_OPCODE_WINDOW;
    return tenant < VYRE_MAX_TENANTS ? tenant : 0xFFFFFFFFu;
}

bool is_known(uint opcode) {
    return opcode <= VYRE_OP_IO_READ || opcode == VYRE_OP_PRINTF || opcode == VYRE_OP_PACKED_SLOT
        || opcode == VYRE_OP_SHUTDOWN || opcode_owner(opcode) != 0xFFFFFFFFu;
}

bool may_alias(uint builtin) {
    return builtin <= VYRE_OP_MEMCPY || builtin == VYRE_OP_PRINTF;
}

uint metric_of(uint opcode) {  // 0xFFFFFFFF: no bucket
    if (opcode <= VYRE_OP_BATCH_FENCE) return opcode;
    if (opcode == VYRE_OP_IO_READ) return VYRE_METRIC_IO_READ;
    if (opcode == VYRE_OP_PRINTF) return VYRE_METRIC_PRINTF;
    if (opcode == VYRE_OP_PACKED_SLOT) return VYRE_METRIC_PACKED_SLOT;
    if (opcode == VYRE_OP_SHUTDOWN) return VYRE_METRIC_SHUTDOWN;
    if (opcode_owner(opcode) != 0xFFFFFFFFu) return VYRE_METRIC_TENANT;
    return 0xFFFFFFFFu;
}

void bump_metric(uint metric) {
    if (metric < VYRE_METRIC_COUNT) atomicAdd(ctrl[off_metrics + metric], 1u);
}

// Packed-slot shape: 0 if well formed, else the fault reason.
uint check_packed() {
    uint header = args[0u];
    uint count = header & VYRE_PACKED_COUNT_MASK;
    if (count == 0u || count > VYRE_PACKED_MAX_OPS) return VYRE_FAULT_BAD_ARGS;
    uint used = VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * count;
    if (used < 32u && (header >> used) != 0u) return VYRE_FAULT_BAD_ARGS;
    for (uint i = 1u + 2u * count; i < VYRE_SLOT_MAX_ARGS; i++) {
        iters++;
        if (args[i] != 0u) return VYRE_FAULT_BAD_ARGS;
    }
    for (uint i = 0u; i < count; i++) {
        uint op = (header >> (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i)) & ((1u << VYRE_PACKED_OPCODE_BITS) - 1u);
        if (op > VYRE_OP_LOAD_U32) return VYRE_FAULT_BAD_ARGS;
    }
    return 0u;
}

// Static argument checks (protocol::opcode::check_args): 0 or a fault reason.
uint check_args(uint opcode) {
    if (opcode == VYRE_OP_MEMCPY && args[2u] > VYRE_MEMCPY_MAX_WORDS) return VYRE_FAULT_BAD_ARGS;
    if (opcode == VYRE_OP_PRINTF && args[1u] > VYRE_PRINTF_MAX_VALUES) return VYRE_FAULT_BAD_ARGS;
    if (opcode == VYRE_OP_PACKED_SLOT) return check_packed();
    if (opcode == VYRE_OP_DFA_SCAN && (args[10u] != 0u || args[11u] != 0u)) return VYRE_FAULT_BAD_ARGS;
    if (opcode == VYRE_OP_IO_READ && (args[9u] != 0u || args[10u] != 0u || args[11u] != 0u)) return VYRE_FAULT_BAD_ARGS;
    if (!is_known(opcode)) return VYRE_FAULT_UNKNOWN_OPCODE;
    return 0u;
}

void log_append(uint tenant) {
    uint capacity = dlog[VYRE_DEBUG_CAPACITY];
    uint index = dlog[VYRE_DEBUG_CURSOR];
    for (;;) {
        iters++;
        if (index >= capacity) {
            atomicAdd(dlog[VYRE_DEBUG_DROPPED], 1u);
            return;
        }
        uint seen = atomicCompSwap(dlog[VYRE_DEBUG_CURSOR], index, index + 1u);
        if (seen == index) break;
        index = seen;
    }
    uint base = VYRE_DEBUG_HEADER_WORDS + index * VYRE_DEBUG_RECORD_WORDS;
    uint count = args[1u];
    dlog[base + VYRE_DEBUG_REC_TENANT] = tenant;
    dlog[base + VYRE_DEBUG_REC_FORMAT] = args[0u];
    dlog[base + VYRE_DEBUG_REC_VALUE_COUNT] = count;
    for (uint i = 0u; i < VYRE_PRINTF_MAX_VALUES; i++) {
        iters++;
        dlog[base + VYRE_DEBUG_REC_VALUE0 + i] = i < count ? args[2u + i] : 0u;
    }
    memoryBarrierBuffer();
    atomicExchange(dlog[base + VYRE_DEBUG_REC_COMMIT], index + 1u);
}

// One data operation with arguments x0..x3 (PRINTF reads its values from
// the slot). Every index is checked before anything is written. Returns 0
// or a fault reason; `apply` false only checks.
uint data_op(uint opcode, uint tenant, uint base, uint len, uint x0, uint x1, uint x2, uint x3, bool apply) {
    if (opcode == VYRE_OP_NOP) return 0u;
    if (opcode == VYRE_OP_STORE_U32) {
        if (!inside(x0, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        if (apply) atomicExchange(ctrl[obs(base + x0)], x1);
        return 0u;
    }
    if (opcode == VYRE_OP_ATOMIC_ADD) {
        if (!inside(x0, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        if (apply) atomicAdd(ctrl[obs(base + x0)], x1);
        return 0u;
    }
    if (opcode == VYRE_OP_LOAD_U32) {
        if (!inside(x0, len) || !inside(x1, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        if (apply) atomicExchange(ctrl[obs(base + x1)], ctrl[obs(base + x0)]);
        return 0u;
    }
    if (opcode == VYRE_OP_COMPARE_SWAP) {
        if (!inside(x0, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        bool has_result = x3 != VYRE_NO_OBSERVABLE;
        if (has_result && !inside(x3, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        if (apply) {
            uint old = atomicCompSwap(ctrl[obs(base + x0)], x1, x2);
            if (has_result) atomicExchange(ctrl[obs(base + x3)], old);
        }
        return 0u;
    }
    if (opcode == VYRE_OP_MEMCPY) {
        if (!span_inside(x0, x2, len) || !span_inside(x1, x2, len)) return VYRE_FAULT_OUT_OF_WINDOW;
        if (x2 > 0u && x0 < x1 + x2 && x1 < x0 + x2) return VYRE_FAULT_BAD_ARGS;
        if (apply) {
            for (uint i = 0u; i < x2; i++) {
                iters++;
                atomicExchange(ctrl[obs(base + x1 + i)], ctrl[obs(base + x0 + i)]);
            }
        }
        return 0u;
    }
    if (opcode == VYRE_OP_PRINTF) {
        if (apply) log_append(tenant);
        return 0u;
    }
    return VYRE_FAULT_UNKNOWN_OPCODE;
}

uint run_data_op(uint opcode, uint tenant, uint base, uint len) {
    uint x0 = args[0u], x1 = args[1u], x2 = args[2u], x3 = args[3u];
    uint reason = data_op(opcode, tenant, base, len, x0, x1, x2, x3, false);
    if (reason != 0u) return reason;
    return data_op(opcode, tenant, base, len, x0, x1, x2, x3, true);
}

uint packed(uint tenant, uint base, uint len) {
    uint header = args[0u];
    uint count = header & VYRE_PACKED_COUNT_MASK;
    for (int pass = 0; pass < 2; pass++) {  // check all, then apply all
        for (uint i = 0u; i < count; i++) {
            iters++;
            uint op = (header >> (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i)) & ((1u << VYRE_PACKED_OPCODE_BITS) - 1u);
            uint a = args[1u + 2u * i], b = args[2u + 2u * i];
            uint reason = data_op(op, tenant, base, len, a, b, 0u, 0u, pass == 1);
            if (reason != 0u) return fault(reason);
            if (pass == 1) bump_metric(metric_of(op));
        }
    }
    return VYRE_METRIC_PACKED_SLOT;
}

uint fence(uint tenant, uint base, uint len) {
    uint index = args[0u], members = args[1u], result = args[2u];
    bool has_result = result != VYRE_NO_OBSERVABLE;
    if (has_result && !inside(result, len)) return fault(VYRE_FAULT_OUT_OF_WINDOW);
    if (members > 0u) {
        if (index >= fence_count) return fault(VYRE_FAULT_BAD_ARGS);
        uint entry = off_fences + index * VYRE_FENCE_ENTRY_WORDS;
        if (ctrl[entry + VYRE_FENCE_WORD_OWNER] != tenant) return fault(VYRE_FAULT_BAD_BATCH);
        if (atomicAdd(ctrl[entry + VYRE_FENCE_WORD_COUNT], 0u) < members) return RETRY;
    }
    uint epoch = atomicAdd(ctrl[VYRE_CTRL_EPOCH], 1u) + 1u;
    if (has_result) atomicExchange(ctrl[obs(base + result)], epoch);
    return VYRE_METRIC_BATCH_FENCE;
}

// ------------------------------------------------------------- DFA_SCAN

// Index of job `job`'s word `field` in the scan state, or 0xFFFFFFFF.
uint job_word(uint job, uint field) {
    if (job >= sstate[VYRE_SCAN_HDR_JOB_COUNT]) return 0xFFFFFFFFu;
    return sstate[VYRE_SCAN_HDR_OFF_JOBS] + job * VYRE_SCAN_JOB_WORDS + field;
}

// The rule table being walked, checked to lie inside the rules buffer.
uint t_start, t_end, t_stride, t_states, t_transitions, t_match_offsets, t_match_ids, t_starts, t_max_list;

bool open_table(uint start) {
    uint rule_words = sstate[VYRE_SCAN_HDR_RULE_WORDS];
    if (start >= rule_words || rule_words - start < VYRE_TABLE_HEADER_WORDS + VYRE_TABLE_CLASS_MAP_WORDS) return false;
    if (rules[start + VYRE_TABLE_MAGIC_WORD] != VYRE_TABLE_MAGIC) return false;
    uint total = rules[start + VYRE_TABLE_TOTAL_WORDS];
    if (total < VYRE_TABLE_HEADER_WORDS + VYRE_TABLE_CLASS_MAP_WORDS || total > rule_words - start) return false;
    uint classes = rules[start + VYRE_TABLE_CLASSES];
    if (classes == 0u || classes > 256u) return false;
    t_start = start;
    t_end = start + total;
    t_stride = classes + 1u;
    t_states = rules[start + VYRE_TABLE_STATES];
    // Every row inside the table: `state * t_stride` cannot wrap.
    if (t_states > total / t_stride) return false;
    // Checked once per claim rather than at every byte (scan::Table::open
    // does the same): every row of the transition table lies inside the
    // table, and every byte's class inside a row, so a transition from a
    // valid state reads inside the table.
    uint transitions = min(rules[start + VYRE_TABLE_OFF_TRANSITIONS], total);
    if (t_states * t_stride > total - transitions) return false;
    for (uint w = 0u; w < VYRE_TABLE_CLASS_MAP_WORDS; w++) {
        iters++;
        uvec4 classes_of = (uvec4(rules[start + VYRE_TABLE_HEADER_WORDS + w]) >> uvec4(0u, 8u, 16u, 24u)) & 0xFFu;
        if (any(greaterThanEqual(classes_of, uvec4(t_stride)))) return false;
    }
    t_transitions = start + transitions;
    // Offsets past the table make every read below fail its bound check.
    t_match_offsets = start + min(rules[start + VYRE_TABLE_OFF_MATCH_OFFSETS], total);
    t_match_ids = start + min(rules[start + VYRE_TABLE_OFF_MATCH_IDS], total);
    t_starts = start + min(rules[start + VYRE_TABLE_OFF_STARTS], total);
    t_max_list = rules[start + VYRE_TABLE_MAX_MATCH_LIST];
    return t_max_list <= VYRE_TABLE_MAX_MATCHES_PER_STATE;
}

bool state_is_valid(uint state) { return state < t_states; }

// A table word at `index` (checked against the table's end by callers).
bool t_inside(uint first, uint offset) { return offset < t_end - first; }

// The first word of hit record `index` of a valid `job`'s share, or
// 0xFFFFFFFF past the hit records.
uint hit_record(uint job, uint index) {
    uint record = sstate[job_word(job, VYRE_SCAN_JOB_HIT_BASE)] + index;
    if (record >= sstate[VYRE_SCAN_HDR_HIT_RECORDS]) return 0xFFFFFFFFu;
    return sstate[VYRE_SCAN_HDR_OFF_HITS] + record * VYRE_SCAN_HIT_WORDS;
}

void report_hit(uint job, uint pattern, uint end) {
    uint count = job_word(job, VYRE_SCAN_JOB_HIT_COUNT);
    if (count == 0xFFFFFFFFu) return;
    uint index = atomicAdd(sstate[count], 1u);
    if (index >= sstate[job_word(job, VYRE_SCAN_JOB_HIT_CAPACITY)]) return;
    uint first = hit_record(job, index);
    if (first == 0xFFFFFFFFu) return;
    sstate[first + VYRE_SCAN_HIT_PATTERN] = pattern;
    sstate[first + VYRE_SCAN_HIT_END] = end;
}

// Report `state`'s match list as ending at `end`; false if the table is corrupt.
bool report_list(uint job, uint state, uint end) {
    if (!t_inside(t_match_offsets, state + 1u)) return false;
    uint first = rules[t_match_offsets + state];
    uint last = rules[t_match_offsets + state + 1u];
    if (last < first || last - first > t_max_list) return false;
    if (last > first && !t_inside(t_match_ids, last - 1u)) return false;
    uint k = first;
    for (; k < last; k++) {
        iters++;
        report_hit(job, rules[t_match_ids + k], end);
    }
    // A list cut short (lavapipe's loop cap, see dfa_scan) faults the job
    // rather than losing matches silently.
    return k == last;
}

// Byte `at` of the arena, from the 16 of them in `chunk`. The word is
// picked by selects, not by indexing the vector with a variable, which a
// compiler may do through local memory: on an H200 the walk got 1.2-1.5x
// faster (bench/RESULTS.md).
uint byte_in(uvec4 chunk, uint at) {
    uint k = (at >> 2u) & 3u;
    uint word = k < 2u ? (k == 0u ? chunk.x : chunk.y) : (k == 2u ? chunk.z : chunk.w);
    return (word >> (8u * (at & 3u))) & 0xFFu;
}
uint class_of(uint byte_value) {
    uint packed = rules[t_start + VYRE_TABLE_HEADER_WORDS + (byte_value >> 2u)];
    return (packed >> (8u * (byte_value & 3u))) & 0xFFu;
}

// Store a part's progress in its arguments and hand the slot back.
uint hand_back(uint pos, uint state) {
    args[VYRE_SCAN_ARG_POS] = pos;
    args[VYRE_SCAN_ARG_STATE] = state;
    args_dirty = true;
    return RETRY;
}

// Take the transition of `state` in `column` (a byte class, or the last
// column: end of input), reporting the target's matches as ending at `end`
// if `may_report`. False when the table is corrupt. (States, not row
// offsets, in the table: a multiply per byte instead of a division.)
// `column` is below t_stride and `state` below t_states (open_table).
bool transition(uint job, uint column, bool may_report, uint end, inout uint state) {
    uint entry = rules[t_transitions + state * t_stride + column];
    state = entry & ~VYRE_TABLE_MATCH_FLAG;
    if (!state_is_valid(state)) return false;
    return (entry & VYRE_TABLE_MATCH_FLAG) == 0u || !may_report || report_list(job, state, end);
}

// One claim of a DFA_SCAN part: walk from POS until the part ends or the
// slice budget runs low, then store the progress (RETRY) or finish.
uint dfa_scan() {
    uint bad = fault(VYRE_FAULT_BAD_ARGS);
    uint job = args[VYRE_SCAN_ARG_JOB];
    if (!open_table(args[VYRE_SCAN_ARG_TABLE])) return bad;
    uint skew = args[VYRE_SCAN_ARG_BASE_SKEW];
    uint len = args[VYRE_SCAN_ARG_LEN];
    uint pos = args[VYRE_SCAN_ARG_POS];
    uint state = args[VYRE_SCAN_ARG_STATE];
    uint report_from = args[VYRE_SCAN_ARG_REPORT_FROM];
    uint bias = args[VYRE_SCAN_ARG_END_BIAS];
    uint flags = args[VYRE_SCAN_ARG_FLAGS];
    uint arena_words = sstate[VYRE_SCAN_HDR_ARENA_WORDS];
    uint base_word = args[VYRE_SCAN_ARG_BASE_WORD];
    // The walk's bytes must lie inside the arena: base_word * 4 + skew + len
    // <= arena_words * 4, computed without overflow.
    // (The host keeps arena_words below 2^30, so `room` cannot overflow.)
    uint room = base_word <= arena_words ? (arena_words - base_word) * 4u : 0u;
    bool inside_arena = arena_words <= VYRE_SCAN_MAX_ARENA_WORDS && base_word <= arena_words && skew <= 3u
        && room >= skew && len <= room - skew;
    if (job_word(job, VYRE_SCAN_JOB_PARTS_LEFT) == 0xFFFFFFFFu || !inside_arena || pos > len
        || (flags & ~VYRE_SCAN_FLAG_EOI) != 0u) {
        return bad;
    }
    if (state == VYRE_SCAN_STATE_AFTER_PREVIOUS) {
        // Look-behind (\b, (?m)^) sees the byte before the part.
        if (base_word == 0u && skew == 0u) return bad;
        uint previous = base_word * 4u + skew - 1u;
        uint previous_byte = byte_in(arena[previous >> 4u], previous);
        if (!t_inside(t_starts, 1u + previous_byte)) return bad;
        state = rules[t_starts + 1u + previous_byte];
    }
    if (!state_is_valid(state)) return bad;
    uint step_cost = t_max_list + 1u;
    // A byte's step waits on its transition's load; everything that does
    // not depend on the state is fetched ahead of it: the arena's next 16
    // bytes while these are walked, the next byte's class while this byte's
    // transition is loaded.
    uint at = base_word * 4u + skew + pos;  // arena byte of walk byte `pos`
    uint vectors = uint(arena.length());
    uint vector = at >> 4u;
    uvec4 chunk = vector < vectors ? arena[vector] : uvec4(0u);
    uvec4 ahead = vector + 1u < vectors ? arena[vector + 1u] : uvec4(0u);
    uint column = class_of(byte_in(chunk, at));
    while (pos < len) {
        // The budget and the slice's clock are looked at once per block of
        // bytes, not at every byte.
        iters++;
        if (iters + step_cost + 16u >= pc.budget || time_is_up()) return hand_back(pos, state);
        // Bytes that fit in the budget, at step_cost iterations each at
        // most, keeping `iters + step_cost + 16 < budget` before every byte
        // as the check above does: at least one, after that check.
        uint room = (pc.budget - iters - 17u) / step_cost;
        uint block_end = pos + min(min(len - pos, WALK_BLOCK_BYTES), room);
        for (; pos < block_end; pos++) {
            iters++;
            uint this_column = column;
            at++;
            if ((at & 15u) == 0u) {
                chunk = ahead;
                vector++;
                ahead = vector + 1u < vectors ? arena[vector + 1u] : uvec4(0u);
            }
            column = class_of(byte_in(chunk, at));
            if (!transition(job, this_column, pos >= report_from, bias + pos, state)) return bad;
            if (state == 0u) {  // dead: nothing can match any more
                pos = len;
                break;
            }
        }
    }
    // The loop only ends with pos == len, unless lavapipe cut it short (it
    // ends every loop of an invocation once their iterations together pass
    // 65 535, counted its own way): then hand the part back to be continued.
    if (pos < len) return hand_back(pos, state);
    if ((flags & VYRE_SCAN_FLAG_EOI) != 0u) {
        if (iters + step_cost + 16u >= pc.budget) return hand_back(pos, state);
        if (!transition(job, t_stride - 1u, len >= report_from, bias + len, state)) return bad;
    }
    return VYRE_METRIC_DFA_SCAN;
}

void fault_part(uint job, uint reason) {
    uint fault_word = job_word(job, VYRE_SCAN_JOB_FAULT);
    if (fault_word != 0xFFFFFFFFu) atomicCompSwap(sstate[fault_word], 0u, reason);
}

// After a part's slot is final: the part that finishes its job last
// appends the completion record, its sequence word last.
void finish_part(uint job) {
    uint parts_left = job_word(job, VYRE_SCAN_JOB_PARTS_LEFT);
    if (parts_left == 0xFFFFFFFFu) return;
    if (atomicAdd(sstate[parts_left], 0xFFFFFFFFu) != 1u) return;
    memoryBarrierBuffer();
    uint hits = atomicAdd(sstate[job_word(job, VYRE_SCAN_JOB_HIT_COUNT)], 0u);
    uint job_fault = atomicAdd(sstate[job_word(job, VYRE_SCAN_JOB_FAULT)], 0u);
    uint sequence = atomicAdd(sstate[VYRE_SCAN_HDR_COMPLETION_TAIL], 1u);
    uint first = sstate[VYRE_SCAN_HDR_OFF_COMPLETIONS]
        + (sequence % sstate[VYRE_SCAN_HDR_JOB_COUNT]) * VYRE_SCAN_COMPLETION_WORDS;
    sstate[first + VYRE_SCAN_COMPLETION_JOB] = job;
    sstate[first + VYRE_SCAN_COMPLETION_HITS] = hits;
    sstate[first + VYRE_SCAN_COMPLETION_FAULT] = job_fault;
    // A job that stored few hits carries them in its record (every part's
    // hits were written before its count of parts left came down).
    uint stored = min(hits, sstate[job_word(job, VYRE_SCAN_JOB_HIT_CAPACITY)]);
    if (stored <= VYRE_SCAN_INLINE_HITS) {
        for (uint k = 0u; k < stored; k++) {
            iters++;
            uint hit = hit_record(job, k);
            if (hit == 0xFFFFFFFFu) break;
            uint inline_hit = first + VYRE_SCAN_COMPLETION_INLINE + k * VYRE_SCAN_HIT_WORDS;
            sstate[inline_hit + VYRE_SCAN_HIT_PATTERN] = sstate[hit + VYRE_SCAN_HIT_PATTERN];
            sstate[inline_hit + VYRE_SCAN_HIT_END] = sstate[hit + VYRE_SCAN_HIT_END];
        }
    }
    memoryBarrierBuffer();
    atomicExchange(sstate[first + VYRE_SCAN_COMPLETION_SEQ], sequence % VYRE_SCAN_SEQ_MODULUS + 1u);
}

uint tenant_opcode(uint opcode, uint tenant, uint base, uint len) {
    if (opcode_owner(opcode) != tenant) return fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    uint builtin = 0xFFFFFFFFu;
    for (uint e = 0u; e < VYRE_TENANT_OPCODE_CAPACITY; e++) {
        iters++;
        uint entry = off_tenant_opcodes + e * VYRE_TENANT_OPCODE_ENTRY_WORDS;
        if (ctrl[entry + VYRE_TENANT_OPCODE_WORD_OPCODE] == opcode && ctrl[entry + VYRE_TENANT_OPCODE_WORD_TENANT] == tenant) {
            builtin = ctrl[entry + VYRE_TENANT_OPCODE_WORD_BUILTIN];
            break;
        }
    }
    if (builtin == 0xFFFFFFFFu || !may_alias(builtin)) return fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    uint reason = check_args(builtin);
    if (reason == 0u) reason = run_data_op(builtin, tenant, base, len);
    return reason != 0u ? fault(reason) : VYRE_METRIC_TENANT;
}

// ------------------------------------------------------------- IO_READ

// The IO_READ argument this claim changed, stored by `serve` before the
// slot's status (0xFFFFFFFF: none).
uint io_arg = 0xFFFFFFFFu;

uint io_word(uint slot, uint word) { return sstate[VYRE_SCAN_HDR_OFF_IO] + slot * VYRE_IO_SLOT_WORDS + word; }

// One claim of an IO_READ slot (io_queue::lane_step is the specification).
// A lane never waits here: the first claim writes the request into its IO
// slot and hands the slot back; later claims hand it back until the host
// has answered OK or ERROR, then recycle the IO slot and finish.
uint io_read(uint tenant) {
    if (tenant != 0u) return fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    uint slot = args[VYRE_IO_ARG_SLOT];
    uint slots = sstate[VYRE_SCAN_HDR_IO_SLOTS];
    uint off = sstate[VYRE_SCAN_HDR_OFF_IO];
    uint words = uint(sstate.length());
    if (slots > VYRE_IO_SLOT_COUNT || slot >= slots || off > words || words - off < slots * VYRE_IO_SLOT_WORDS) {
        return fault(VYRE_FAULT_BAD_ARGS);
    }
    uint status = io_word(slot, VYRE_IO_WORD_STATUS);
    uint phase = args[VYRE_IO_ARG_PHASE];
    if (phase == VYRE_IO_PHASE_NEW) {
        // A busy IO slot (its last requester has not recycled it) is waited for.
        if (sstate[status] != VYRE_IO_EMPTY) return RETRY;
        sstate[io_word(slot, VYRE_IO_WORD_OP)] = VYRE_IO_OP_READ;
        sstate[io_word(slot, VYRE_IO_WORD_SRC)] = args[VYRE_IO_ARG_SRC];
        sstate[io_word(slot, VYRE_IO_WORD_DST)] = args[VYRE_IO_ARG_DST];
        sstate[io_word(slot, VYRE_IO_WORD_OFFSET_LO)] = args[VYRE_IO_ARG_OFFSET_LO];
        sstate[io_word(slot, VYRE_IO_WORD_OFFSET_HI)] = args[VYRE_IO_ARG_OFFSET_HI];
        sstate[io_word(slot, VYRE_IO_WORD_BYTE_COUNT)] = args[VYRE_IO_ARG_BYTE_COUNT];
        sstate[io_word(slot, VYRE_IO_WORD_TAG)] = args[VYRE_IO_ARG_TAG];
        // The request words before the status that publishes them.
        memoryBarrierBuffer();
        atomicExchange(sstate[status], VYRE_IO_REQUESTED);
        args[VYRE_IO_ARG_PHASE] = VYRE_IO_PHASE_REQUESTED;
        io_arg = VYRE_IO_ARG_PHASE;
        return RETRY;
    }
    if (phase != VYRE_IO_PHASE_REQUESTED) return fault(VYRE_FAULT_BAD_ARGS);
    uint state = sstate[status];
    if (state != VYRE_IO_OK && state != VYRE_IO_ERROR) return RETRY;
    // The host wrote BYTE_COUNT before the status.
    memoryBarrierBuffer();
    args[VYRE_IO_ARG_RESULT] = sstate[io_word(slot, VYRE_IO_WORD_BYTE_COUNT)];
    io_arg = VYRE_IO_ARG_RESULT;
    // Recycled before the ring slot is final: whoever sees the slot final
    // finds the IO slot EMPTY.
    atomicExchange(sstate[status], VYRE_IO_EMPTY);
    return state == VYRE_IO_OK ? VYRE_METRIC_IO_READ : fault(VYRE_FAULT_IO);
}

// Store the IO_READ argument this claim changed, ahead of the status word.
void store_io_arg(uint slot) {
    if (io_arg == 0xFFFFFFFFu) return;
    ring[slot_word(slot, VYRE_SLOT_WORD_ARG0 + io_arg)] = args[io_arg];
    io_arg = 0xFFFFFFFFu;
    memoryBarrierBuffer();
}

// Run a claimed slot's opcode: a metric bucket (done), FAULTED | reason, or RETRY.
uint execute(uint opcode, uint tenant) {
    uint base, len;
    if (!tenant_window(tenant, base, len)) {
        return fault(tenant >= tenant_count ? VYRE_FAULT_BAD_TENANT : VYRE_FAULT_OUT_OF_WINDOW);
    }
    uint reason = check_args(opcode);
    if (reason != 0u) return fault(reason);
    if (opcode == VYRE_OP_BATCH_FENCE) return fence(tenant, base, len);
    if (opcode == VYRE_OP_PACKED_SLOT) return packed(tenant, base, len);
    if (opcode == VYRE_OP_DFA_SCAN) return dfa_scan();
    if (opcode == VYRE_OP_IO_READ) return io_read(tenant);
    if (opcode == VYRE_OP_SHUTDOWN) {
        if (tenant != 0u) return fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
        atomicExchange(ctrl[VYRE_CTRL_SHUTDOWN], 1u);
        return VYRE_METRIC_SHUTDOWN;
    }
    if (opcode_owner(opcode) != 0xFFFFFFFFu) return tenant_opcode(opcode, tenant, base, len);
    reason = run_data_op(opcode, tenant, base, len);
    if (reason != 0u) return fault(reason);
    uint metric = metric_of(opcode);
    return metric == 0xFFFFFFFFu ? fault(VYRE_FAULT_UNKNOWN_OPCODE) : metric;
}

uint status_word(uint state, uint reason, uint generation) {
    return (state & VYRE_STATUS_STATE_MASK)
        | ((reason & VYRE_STATUS_REASON_MASK) << VYRE_STATUS_REASON_SHIFT)
        | ((generation & VYRE_STATUS_GENERATION_MASK) << VYRE_STATUS_GENERATION_SHIFT);
}

// Claim `slot` if it is published: any lane may claim any slot, and the
// compare-and-swap makes exactly one of them win. Returns the generation
// claimed, or 0xFFFFFFFF.
// `seen` is the status word as the ring scan read it: claiming with it
// saves the lane a second trip to memory on the way to every slot.
uint try_claim(uint slot, uint seen) {
    uint status = slot_word(slot, VYRE_SLOT_WORD_STATUS);
    if ((seen & VYRE_STATUS_STATE_MASK) != VYRE_SLOT_PUBLISHED) return 0xFFFFFFFFu;
    uint generation = (seen >> VYRE_STATUS_GENERATION_SHIFT) & VYRE_STATUS_GENERATION_MASK;
    if (atomicCompSwap(ring[status], seen, status_word(VYRE_SLOT_CLAIMED, 0u, generation)) != seen) return 0xFFFFFFFFu;
    memoryBarrierBuffer();
    return generation;
}

// Run a claimed slot to its final status, or hand it back (RETRY).
void serve(uint slot, uint generation) {
    uint status = slot_word(slot, VYRE_SLOT_WORD_STATUS);
    // A slot is 4 uvec4s: header (status, opcode, tenant, batch), then the
    // 12 arguments (src/backend/vulkan/gpu.rs pins this layout).
    uint first = slot * (VYRE_SLOT_WORDS / 4u);
    uvec4 header = ring_slots[first];
    uvec4 a0 = ring_slots[first + 1u], a1 = ring_slots[first + 2u], a2 = ring_slots[first + 3u];
    uint opcode = header[VYRE_SLOT_WORD_OPCODE];
    uint tenant = header[VYRE_SLOT_WORD_TENANT];
    uint batch = header[VYRE_SLOT_WORD_BATCH];
    args = uint[VYRE_SLOT_MAX_ARGS](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w, a2.x, a2.y, a2.z, a2.w);

    // A batch member must name a fence counter of its own tenant.
    uint counter = 0xFFFFFFFFu;
    uint result;
    if (batch != 0u) {
        uint entry = off_fences + (batch - 1u) * VYRE_FENCE_ENTRY_WORDS;
        if (batch - 1u < fence_count && ctrl[entry + VYRE_FENCE_WORD_OWNER] == tenant) {
            counter = entry + VYRE_FENCE_WORD_COUNT;
            result = execute(opcode, tenant);
        } else {
            result = fault(VYRE_FAULT_BAD_BATCH);
        }
    } else {
        result = execute(opcode, tenant);
    }

    if (result == RETRY) {
        if (args_dirty) {
            // A scan part's progress, visible before the slot is claimable.
            ring[slot_word(slot, VYRE_SLOT_WORD_ARG0 + VYRE_SCAN_ARG_POS)] = args[VYRE_SCAN_ARG_POS];
            ring[slot_word(slot, VYRE_SLOT_WORD_ARG0 + VYRE_SCAN_ARG_STATE)] = args[VYRE_SCAN_ARG_STATE];
            args_dirty = false;
            memoryBarrierBuffer();
        }
        store_io_arg(slot);
        atomicExchange(ring[status], status_word(VYRE_SLOT_PUBLISHED, 0u, generation));
        return;
    }
    store_io_arg(slot);
    uint scan_job = opcode == VYRE_OP_DFA_SCAN ? args[VYRE_SCAN_ARG_JOB] : 0xFFFFFFFFu;
    // Counters before the status word: whoever sees the slot finished also
    // sees it counted.
    bool faulted = (result & FAULTED) != 0u;
    if (faulted && scan_job != 0xFFFFFFFFu) fault_part(scan_job, result & ~FAULTED);
    if (faulted) {
        bump_metric(VYRE_METRIC_FAULT);
        atomicAdd(ctrl[VYRE_CTRL_FAULT_COUNT], 1u);
    } else {
        bump_metric(result);
        atomicAdd(ctrl[VYRE_CTRL_DONE_COUNT], 1u);
    }
    memoryBarrierBuffer();
    uint final_state = faulted ? status_word(VYRE_SLOT_FAULT, result & ~FAULTED, generation)
                               : status_word(VYRE_SLOT_DONE, 0u, generation);
    // A plain (coherent, volatile) store: the lane needs no old value back,
    // so it does not wait for one.
    ring[status] = final_state;
    // Members count only once their own status is final.
    if (counter != 0xFFFFFFFFu) {
        memoryBarrierBuffer();
        atomicAdd(ctrl[counter], 1u);
    }
    // So does a scan part towards its job.
    if (scan_job != 0xFFFFFFFFu) {
        memoryBarrierBuffer();
        finish_part(scan_job);
    }
}

void main() {
    slot_count = ctrl[VYRE_CTRL_SLOT_COUNT];
    tenant_count = ctrl[VYRE_CTRL_TENANT_COUNT];
    observable_count = ctrl[VYRE_CTRL_OBSERVABLE_COUNT];
    fence_count = ctrl[VYRE_CTRL_FENCE_COUNT];
    off_metrics = ctrl[VYRE_CTRL_OFF_METRICS];
    off_tenants = ctrl[VYRE_CTRL_OFF_TENANTS];
    off_tenant_opcodes = ctrl[VYRE_CTRL_OFF_TENANT_OPCODES];
    off_fences = ctrl[VYRE_CTRL_OFF_FENCES];
    off_observables = ctrl[VYRE_CTRL_OFF_OBSERVABLES];
    if (ctrl[VYRE_CTRL_MAGIC] != VYRE_CONTROL_MAGIC || slot_count == 0u) return;

#ifdef VYRE_IDLE_BACKOFF
    slice_start = clockRealtime2x32EXT().x;
#endif
    uint lane = gl_GlobalInvocationID.x;
    uint lanes = max(pc.lane_count, 1u);
    // The most one slot can cost in iterations (a MEMCPY plus the table
    // scan); a lane never starts a slot it might not finish in budget.
    uint reserve = VYRE_MEMCPY_MAX_WORDS + VYRE_TENANT_OPCODE_CAPACITY + VYRE_TENANT_WINDOW_RETRIES
        + 2u * VYRE_SLOT_MAX_ARGS + VYRE_PRINTF_MAX_VALUES;
    uint stop = VYRE_STOP_BUDGET;
    uint idle = 0u, backoff = 0u;
    // Where this slice's scans start: the heartbeat, which lane 0 advances
    // once every 16 passes, so by at least one and at most the passes run in
    // each slice. A lane takes the first published slot its scan meets, so a
    // slot that keeps coming back (a fence waiting for its members) hides
    // the slots behind it in that lane's order; restarting every slice at
    // pass 0 (lavapipe runs about 60 passes a slice) hid a fence's own
    // member behind it for good, and the batch never finished.
    uint rotation = ctrl[VYRE_CTRL_HEARTBEAT] % slot_count;
    uint jump = SCAN_JUMP % slot_count;
    for (uint pass = 0u; pass < pc.max_passes; pass++) {
        iters++;
        if (iters + reserve >= pc.budget) break;
        // Shutdown and the heartbeat are checked every 16th pass only: each
        // is a trip to memory, and a pass that only scans picks up a
        // published slot sooner.
        if ((pass & 15u) == 0u) {
            if (ctrl[VYRE_CTRL_SHUTDOWN] != 0u) { stop = VYRE_STOP_SHUTDOWN; break; }
            if (time_is_up()) break;
            if (lane == 0u) atomicAdd(ctrl[VYRE_CTRL_HEARTBEAT], 1u);
        }
        // Scan this lane's share of the ring for a published slot (the
        // lane → slot mapping rotates by pass, so no slot waits on one
        // particular lane), then claim and run it: one slot per lane per
        // pass. The scan only reads status words, which keeps it cheap on
        // SIMD devices (lavapipe) that would otherwise run the whole slot
        // body, masked, at every slot checked. (Claiming inside the scan
        // loop and breaking out of it executed some slots twice on lavapipe;
        // breaking out at the first published slot made passes so short that
        // lavapipe's own count of loop iterations reached its 65 535 cap
        // before ours reached the budget, cutting DFA walks short; so the
        // loop reads on.)
        uint candidate = 0xFFFFFFFFu, candidate_status = 0u;
        // Where this pass's share starts: far from the last pass's, so that
        // idle lanes spread over the ring (docs/PROTOCOL.md §3). Below 2^32:
        // both factors are below VYRE_MAX_SLOTS = 2^16.
        uint offset = ((pass % slot_count) * jump + rotation) % slot_count;
        for (uint s = lane % slot_count; s < slot_count; s += lanes) {
            iters++;
            uint slot = (s + offset) % slot_count;
            uint seen = ring[slot_word(slot, VYRE_SLOT_WORD_STATUS)];
            if (candidate == 0xFFFFFFFFu && (seen & VYRE_STATUS_STATE_MASK) == VYRE_SLOT_PUBLISHED) {
                candidate = slot;
                candidate_status = seen;
            }
            // A long scan (a big ring over few lanes) must not eat the
            // budget the slot after it needs. The loop only reads, so
            // leaving it early is safe.
            if (iters + reserve >= pc.budget) break;
        }
        // A lane whose slice is over claims nothing more: a scan part claimed
        // now would be handed back after one block (on an H200 this churn
        // claimed every part about 29 times per job).
        if (candidate != 0xFFFFFFFFu && time_is_up()) break;
        if (candidate != 0xFFFFFFFFu) {
            uint generation = try_claim(candidate, candidate_status);
            if (generation != 0xFFFFFFFFu) serve(candidate, generation);
            idle = 0u;
            backoff = 0u;
        } else {
            idle++;
            if (pc.idle_exit != 0u && idle >= pc.idle_exit) { stop = VYRE_STOP_IDLE; break; }
        }
#ifdef VYRE_IDLE_BACKOFF
        // A lane that found nothing for a while waits before its next scan,
        // doubling the wait up to backoff_max: an idle kernel stops
        // hammering memory, while a busy one never waits.
        if (idle >= pc.idle_passes && pc.backoff_max != 0u) {
            backoff = min(max(2u * backoff, 32u), pc.backoff_max);
            // One iteration of the budget, however long: the wait is bounded
            // by the clock (this variant never runs on lavapipe, whose loop
            // cap the budget is for).
            iters++;
            uint start = clockRealtime2x32EXT().x;
            while (clockRealtime2x32EXT().x - start < backoff) {}
        }
#endif
        if (pass + 1u == pc.max_passes) stop = VYRE_STOP_PASS;
    }
    atomicExchange(ctrl[VYRE_CTRL_STOP_REASON], stop);
}
