//! Every number shared by the host, the devices and C callers, defined once.
//!
//! The names are the ones C sees: cbindgen copies these constants into
//! `include/vyre.h` verbatim, later the shader build includes this file to
//! emit GLSL `#define`s, and Rust uses them directly. Values are plain
//! literals so every consumer can read them without evaluating Rust.
//! docs/PROTOCOL.md explains each buffer word by word.

// ---------------------------------------------------------------- ring slots

/// Words in one ring slot: status, opcode, tenant, batch tag, 12 arguments.
pub const VYRE_SLOT_WORDS: u32 = 16;
/// Status word: state, fault reason and generation (see `VYRE_STATUS_*`).
pub const VYRE_SLOT_WORD_STATUS: u32 = 0;
/// Opcode word.
pub const VYRE_SLOT_WORD_OPCODE: u32 = 1;
/// Tenant id word.
pub const VYRE_SLOT_WORD_TENANT: u32 = 2;
/// Batch tag word: 0 = not in a batch, k + 1 = member of fence counter k.
/// (Upstream called this word "priority" and never read it.)
pub const VYRE_SLOT_WORD_BATCH: u32 = 3;
/// First argument word; arguments occupy the rest of the slot.
pub const VYRE_SLOT_WORD_ARG0: u32 = 4;
/// Arguments one slot carries.
pub const VYRE_SLOT_MAX_ARGS: u32 = 12;

/// Status word bits 0..4: the slot state.
pub const VYRE_STATUS_STATE_MASK: u32 = 0xF;
/// Status word bits 4..8: the fault reason (FAULT slots only).
pub const VYRE_STATUS_REASON_SHIFT: u32 = 4;
/// Mask of the fault reason after shifting.
pub const VYRE_STATUS_REASON_MASK: u32 = 0xF;
/// Status word bits 8..32: the slot's generation, bumped on every publish.
pub const VYRE_STATUS_GENERATION_SHIFT: u32 = 8;
/// Mask of the generation after shifting (24 bits).
pub const VYRE_STATUS_GENERATION_MASK: u32 = 0x00FF_FFFF;

/// Slot state: never used, or recycled by the host.
pub const VYRE_SLOT_EMPTY: u32 = 0;
/// Slot state: payload written, waiting for any worker to claim it.
pub const VYRE_SLOT_PUBLISHED: u32 = 1;
/// Slot state: a worker owns it and is executing it.
pub const VYRE_SLOT_CLAIMED: u32 = 2;
/// Slot state: executed; its effects are visible.
pub const VYRE_SLOT_DONE: u32 = 3;
/// Slot state number kept from the upstream protocol for a slot waiting on
/// the IO queue; this version never produces it and never claims such a slot.
pub const VYRE_SLOT_WAIT_IO: u32 = 4;
/// Upstream state number, reserved: never produced, never claimed.
pub const VYRE_SLOT_YIELD: u32 = 5;
/// Upstream state number, reserved: never produced, never claimed.
pub const VYRE_SLOT_REQUEUE: u32 = 6;
/// Slot state: rejected or cancelled; the reason bits say why.
pub const VYRE_SLOT_FAULT: u32 = 7;

/// Fault reason: none (the slot is not faulted).
pub const VYRE_FAULT_NONE: u32 = 0;
/// Fault reason: the opcode is not a built-in, nor a registered tenant opcode.
pub const VYRE_FAULT_UNKNOWN_OPCODE: u32 = 1;
/// Fault reason: the tenant id is not below the tenant count.
pub const VYRE_FAULT_BAD_TENANT: u32 = 2;
/// Fault reason: a word index falls outside the tenant's observable window.
pub const VYRE_FAULT_OUT_OF_WINDOW: u32 = 3;
/// Fault reason: the opcode belongs to another tenant or is not registered.
pub const VYRE_FAULT_OPCODE_NOT_ALLOWED: u32 = 4;
/// Fault reason: malformed arguments (counts, reserved words, limits).
pub const VYRE_FAULT_BAD_ARGS: u32 = 5;
/// Fault reason: cancelled by shutdown or destroy before it ran.
pub const VYRE_FAULT_CANCELLED: u32 = 6;
/// Fault reason: the device was lost before the slot completed.
pub const VYRE_FAULT_DEVICE_LOST: u32 = 7;
/// Fault reason: the batch tag names no fence counter.
pub const VYRE_FAULT_BAD_BATCH: u32 = 8;
/// Fault reason: an IO_READ the host answered ERROR; the slot's
/// `VYRE_IO_ARG_RESULT` holds the positive errno.
pub const VYRE_FAULT_IO: u32 = 9;

