//! Hostile ring slots and hostile rule tables, written straight into a
//! backend's buffers past every host-side check (as a bug in the host, or
//! another ring writer, could): each executor, the reference workers and the
//! Vulkan kernel alike, must fault the slot with the documented reason and
//! leave every word it was not allowed to touch exactly as it was.
//! docs/SECURITY.md lists what these tests prove.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use vyre::backend::{self, Backend, BackendChoice, BackendConfig};
use vyre::error::ErrorKind;
use vyre::protocol::abi::*;
use vyre::protocol::control::{Control, Layout};
use vyre::protocol::scan::{sequence_word, Part, ScanLayout};
use vyre::protocol::slot::{Payload, Ring};

const LONG: Duration = Duration::from_secs(120);
/// Control words only the Vulkan backend writes (slice count, stop reason,
/// heartbeat): they change on their own.
const DEVICE_WORDS: std::ops::RangeInclusive<usize> = 16..=18;
/// A result the tests expect: DONE, or FAULT with this reason.
const DONE: u32 = u32::MAX;

/// Both backends over `config`; Vulkan only where a device exists, unless
/// VYRE_CONFORMANCE_REQUIRE_VULKAN demands it.
fn backends(config: &BackendConfig) -> Vec<Box<dyn Backend>> {
    let mut out = vec![backend::start(BackendChoice::Reference, config).unwrap()];
    match backend::start(BackendChoice::Vulkan, config) {
        Ok(gpu) => out.push(gpu),
        Err(e) if e.kind == ErrorKind::Unsupported && std::env::var_os("VYRE_CONFORMANCE_REQUIRE_VULKAN").is_none() => {
            eprintln!("Vulkan skipped: {e}")
        }
        Err(e) => panic!("Vulkan backend: {e}"),
    }
    out
}

fn snapshot(words: &[AtomicU32]) -> Vec<u32> {
    words.iter().map(|w| w.load(Ordering::Acquire)).collect()
}