/// Generations of one slot whose outcome the host remembers: a ticket
/// stays answerable until its slot has been reused this many times.
pub const VYRE_TICKET_HISTORY: u32 = 8;

// ------------------------------------------------------------------- opcodes

/// No operation.
pub const VYRE_OP_NOP: u32 = 0;
/// `window[a0] = a1`.
pub const VYRE_OP_STORE_U32: u32 = 1;
/// `window[a0] += a1` (atomic, wrapping).
pub const VYRE_OP_ATOMIC_ADD: u32 = 2;
/// `window[a1] = window[a0]`.
pub const VYRE_OP_LOAD_U32: u32 = 3;
/// `old = CAS(window[a0], expected a1, desired a2); window[a3] = old`.
pub const VYRE_OP_COMPARE_SWAP: u32 = 4;
/// Copy `a2` words from `window[a0..]` to `window[a1..]` (non-overlapping).
pub const VYRE_OP_MEMCPY: u32 = 5;
/// DFA scan step; reserved for the scanning engine, faults until it exists.
pub const VYRE_OP_DFA_SCAN: u32 = 6;
/// Ask the host (the pump) to read a file range into the arena through the
/// IO queue (`VYRE_IO_ARG_*`); the engine publishes it, tenant 0 only.
pub const VYRE_OP_IO_READ: u32 = 8;
/// Counting batch fence: completes after `a1` members tagged with fence
/// counter `a0` are done; bumps the epoch and writes it to `window[a2]`
/// unless `a2` is `VYRE_NO_OBSERVABLE`.
pub const VYRE_OP_BATCH_FENCE: u32 = 7;
/// Append a debug-log record: `a0` format id, `a1` value count, `a2..` values.
pub const VYRE_OP_PRINTF: u32 = 0xFFFE;
/// Up to `VYRE_PACKED_MAX_OPS` small operations in one slot.
pub const VYRE_OP_PACKED_SLOT: u32 = 0x8000_0001;
/// Ask every worker to stop at its next clean point.
pub const VYRE_OP_SHUTDOWN: u32 = 0xFFFF_FFFF;
/// First opcode of the tenant opcode space.
pub const VYRE_TENANT_OPCODE_BASE: u32 = 0x4000_0000;
/// Opcodes each tenant owns: tenant t owns
/// `[BASE + t * WINDOW, BASE + (t + 1) * WINDOW)`.
pub const VYRE_TENANT_OPCODE_WINDOW: u32 = 0x1_0000;

/// "No observable" marker for optional result indices.
pub const VYRE_NO_OBSERVABLE: u32 = 0xFFFF_FFFF;

/// Most operations one PACKED_SLOT carries, on host and device alike.
pub const VYRE_PACKED_MAX_OPS: u32 = 4;
/// PACKED_SLOT a0 bits 0..4: the operation count (1..=4).
pub const VYRE_PACKED_COUNT_MASK: u32 = 0xF;
/// PACKED_SLOT a0: operation i's opcode sits at bits `4 + 4 * i` (4 bits).
pub const VYRE_PACKED_OPCODE_SHIFT: u32 = 4;
/// Bits per packed opcode; packed operations are NOP, STORE_U32,
/// ATOMIC_ADD and LOAD_U32, each with two arguments at a(1 + 2i), a(2 + 2i).
pub const VYRE_PACKED_OPCODE_BITS: u32 = 4;

/// Most words one MEMCPY moves (keeps per-slot work bounded).
pub const VYRE_MEMCPY_MAX_WORDS: u32 = 1024;

// ------------------------------------------------------------ control buffer

/// Control word: non-zero asks every worker to stop.
pub const VYRE_CTRL_SHUTDOWN: u32 = 0;
/// Control word: slots completed DONE (wrapping).
pub const VYRE_CTRL_DONE_COUNT: u32 = 1;
/// Control word: completed BATCH_FENCEs (wrapping).
pub const VYRE_CTRL_EPOCH: u32 = 2;
/// Control word: slots completed FAULT by a worker (wrapping).
pub const VYRE_CTRL_FAULT_COUNT: u32 = 3;
/// Control word: `VYRE_CONTROL_MAGIC`, identifies the layout version.
pub const VYRE_CTRL_MAGIC: u32 = 4;
/// Control word: total words of the control buffer.
pub const VYRE_CTRL_TOTAL_WORDS: u32 = 5;
/// Control word: tenant count.
pub const VYRE_CTRL_TENANT_COUNT: u32 = 6;
/// Control word: observable count.
pub const VYRE_CTRL_OBSERVABLE_COUNT: u32 = 7;
/// Control word: fence counter count.
pub const VYRE_CTRL_FENCE_COUNT: u32 = 8;
/// Control word: tenant opcode table entries.
pub const VYRE_CTRL_TENANT_OPCODE_COUNT: u32 = 9;
/// Control word: first word of the metrics region.
pub const VYRE_CTRL_OFF_METRICS: u32 = 10;
/// Control word: first word of the tenant table.
pub const VYRE_CTRL_OFF_TENANTS: u32 = 11;
/// Control word: first word of the tenant opcode table.
pub const VYRE_CTRL_OFF_TENANT_OPCODES: u32 = 12;
/// Control word: first word of the fence counters.
pub const VYRE_CTRL_OFF_FENCES: u32 = 13;
/// Control word: first word of the observables.
pub const VYRE_CTRL_OFF_OBSERVABLES: u32 = 14;
/// Control word: ring slot count.
pub const VYRE_CTRL_SLOT_COUNT: u32 = 15;
/// Control word (GPU backends): slices completed; the host bumps it when a
/// slice's dispatch ends.
pub const VYRE_CTRL_SLICE_COUNT: u32 = 16;
/// Control word (GPU backends): why the last lane left its slice
/// (`VYRE_STOP_*`).
pub const VYRE_CTRL_STOP_REASON: u32 = 17;
/// Control word (GPU backends): polling passes made by lane 0, a heartbeat
/// the host watchdog reads.
pub const VYRE_CTRL_HEARTBEAT: u32 = 18;
/// Header words; 19..32 are reserved (zero).
pub const VYRE_CTRL_HEADER_WORDS: u32 = 32;

/// Stop reason: the slice's iteration budget ran out (the next slice is
/// already queued).
pub const VYRE_STOP_BUDGET: u32 = 1;
/// Stop reason: the SHUTDOWN word was set.
pub const VYRE_STOP_SHUTDOWN: u32 = 2;
/// Stop reason: a single-pass dispatch finished its pass.
pub const VYRE_STOP_PASS: u32 = 3;
/// Stop reason: found no work for `idle_exit` passes (a dispatch per batch).
pub const VYRE_STOP_IDLE: u32 = 4;
/// "VYR1": control layout version 1.
pub const VYRE_CONTROL_MAGIC: u32 = 0x3152_5956;

/// Metric buckets (one count each), indexed by `VYRE_METRIC_*`.
pub const VYRE_METRIC_COUNT: u32 = 16;
/// Metric bucket of NOP; buckets 0..=7 carry the numbers of opcodes 0..=7.
pub const VYRE_METRIC_NOP: u32 = 0;
/// Metric bucket of STORE_U32.
pub const VYRE_METRIC_STORE_U32: u32 = 1;
/// Metric bucket of ATOMIC_ADD.
pub const VYRE_METRIC_ATOMIC_ADD: u32 = 2;
/// Metric bucket of LOAD_U32.
pub const VYRE_METRIC_LOAD_U32: u32 = 3;
/// Metric bucket of COMPARE_SWAP.
pub const VYRE_METRIC_COMPARE_SWAP: u32 = 4;
/// Metric bucket of MEMCPY.
pub const VYRE_METRIC_MEMCPY: u32 = 5;
/// Metric bucket of DFA_SCAN.
pub const VYRE_METRIC_DFA_SCAN: u32 = 6;
/// Metric bucket of BATCH_FENCE.
pub const VYRE_METRIC_BATCH_FENCE: u32 = 7;
/// Metric bucket of PRINTF.
pub const VYRE_METRIC_PRINTF: u32 = 8;
/// Metric bucket of PACKED_SLOT (its inner operations count in their own).
pub const VYRE_METRIC_PACKED_SLOT: u32 = 9;
/// Metric bucket of SHUTDOWN.
pub const VYRE_METRIC_SHUTDOWN: u32 = 10;
/// Metric bucket of every registered tenant opcode.
pub const VYRE_METRIC_TENANT: u32 = 11;
/// Metric bucket of faulted slots, whatever their opcode.
pub const VYRE_METRIC_FAULT: u32 = 12;
/// Metric bucket of IO_READ (its bucket is not its opcode number: 8 is PRINTF's).
pub const VYRE_METRIC_IO_READ: u32 = 13;