/// Publish `payload` raw into slot 0 as `generation` and wait until a
/// worker finished it; returns DONE or the fault reason.
fn run_raw(backend: &dyn Backend, generation: u32, payload: &Payload) -> u32 {
    let ring = Ring::new(backend.ring()).unwrap();
    ring.publish(0, generation, payload).unwrap();
    backend.notify(1);
    let deadline = Instant::now() + LONG;
    loop {
        let status = ring.status(0).unwrap();
        if status.generation == generation & VYRE_STATUS_GENERATION_MASK {
            match status.state {
                VYRE_SLOT_DONE => return DONE,
                VYRE_SLOT_FAULT => return status.reason,
                _ => {}
            }
        }
        assert!(Instant::now() < deadline, "slot never finished: {status:?}");
        backend.health().unwrap();
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Every control word is as in `before`, except the counters of one
/// finished slot (DONE_COUNT and `metric`, or FAULT_COUNT and the fault
/// bucket) and the words only the device writes.
fn assert_only_counted(what: &str, layout: &Layout, before: &[u32], after: &[u32], result: u32, metric: u32) {
    let (count, bucket) =
        if result == DONE { (VYRE_CTRL_DONE_COUNT, metric) } else { (VYRE_CTRL_FAULT_COUNT, VYRE_METRIC_FAULT) };
    let bucket = (layout.metrics + bucket) as usize;
    for (i, (&b, &a)) in before.iter().zip(after).enumerate() {
        let expected = if i == count as usize || i == bucket { b.wrapping_add(1) } else { b };
        if !DEVICE_WORDS.contains(&i) {
            assert_eq!(a, expected, "{what}: control word {i} changed from {b} to {a}");
        }
    }
}

// ------------------------------------------------------------- DFA_SCAN

const JOBS: u32 = 4;
const HITS_PER_JOB: u32 = 8;
const ARENA_WORDS: u32 = 16;
/// Each case's table gets its own 64-word-aligned place, written once: the
/// kernel reads tables through a cache that never expects them to change.
const TABLE_STRIDE: u32 = 384;
const RULE_WORDS: u32 = 64 * TABLE_STRIDE;
const INPUT: &[u8] = b"xxabxxab";
const START: u32 = 1;

/// A valid table for the literal "ab" (pattern 0), its match reported at
/// its last byte: classes "other", 'a', 'b'; states dead, start, after 'a',
/// after "ab" (which matches).
fn table() -> Vec<u32> {
    let (classes, states) = (3u32, 4u32);
    let stride = classes + 1;
    let starts = VYRE_TABLE_HEADER_WORDS + VYRE_TABLE_CLASS_MAP_WORDS;
    let transitions = starts + 257;
    let match_offsets = transitions + states * stride;
    let match_ids = match_offsets + states + 1;
    let total = match_ids + 1;
    let mut w = vec![0u32; total as usize];
    for (index, value) in [
        (VYRE_TABLE_MAGIC_WORD, VYRE_TABLE_MAGIC),
        (VYRE_TABLE_CLASSES, classes),
        (VYRE_TABLE_STATES, states),
        (VYRE_TABLE_OFF_TRANSITIONS, transitions),
        (VYRE_TABLE_OFF_MATCH_OFFSETS, match_offsets),
        (VYRE_TABLE_OFF_MATCH_IDS, match_ids),
        (VYRE_TABLE_TOTAL_WORDS, total),
        (VYRE_TABLE_MAX_MATCH_LIST, 1),
        (VYRE_TABLE_OFF_STARTS, starts),
    ] {
        w[index as usize] = value;
    }
    for byte in 0..256u32 {
        let class = match byte as u8 {
            b'a' => 1,
            b'b' => 2,
            _ => 0,
        };
        w[(VYRE_TABLE_HEADER_WORDS + byte / 4) as usize] |= class << (8 * (byte % 4));
    }
    w[starts as usize..transitions as usize].fill(START);
    let rows: [[u32; 4]; 4] = [[0, 0, 0, 0], [1, 2, 1, 0], [1, 2, 3 | VYRE_TABLE_MATCH_FLAG, 0], [1, 2, 1, 0]];
    for (state, row) in rows.iter().enumerate() {
        let at = transitions as usize + state * stride as usize;
        w[at..at + row.len()].copy_from_slice(row);
    }
    w[match_offsets as usize..match_ids as usize].copy_from_slice(&[0, 0, 0, 0, 1]);
    w[match_ids as usize] = 0;
    w
}

/// The valid part: job 0 scans INPUT (arena bytes 0..8) from the start
/// state, match ends = 1 + walk index, with the end-of-input transition.
fn part() -> Part {
    Part {
        job: 0,
        table: 0, // set per case
        base_word: 0,
        base_skew: 0,
        len: INPUT.len() as u32,
        pos: 0,
        state: START,
        report_from: 0,
        end_bias: 1,
        flags: VYRE_SCAN_FLAG_EOI,
    }
}

struct ScanCase {
    name: &'static str,
    table: Vec<u32>,
    /// Where the table goes (ARG_TABLE; only the words inside the rules
    /// buffer are written); default: the case's own place.
    at: Option<u32>,
    part: Part,
    /// Arguments 10 and 11 (reserved, must be 0).
    reserved: [u32; 2],
    tenant: u32,
    expect: u32,
}

fn scan_cases() -> Vec<ScanCase> {
    let bad = VYRE_FAULT_BAD_ARGS;
    let case =
        |name, expect| ScanCase { name, table: table(), at: None, part: part(), reserved: [0, 0], tenant: 0, expect };
    let edited = |name, expect, edit: &dyn Fn(&mut Vec<u32>)| {
        let mut c = case(name, expect);
        edit(&mut c.table);
        c
    };
    let with_part = |name, expect, edit: &dyn Fn(&mut Part)| {
        let mut c = case(name, expect);
        edit(&mut c.part);
        c
    };
    let t = table();
    let transitions = t[VYRE_TABLE_OFF_TRANSITIONS as usize] as usize;
    let offsets = t[VYRE_TABLE_OFF_MATCH_OFFSETS as usize] as usize;
    let stride = 4;
    vec![
        case("the valid part", DONE),
        with_part("the arena's last byte", DONE, &|p| {
            (p.base_word, p.base_skew, p.len, p.end_bias) = (ARENA_WORDS - 1, 3, 1, 64)
        }),
        with_part("a part continuing after the previous byte", DONE, &|p| {
            (p.base_skew, p.len, p.state) = (1, 7, VYRE_SCAN_STATE_AFTER_PREVIOUS)
        }),
        // The table, as the rules buffer holds it.
        edited("bad magic", bad, &|t| t[VYRE_TABLE_MAGIC_WORD as usize] ^= 1),
        edited("0 classes", bad, &|t| t[VYRE_TABLE_CLASSES as usize] = 0),
        edited("257 classes", bad, &|t| t[VYRE_TABLE_CLASSES as usize] = 257),
        edited("states whose rows wrap", bad, &|t| t[VYRE_TABLE_STATES as usize] = u32::MAX),
        edited("no states", bad, &|t| t[VYRE_TABLE_STATES as usize] = 0),
        edited("total past the rules buffer", bad, &|t| t[VYRE_TABLE_TOTAL_WORDS as usize] = RULE_WORDS),
        edited("total of u32::MAX", bad, &|t| t[VYRE_TABLE_TOTAL_WORDS as usize] = u32::MAX),
        edited("total below the header", bad, &|t| t[VYRE_TABLE_TOTAL_WORDS as usize] = 10),
        edited("a longest match list over the limit", bad, &|t| {
            t[VYRE_TABLE_MAX_MATCH_LIST as usize] = VYRE_TABLE_MAX_MATCHES_PER_STATE + 1
        }),
        edited("transitions past the table", bad, &|t| t[VYRE_TABLE_OFF_TRANSITIONS as usize] = u32::MAX),
        edited("a transition to no state", bad, &|t| t[transitions + stride + 1] = 0x7FFF_FFFF),
        edited("a flagged transition to no state", bad, &|t| {
            t[transitions + 2 * stride + 2] = 4 | VYRE_TABLE_MATCH_FLAG
        }),
        edited("a class past the row", bad, &|t| t[VYRE_TABLE_HEADER_WORDS as usize + (b'x' / 4) as usize] = 200),
        edited("a match list longer than declared", bad, &|t| t[offsets + 4] = 5000),
        edited("decreasing match offsets", bad, &|t| (t[offsets + 3], t[offsets + 4]) = (1, 0)),
        edited("match ids past the table", bad, &|t| {
            t[VYRE_TABLE_OFF_MATCH_IDS as usize] = t[VYRE_TABLE_TOTAL_WORDS as usize]
        }),
        {
            let mut c = edited("start states past the table", bad, &|t| t[VYRE_TABLE_OFF_STARTS as usize] = u32::MAX);
            (c.part.base_skew, c.part.len, c.part.state) = (1, 7, VYRE_SCAN_STATE_AFTER_PREVIOUS);
            c
        },
        {
            let mut c = case("a start state out of range", bad);
            let starts = c.table[VYRE_TABLE_OFF_STARTS as usize] as usize;
            c.table[starts + 1 + usize::from(INPUT[0])] = 999;
            (c.part.base_skew, c.part.len, c.part.state) = (1, 7, VYRE_SCAN_STATE_AFTER_PREVIOUS);
            c
        },
        ScanCase { at: Some(RULE_WORDS), ..case("a table offset past the rules buffer", bad) },
        ScanCase { at: Some(u32::MAX), ..case("a table offset of u32::MAX", bad) },
        ScanCase { at: Some(RULE_WORDS - 8), ..case("a table cut by the buffer end", bad) },
        // The part's arguments.
        with_part("a job past the job count", bad, &|p| p.job = JOBS),
        with_part("job u32::MAX", bad, &|p| p.job = u32::MAX),
        with_part("a walk starting past the arena", bad, &|p| (p.base_word, p.len) = (ARENA_WORDS, 1)),
        with_part("base word u32::MAX", bad, &|p| p.base_word = u32::MAX),
        with_part("a skew of 4", bad, &|p| p.base_skew = 4),
        with_part("a walk one byte past the arena", bad, &|p| {
            (p.base_word, p.base_skew, p.len) = (ARENA_WORDS - 1, 3, 2)
        }),
        with_part("length u32::MAX", bad, &|p| p.len = u32::MAX),
        with_part("length u32::MAX at the end", bad, &|p| {
            (p.base_word, p.base_skew, p.len) = (ARENA_WORDS - 1, 3, u32::MAX)
        }),
        with_part("a position past the length", bad, &|p| p.pos = p.len + 1),
        with_part("an unknown flag", bad, &|p| p.flags |= 2),
        with_part("a state out of range", bad, &|p| p.state = 4),
        with_part("look-behind before the arena", bad, &|p| p.state = VYRE_SCAN_STATE_AFTER_PREVIOUS),
        ScanCase { reserved: [0, 1], ..case("a reserved argument set", bad) },
        ScanCase { tenant: 1, ..case("a tenant that does not exist", VYRE_FAULT_BAD_TENANT) },
    ]
}

/// DFA_SCAN re-checks its job, table, arena range, state and flags on the
/// device: a hostile part or a corrupt table in the rules buffer faults
/// with BAD_ARGS (the job, when it exists, records the fault) and writes
/// nothing outside its own job's entry, hit share and completion record.
#[test]
fn hostile_scan_parts_and_corrupt_tables_fault_without_stray_writes() {
    let scan = ScanLayout {
        job_count: JOBS,
        hit_records: JOBS * HITS_PER_JOB,
        rule_words: RULE_WORDS,
        arena_words: ARENA_WORDS,
    };
    let layout = Layout::new(8, 1, 8, 4).unwrap();
    let config = one_worker(layout, scan);
    let cases = scan_cases();
    assert!(cases.len() < (RULE_WORDS / TABLE_STRIDE) as usize);
    for backend in backends(&config) {
        let kind = backend.kind();
        let bufs = backend.scan();
        for (i, &byte) in INPUT.iter().chain(std::iter::repeat(&b'.')).take(bufs.arena.len()).enumerate() {
            bufs.arena[i].store(byte, Ordering::Relaxed);
        }
        let job0 = scan.jobs() as usize;
        let hits0 = scan.hits() as usize;
        let completions = scan.completions() as usize..job0;
        for (k, case) in cases.iter().enumerate() {
            let what = format!("{} on {kind:?}", case.name);
            let at = case.at.unwrap_or(k as u32 * TABLE_STRIDE);
            for (i, &word) in case.table.iter().enumerate() {
                if let Some(cell) = (at as usize).checked_add(i).and_then(|i| bufs.rules.get(i)) {
                    cell.store(word, Ordering::Relaxed);
                }
            }
            for (field, value) in [
                (VYRE_SCAN_JOB_PARTS_LEFT, 1),
                (VYRE_SCAN_JOB_HIT_COUNT, 0),
                (VYRE_SCAN_JOB_HIT_BASE, 0),
                (VYRE_SCAN_JOB_HIT_CAPACITY, HITS_PER_JOB),
                (VYRE_SCAN_JOB_FAULT, 0),
            ] {
                bufs.state[job0 + field as usize].store(value, Ordering::Relaxed);
            }
            let mut args = Part { table: at, ..case.part }.to_args();
            args[10..12].copy_from_slice(&case.reserved);
            let (control_before, state_before) = (snapshot(backend.control()), snapshot(bufs.state));
            let tail = state_before[VYRE_SCAN_HDR_COMPLETION_TAIL as usize];
            let payload = Payload { opcode: VYRE_OP_DFA_SCAN, tenant: case.tenant, batch: 0, args };
            let result = run_raw(backend.as_ref(), k as u32 + 1, &payload);
            assert_eq!(result, case.expect, "{what}");
            if case.part.job == 0 {
                // The part's job exists: its completion record follows the
                // slot's final status.
                let record = completions.start + (tail % JOBS * VYRE_SCAN_COMPLETION_WORDS) as usize;
                let deadline = Instant::now() + LONG;
                while bufs.state[record + VYRE_SCAN_COMPLETION_SEQ as usize].load(Ordering::Acquire)
                    != sequence_word(tail)
                {
                    assert!(Instant::now() < deadline, "{what}: no completion record");
                    std::thread::yield_now();
                }
            }
            let (control_after, state_after) = (snapshot(backend.control()), snapshot(bufs.state));
            assert_only_counted(&what, &layout, &control_before, &control_after, result, VYRE_METRIC_DFA_SCAN);
            // Nothing outside job 0's entry, its hit share, the completion
            // records and their tail changed.
            let own = |i: usize| {
                i == VYRE_SCAN_HDR_COMPLETION_TAIL as usize
                    || completions.contains(&i)
                    || (job0..job0 + VYRE_SCAN_JOB_WORDS as usize).contains(&i)
                    || (hits0..hits0 + (HITS_PER_JOB * VYRE_SCAN_HIT_WORDS) as usize).contains(&i)
            };
            for (i, (b, a)) in state_before.iter().zip(&state_after).enumerate() {
                assert!(own(i) || a == b, "{what}: scan-state word {i} changed from {b} to {a}");
            }
            let job_word = |field: u32| state_after[job0 + field as usize];
            if case.part.job != 0 {
                assert_eq!(job_word(VYRE_SCAN_JOB_PARTS_LEFT), 1, "{what}: job 0 was not this part's");
                assert_eq!(state_after, state_before, "{what}: no job exists, so nothing is written");
            } else if result == DONE {
                assert_eq!((job_word(VYRE_SCAN_JOB_PARTS_LEFT), job_word(VYRE_SCAN_JOB_FAULT)), (0, 0), "{what}");
            } else {
                assert_eq!((job_word(VYRE_SCAN_JOB_PARTS_LEFT), job_word(VYRE_SCAN_JOB_FAULT)), (0, result), "{what}");
            }
            if case.name == "the valid part" {
                assert_eq!(job_word(VYRE_SCAN_JOB_HIT_COUNT), 2, "{what}");
                let mut hits: Vec<(u32, u32)> =
                    (0..2).map(|h| (state_after[hits0 + 2 * h], state_after[hits0 + 2 * h + 1])).collect();
                hits.sort_unstable();
                assert_eq!(hits, [(0, 4), (0, 8)], "{what}");
            }
        }
        backend.health().unwrap();
    }
}

// ------------------------------------------------- tenants and control

const OBSERVABLES: u32 = 16;
/// Tenant 1's window is observables [8, 16).
const T1_BASE: u32 = 8;
/// Tenant 1's opcode, registered as MEMCPY.
const T1_COPY: u32 = VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW + 1;
/// Tenant 0's opcode, registered as STORE_U32.
const T0_STORE: u32 = VYRE_TENANT_OPCODE_BASE;

/// One hostile slot and the host-written table words it runs against.
struct SlotCase {
    name: &'static str,
    opcode: u32,
    tenant: u32,
    batch: u32,
    args: Vec<u32>,
    /// Control words (absolute index, value) written before the slot: a
    /// corrupt host table entry.
    corrupt: Vec<(u32, u32)>,
    expect: u32,
}

fn slot(name: &'static str, opcode: u32, tenant: u32, args: &[u32], expect: u32) -> SlotCase {
    SlotCase { name, opcode, tenant, batch: 0, args: args.to_vec(), corrupt: Vec::new(), expect }
}

fn packed(ops: &[(u32, u32, u32)]) -> Vec<u32> {
    let mut args = vec![ops.len() as u32];
    for (i, &(opcode, a, b)) in ops.iter().enumerate() {
        args[0] |= opcode << (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i as u32);
        args.extend([a, b]);
    }
    args
}

fn slot_cases(layout: &Layout) -> Vec<SlotCase> {
    use vyre::protocol::abi::{
        VYRE_FAULT_BAD_ARGS as ARGS, VYRE_FAULT_BAD_BATCH as BATCH, VYRE_FAULT_BAD_TENANT as TENANT,
        VYRE_FAULT_OPCODE_NOT_ALLOWED as NOT_ALLOWED, VYRE_FAULT_OUT_OF_WINDOW as WINDOW,
        VYRE_FAULT_UNKNOWN_OPCODE as UNKNOWN,
    };
    let wraps_to = |target: u32| target.wrapping_sub(T1_BASE); // base + index lands on `target`
    let t1 = layout.tenants + VYRE_TENANT_ENTRY_WORDS;
    let spare_opcode = layout.tenant_opcodes + 2 * VYRE_TENANT_OPCODE_ENTRY_WORDS;
    let forged_alias = |name, builtin| SlotCase {
        corrupt: vec![
            (spare_opcode + VYRE_TENANT_OPCODE_WORD_TENANT, 1),
            (spare_opcode + VYRE_TENANT_OPCODE_WORD_BUILTIN, builtin),
            (spare_opcode + VYRE_TENANT_OPCODE_WORD_OPCODE, T1_COPY + 1),
        ],
        ..slot(name, T1_COPY + 1, 1, &[0, 1], NOT_ALLOWED)
    };
    let window = |name, base, len, seq| SlotCase {
        corrupt: vec![
            (t1 + VYRE_TENANT_WINDOW_BASE, base),
            (t1 + VYRE_TENANT_WINDOW_LEN, len),
            (t1 + VYRE_TENANT_WINDOW_SEQ, seq),
        ],
        ..slot(name, VYRE_OP_STORE_U32, 1, &[0, 1], WINDOW)
    };
    vec![
        // Indices that leave the window, or wrap around into tenant 0's words.
        slot("STORE just past the window", VYRE_OP_STORE_U32, 1, &[8, 1], WINDOW),
        slot("STORE wrapping onto word 0", VYRE_OP_STORE_U32, 1, &[wraps_to(0), 1], WINDOW),
        slot("ADD wrapping onto word 7", VYRE_OP_ATOMIC_ADD, 1, &[u32::MAX, 1], WINDOW),
        slot("LOAD into a wrapped index", VYRE_OP_LOAD_U32, 1, &[0, wraps_to(1)], WINDOW),
        slot("LOAD from a wrapped index", VYRE_OP_LOAD_U32, 1, &[wraps_to(1), 0], WINDOW),
        slot("CAS on a wrapped index", VYRE_OP_COMPARE_SWAP, 1, &[wraps_to(2), 0, 1, VYRE_NO_OBSERVABLE], WINDOW),
        slot("CAS result to a wrapped index", VYRE_OP_COMPARE_SWAP, 1, &[0, 0, 1, wraps_to(3)], WINDOW),
        slot("MEMCPY to a span that wraps", VYRE_OP_MEMCPY, 1, &[0, u32::MAX - 1, 4], WINDOW),
        slot("MEMCPY from a span that wraps", VYRE_OP_MEMCPY, 1, &[u32::MAX - 1, 0, 4], WINDOW),
        slot("MEMCPY past the window", VYRE_OP_MEMCPY, 1, &[0, 6, 4], WINDOW),
        slot("MEMCPY of too many words", VYRE_OP_MEMCPY, 1, &[0, 4, VYRE_MEMCPY_MAX_WORDS + 1], ARGS),
        slot("MEMCPY overlapping itself", VYRE_OP_MEMCPY, 1, &[0, 1, 4], ARGS),
        slot(
            "PACKED with its 2nd op outside",
            VYRE_OP_PACKED_SLOT,
            1,
            &packed(&[(1, 0, 5), (1, wraps_to(0), 5)]),
            WINDOW,
        ),
        slot(
            "PACKED with 5 ops",
            VYRE_OP_PACKED_SLOT,
            1,
            &{
                let mut a = packed(&[(1, 0, 5), (1, 1, 5), (1, 2, 5), (1, 3, 5)]);
                a[0] = (a[0] & !VYRE_PACKED_COUNT_MASK) | 5;
                a
            },
            ARGS,
        ),
        slot("PACKED with a MEMCPY inside", VYRE_OP_PACKED_SLOT, 1, &packed(&[(VYRE_OP_MEMCPY, 0, 1)]), ARGS),
        slot("PRINTF of 9 values", VYRE_OP_PRINTF, 1, &[7, 9], ARGS),
        // Tenants and opcodes.
        slot("a tenant past the count", VYRE_OP_STORE_U32, 2, &[0, 1], TENANT),
        slot("tenant u32::MAX", VYRE_OP_STORE_U32, u32::MAX, &[0, 1], TENANT),
        slot("SHUTDOWN from tenant 1", VYRE_OP_SHUTDOWN, 1, &[], NOT_ALLOWED),
        slot("tenant 0's opcode from tenant 1", T0_STORE, 1, &[0, 1], NOT_ALLOWED),
        slot("an unregistered own opcode", T1_COPY + 5, 1, &[0, 1], NOT_ALLOWED),
        slot("an own alias copying out of the window", T1_COPY, 1, &[0, wraps_to(0), 2], WINDOW),
        slot(
            "an opcode past the tenant space",
            VYRE_TENANT_OPCODE_BASE + VYRE_MAX_TENANTS * VYRE_TENANT_OPCODE_WINDOW,
            1,
            &[],
            UNKNOWN,
        ),
        slot("opcode 0x80000000", 0x8000_0000, 1, &[], UNKNOWN),
        slot("opcode 9", 9, 1, &[], UNKNOWN),
        slot("DFA_SCAN without scan buffers", VYRE_OP_DFA_SCAN, 0, &[], ARGS),
        // IO_READ: tenant 0 only, and only where an IO queue exists.
        slot("IO_READ from tenant 1", VYRE_OP_IO_READ, 1, &[], NOT_ALLOWED),
        slot("IO_READ without an IO queue", VYRE_OP_IO_READ, 0, &[], ARGS),
        slot("IO_READ with a reserved argument set", VYRE_OP_IO_READ, 0, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], ARGS),
        // Batches and fences: fence 0 belongs to tenant 0.
        SlotCase { batch: 1, ..slot("a member of tenant 0's fence", VYRE_OP_STORE_U32, 1, &[0, 1], BATCH) },
        SlotCase {
            batch: layout.fence_count + 1,
            ..slot("a member of no fence", VYRE_OP_STORE_U32, 1, &[0, 1], BATCH)
        },
        SlotCase { batch: u32::MAX, ..slot("batch tag u32::MAX", VYRE_OP_STORE_U32, 1, &[0, 1], BATCH) },
        slot("tenant 0's fence closed by tenant 1", VYRE_OP_BATCH_FENCE, 1, &[0, 1, VYRE_NO_OBSERVABLE], BATCH),
        slot("fence u32::MAX", VYRE_OP_BATCH_FENCE, 1, &[u32::MAX, 1, VYRE_NO_OBSERVABLE], ARGS),
        slot("an epoch written out of the window", VYRE_OP_BATCH_FENCE, 1, &[1, 0, wraps_to(0)], WINDOW),
        // Host tables the executor must not trust: a tenant opcode entry
        // aliasing a built-in no tenant may run, and corrupt windows.
        forged_alias("a forged alias of SHUTDOWN", VYRE_OP_SHUTDOWN),
        forged_alias("a forged alias of BATCH_FENCE", VYRE_OP_BATCH_FENCE),
        forged_alias("a forged alias of DFA_SCAN", VYRE_OP_DFA_SCAN),
        forged_alias("a forged alias of PACKED_SLOT", VYRE_OP_PACKED_SLOT),
        forged_alias("a forged alias of IO_READ", VYRE_OP_IO_READ),
        window("a window past the observables", 10, 10, 0),
        window("a window whose end wraps", T1_BASE, u32::MAX - 6, 0),
        window("a window stuck mid-rewrite", T1_BASE, 8, 1),
    ]
}

/// A backend config with one worker (one workgroup), default slices.
fn one_worker(layout: Layout, scan: ScanLayout) -> BackendConfig {
    BackendConfig {
        layout,
        debug_log_capacity: 4,
        workers: 1,
        device: None,
        slice_budget: None,
        watchdog: None,
        scan,
        resident: true,
    }
}

/// Whatever a slot carries, it changes nothing but its own counters: no
/// observable outside its tenant's window (here: none, it faults), no
/// control word (SHUTDOWN, epoch, tables, fence counters), no debug-log word.
#[test]
fn hostile_slots_fault_and_touch_no_control_word() {
    let layout = Layout::new(8, 2, OBSERVABLES, 4).unwrap();
    let config = one_worker(layout, ScanLayout::NONE);
    let cases = slot_cases(&layout);
    for backend in backends(&config) {
        let kind = backend.kind();
        let words = backend.control();
        let control = Control::new(words).unwrap();
        for i in 0..OBSERVABLES {
            control.observable(i).unwrap().store(0x100 + i, Ordering::Relaxed);
        }
        control.register_tenant_opcode(0, T0_STORE, VYRE_OP_STORE_U32).unwrap();
        control.register_tenant_opcode(1, T1_COPY, VYRE_OP_MEMCPY).unwrap();
        control.fence(0).unwrap().1.store(0, Ordering::Release);
        control.fence(1).unwrap().1.store(1, Ordering::Release);
        let mut generation = 0;
        for case in &cases {
            let what = format!("{} on {kind:?}", case.name);
            let clean = snapshot(words);
            for &(index, value) in &case.corrupt {
                words[index as usize].store(value, Ordering::Release);
            }
            let (before, log_before) = (snapshot(words), snapshot(backend.debug_log()));
            let mut payload = Payload::new(case.opcode, case.tenant, &case.args).unwrap();
            payload.batch = case.batch;
            generation += 1;
            let result = run_raw(backend.as_ref(), generation, &payload);
            assert_eq!(result, case.expect, "{what}");
            let after = snapshot(words);
            assert_only_counted(&what, &layout, &before, &after, result, 0);
            assert_eq!(snapshot(backend.debug_log()), log_before, "{what}: the debug log changed");
            // Put the corrupted words back (and keep the counters).
            for &(index, _) in &case.corrupt {
                words[index as usize].store(clean[index as usize], Ordering::Release);
            }
        }
        assert!(!control.shutdown_requested(), "{kind:?}");
        assert_eq!(control.fault_count(), cases.len() as u32, "{kind:?}: every hostile slot faulted");
        // The same tenant still works inside its window.
        generation += 1;
        assert_eq!(run_raw(backend.as_ref(), generation, &Payload::new(T1_COPY, 1, &[0, 1, 1]).unwrap()), DONE);
        assert_eq!(control.observable(T1_BASE + 1).unwrap().load(Ordering::Acquire), 0x100 + T1_BASE);
        backend.health().unwrap();
    }
}