/// Tenant table entry words: window base, window length, sequence.
pub const VYRE_TENANT_ENTRY_WORDS: u32 = 3;
/// Tenant table entry word: first observable of the window.
pub const VYRE_TENANT_WINDOW_BASE: u32 = 0;
/// Tenant table entry word: observables in the window.
pub const VYRE_TENANT_WINDOW_LEN: u32 = 1;
/// Tenant table entry word: odd while the host rewrites the window; a
/// reader that sees it odd, or changed across its read, reads again.
pub const VYRE_TENANT_WINDOW_SEQ: u32 = 2;
/// Times an executor re-reads a window that is being rewritten before it
/// faults the slot OUT_OF_WINDOW.
pub const VYRE_TENANT_WINDOW_RETRIES: u32 = 64;

/// Tenant opcode table entries.
pub const VYRE_TENANT_OPCODE_CAPACITY: u32 = 64;
/// Tenant opcode entry words: opcode (written last; 0 = free), tenant,
/// built-in opcode it runs, reserved.
pub const VYRE_TENANT_OPCODE_ENTRY_WORDS: u32 = 4;
/// Tenant opcode entry word: the tenant opcode, 0 while the entry is free.
pub const VYRE_TENANT_OPCODE_WORD_OPCODE: u32 = 0;
/// Tenant opcode entry word: the owning tenant.
pub const VYRE_TENANT_OPCODE_WORD_TENANT: u32 = 1;
/// Tenant opcode entry word: the built-in opcode executed in its place.
pub const VYRE_TENANT_OPCODE_WORD_BUILTIN: u32 = 2;

/// Words per fence counter: members finished so far, owning tenant.
pub const VYRE_FENCE_ENTRY_WORDS: u32 = 2;
/// Fence counter word: batch members finished so far.
pub const VYRE_FENCE_WORD_COUNT: u32 = 0;
/// Fence counter word: the tenant that owns the batch.
pub const VYRE_FENCE_WORD_OWNER: u32 = 1;

// ----------------------------------------------------------------- debug log

/// Debug-log header words.
pub const VYRE_DEBUG_HEADER_WORDS: u32 = 4;
/// Debug-log word: records reserved so far (may exceed capacity).
pub const VYRE_DEBUG_CURSOR: u32 = 0;
/// Debug-log word: record capacity.
pub const VYRE_DEBUG_CAPACITY: u32 = 1;
/// Debug-log word: records dropped because the log was full.
pub const VYRE_DEBUG_DROPPED: u32 = 2;
/// Words per debug record.
pub const VYRE_DEBUG_RECORD_WORDS: u32 = 12;
/// Record word: record index + 1, written last (0 = not yet committed).
pub const VYRE_DEBUG_REC_COMMIT: u32 = 0;
/// Record word: tenant.
pub const VYRE_DEBUG_REC_TENANT: u32 = 1;
/// Record word: format id.
pub const VYRE_DEBUG_REC_FORMAT: u32 = 2;
/// Record word: value count.
pub const VYRE_DEBUG_REC_VALUE_COUNT: u32 = 3;
/// Record word: first value.
pub const VYRE_DEBUG_REC_VALUE0: u32 = 4;
/// Values one PRINTF record carries.
pub const VYRE_PRINTF_MAX_VALUES: u32 = 8;

// ------------------------------------------------------------------ IO queue

/// IO queue slots (one GPU poll window).
pub const VYRE_IO_SLOT_COUNT: u32 = 64;
/// Words per IO queue slot.
pub const VYRE_IO_SLOT_WORDS: u32 = 8;
/// IO word: operation (`VYRE_IO_OP_*`).
pub const VYRE_IO_WORD_OP: u32 = 0;
/// IO word: source handle (file id).
pub const VYRE_IO_WORD_SRC: u32 = 1;
/// IO word: destination handle (arena chunk).
pub const VYRE_IO_WORD_DST: u32 = 2;
/// IO word: file offset, low 32 bits.
pub const VYRE_IO_WORD_OFFSET_LO: u32 = 3;
/// IO word: file offset, high 32 bits.
pub const VYRE_IO_WORD_OFFSET_HI: u32 = 4;
/// IO word: bytes requested; on completion, bytes moved (OK) or errno (ERROR).
pub const VYRE_IO_WORD_BYTE_COUNT: u32 = 5;
/// IO word: state (`VYRE_IO_*`).
pub const VYRE_IO_WORD_STATUS: u32 = 6;
/// IO word: requester's tag, echoed untouched.
pub const VYRE_IO_WORD_TAG: u32 = 7;
/// IO state: free.
pub const VYRE_IO_EMPTY: u32 = 0;
/// IO state: requested by the device, waiting for the host.
pub const VYRE_IO_REQUESTED: u32 = 1;
/// IO state: the host took it and is performing it.
pub const VYRE_IO_CLAIMED: u32 = 2;
/// IO state: performed; BYTE_COUNT holds the bytes moved.
pub const VYRE_IO_OK: u32 = 0x10;
/// IO state: failed; BYTE_COUNT holds the positive errno.
pub const VYRE_IO_ERROR: u32 = 0x11;
/// IO operation: read a file range into the arena.
pub const VYRE_IO_OP_READ: u32 = 1;

/// IO_READ argument: the IO queue slot the request goes through.
pub const VYRE_IO_ARG_SLOT: u32 = 0;
/// IO_READ argument: source, an index from `vyre_pump_register_fd`/`_path`.
pub const VYRE_IO_ARG_SRC: u32 = 1;
/// IO_READ argument: arena byte offset the bytes land at.
pub const VYRE_IO_ARG_DST: u32 = 2;
/// IO_READ argument: file offset, low 32 bits.
pub const VYRE_IO_ARG_OFFSET_LO: u32 = 3;
/// IO_READ argument: file offset, high 32 bits.
pub const VYRE_IO_ARG_OFFSET_HI: u32 = 4;
/// IO_READ argument: bytes wanted.
pub const VYRE_IO_ARG_BYTE_COUNT: u32 = 5;
/// IO_READ argument: tag written to the request's TAG word.
pub const VYRE_IO_ARG_TAG: u32 = 6;
/// IO_READ argument (device-written): `VYRE_IO_PHASE_*`, so a slot handed
/// back knows whether its request is already in the queue.
pub const VYRE_IO_ARG_PHASE: u32 = 7;
/// IO_READ argument (device-written): bytes moved (DONE) or errno (FAULT IO).
pub const VYRE_IO_ARG_RESULT: u32 = 8;
/// IO_READ phase: the request is not in the queue yet.
pub const VYRE_IO_PHASE_NEW: u32 = 0;
/// IO_READ phase: the request is in the queue; wait for OK or ERROR.
pub const VYRE_IO_PHASE_REQUESTED: u32 = 1;

// ------------------------------------------------------------------ scanning
// The engine's DFA_SCAN slots, the scan-state buffer and the rule tables the
// kernel walks: docs/PROTOCOL.md ("Scanning") gives every word.

/// DFA_SCAN argument: job entry index in the scan-state buffer.
pub const VYRE_SCAN_ARG_JOB: u32 = 0;
/// DFA_SCAN argument: word offset of the rule table in the rules buffer.
pub const VYRE_SCAN_ARG_TABLE: u32 = 1;
/// DFA_SCAN argument: arena word holding the walk's first byte.
pub const VYRE_SCAN_ARG_BASE_WORD: u32 = 2;
/// DFA_SCAN argument: byte of that word the walk starts at (0..=3).
pub const VYRE_SCAN_ARG_BASE_SKEW: u32 = 3;
/// DFA_SCAN argument: bytes the walk reads.
pub const VYRE_SCAN_ARG_LEN: u32 = 4;
/// DFA_SCAN argument: bytes already read (a claim that ran out of budget
/// stores its progress here and hands the slot back).
pub const VYRE_SCAN_ARG_POS: u32 = 5;
/// DFA_SCAN argument: current DFA state, or `VYRE_SCAN_STATE_AFTER_PREVIOUS`.
pub const VYRE_SCAN_ARG_STATE: u32 = 6;
/// DFA_SCAN state: start in the start state for the arena byte just before
/// the walk (a part that does not begin its job).
pub const VYRE_SCAN_STATE_AFTER_PREVIOUS: u32 = 0xFFFF_FFFF;
/// DFA_SCAN argument: matches revealed before this walk index belong to the
/// previous part and are not reported.
pub const VYRE_SCAN_ARG_REPORT_FROM: u32 = 7;
/// DFA_SCAN argument: the walk's first byte as an offset in the job; a match
/// revealed at walk index `i` ends at job offset `END_BIAS + i`.
pub const VYRE_SCAN_ARG_END_BIAS: u32 = 8;
/// DFA_SCAN argument: `VYRE_SCAN_FLAG_*` bits.
pub const VYRE_SCAN_ARG_FLAGS: u32 = 9;
/// DFA_SCAN flag: the walk ends at the end of the job, so it takes the
/// end-of-input transition last.
pub const VYRE_SCAN_FLAG_EOI: u32 = 1;

/// Scan-state word: `VYRE_SCAN_MAGIC` once the host laid the buffer out.
pub const VYRE_SCAN_HDR_MAGIC: u32 = 0;
/// Scan-state word: job entries (and completion records).
pub const VYRE_SCAN_HDR_JOB_COUNT: u32 = 1;
/// Scan-state word: hit records.
pub const VYRE_SCAN_HDR_HIT_RECORDS: u32 = 2;
/// Scan-state word: completion records ever appended (device-owned).
pub const VYRE_SCAN_HDR_COMPLETION_TAIL: u32 = 3;
/// Scan-state word: words in the rules buffer.
pub const VYRE_SCAN_HDR_RULE_WORDS: u32 = 4;
/// Most words of an arena (4 GiB - 16 bytes): one storage buffer, and
/// byte offsets inside it fit 32 bits.
pub const VYRE_SCAN_MAX_ARENA_WORDS: u32 = 0x3FFF_FFFC;
/// Scan-state word: words in the arena buffer.
pub const VYRE_SCAN_HDR_ARENA_WORDS: u32 = 5;
/// Scan-state word: offset of the completion records.
pub const VYRE_SCAN_HDR_OFF_COMPLETIONS: u32 = 6;
/// Scan-state word: offset of the job entries.
pub const VYRE_SCAN_HDR_OFF_JOBS: u32 = 7;
/// Scan-state word: offset of the hit records.
pub const VYRE_SCAN_HDR_OFF_HITS: u32 = 8;
/// Scan-state word: IO queue slots (0 on a bare megakernel).
pub const VYRE_SCAN_HDR_IO_SLOTS: u32 = 9;
/// Scan-state word: offset of the IO queue.
pub const VYRE_SCAN_HDR_OFF_IO: u32 = 10;
/// Words of the scan-state header.
pub const VYRE_SCAN_HEADER_WORDS: u32 = 16;
/// Scan-state magic ("VYS1").
pub const VYRE_SCAN_MAGIC: u32 = 0x3153_5956;

/// Words of one completion record.
pub const VYRE_SCAN_COMPLETION_WORDS: u32 = 8;
/// Completion word: the record's sequence word, written last (0: never written).
pub const VYRE_SCAN_COMPLETION_SEQ: u32 = 0;
/// Record `n`'s sequence word is `n % VYRE_SCAN_SEQ_MODULUS + 1`. A power
/// of two: when the 32-bit record counter wraps, a record's new sequence
/// word still differs from its previous use's (with `2^31 - 1`, a ring of 2
/// records saw the same word twice and a stale record was read as new).
pub const VYRE_SCAN_SEQ_MODULUS: u32 = 0x8000_0000;
/// Completion word: the job entry that finished.
pub const VYRE_SCAN_COMPLETION_JOB: u32 = 1;
/// Completion word: matches found (may exceed the hit capacity).
pub const VYRE_SCAN_COMPLETION_HITS: u32 = 2;
/// Completion word: first fault reason of any part, 0 for none.
pub const VYRE_SCAN_COMPLETION_FAULT: u32 = 3;
/// Completion word: the first of `VYRE_SCAN_INLINE_HITS` hit records
/// (PATTERN, END) copied into the record when the job stored at most that
/// many, so that the host reads a small job's hits with its record: on a GPU
/// each read is a trip over PCIe.
pub const VYRE_SCAN_COMPLETION_INLINE: u32 = 4;
/// Hit records a completion record carries.
pub const VYRE_SCAN_INLINE_HITS: u32 = 2;

/// Words of one job entry.
pub const VYRE_SCAN_JOB_WORDS: u32 = 8;
/// Job word: parts not finished yet; the part that takes it to 0 appends
/// the completion record.
pub const VYRE_SCAN_JOB_PARTS_LEFT: u32 = 0;
/// Job word: matches found so far.
pub const VYRE_SCAN_JOB_HIT_COUNT: u32 = 1;
/// Job word: first hit record of the job's share.
pub const VYRE_SCAN_JOB_HIT_BASE: u32 = 2;
/// Job word: hit records in the job's share.
pub const VYRE_SCAN_JOB_HIT_CAPACITY: u32 = 3;
/// Job word: first fault reason of any part, 0 for none.
pub const VYRE_SCAN_JOB_FAULT: u32 = 4;

/// Words of one hit record.
pub const VYRE_SCAN_HIT_WORDS: u32 = 2;
/// Hit word: pattern id.
pub const VYRE_SCAN_HIT_PATTERN: u32 = 0;
/// Hit word: end offset of the match in its job (exclusive).
pub const VYRE_SCAN_HIT_END: u32 = 1;

/// Rule-table word: `VYRE_TABLE_MAGIC`.
pub const VYRE_TABLE_MAGIC_WORD: u32 = 0;
/// Rule-table word: byte classes; a transition row has one more column.
pub const VYRE_TABLE_CLASSES: u32 = 1;
/// Rule-table word: DFA states (state `s`'s row starts at `s * (classes + 1)`).
pub const VYRE_TABLE_STATES: u32 = 2;
/// Rule-table word: offset of the transitions from the table start.
pub const VYRE_TABLE_OFF_TRANSITIONS: u32 = 3;
/// Rule-table word: offset of the `states + 1` match offsets.
pub const VYRE_TABLE_OFF_MATCH_OFFSETS: u32 = 4;
/// Rule-table word: offset of the match ids.
pub const VYRE_TABLE_OFF_MATCH_IDS: u32 = 5;
/// Rule-table word: total words of the table.
pub const VYRE_TABLE_TOTAL_WORDS: u32 = 6;
/// Rule-table word: the longest match list of any state.
pub const VYRE_TABLE_MAX_MATCH_LIST: u32 = 7;
/// Rule-table word: offset of the 257 start states (start of input, then one
/// per previous byte).
pub const VYRE_TABLE_OFF_STARTS: u32 = 8;
/// Rule-table words before the class map.
pub const VYRE_TABLE_HEADER_WORDS: u32 = 12;
/// Words of the class map (256 byte classes, four per word, low byte first).
pub const VYRE_TABLE_CLASS_MAP_WORDS: u32 = 64;
/// Rule-table magic ("VYT1").
pub const VYRE_TABLE_MAGIC: u32 = 0x3154_5956;
/// Transition bit: the target state has a match list.
pub const VYRE_TABLE_MATCH_FLAG: u32 = 0x8000_0000;
/// Longest match list a loadable table may have: a lane must be able to
/// report one whole list within its slice budget.
pub const VYRE_TABLE_MAX_MATCHES_PER_STATE: u32 = 4096;

// -------------------------------------------------------------------- limits

/// Most ring slots one megakernel has.
pub const VYRE_MAX_SLOTS: u32 = 65536;
/// Most tenants one megakernel has.
pub const VYRE_MAX_TENANTS: u32 = 1024;
/// Most observables one megakernel has.
pub const VYRE_MAX_OBSERVABLES: u32 = 1 << 20;
/// Most debug-log records.
pub const VYRE_MAX_DEBUG_RECORDS: u32 = 1 << 20;
/// Most fence counters (batches in flight).
pub const VYRE_MAX_FENCES: u32 = 4096;
/// Default ring slots.
pub const VYRE_DEFAULT_SLOTS: u32 = 256;
/// Default observables.
pub const VYRE_DEFAULT_OBSERVABLES: u32 = 256;
/// Default debug-log records.
pub const VYRE_DEFAULT_DEBUG_RECORDS: u32 = 1024;
