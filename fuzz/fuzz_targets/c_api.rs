//! What C callers hit: the `vyre_*` entry points fed arbitrary options
//! structs (arbitrary `struct_size` and tail bytes included), arbitrary
//! work items and arbitrary pump slot templates, on the reference backend. A handle that is created is
//! destroyed in the same iteration; every enqueued job is waited for, so
//! nothing is left running between iterations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::mem::size_of;
use std::ptr::null_mut;
use std::sync::OnceLock;
use vyre::engine::{vyre_completion, vyre_hit, vyre_work_item};
use vyre::error::*;
use vyre::ffi::engine::*;
use vyre::ffi::megakernel::*;
use vyre::ffi::pump::*;
use vyre::ffi::pump_megakernel::*;
use vyre::ffi::rules::*;
use vyre::pump::{vyre_pump_slot_template, VYRE_PUMP_ARG_KEEP, VYRE_PUMP_ARG_REQUEST_WORD, VYRE_PUMP_MAX_QUEUE_DEPTH};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

/// Largest `struct_size` the library reads (a larger one is refused before
/// any byte past the struct is read).
const MAX_STRUCT_SIZE: usize = 4096;

/// An options struct as a C caller might lay it out: the fuzz bytes, then
/// zeros up to `MAX_STRUCT_SIZE`, so that every `struct_size` the library
/// accepts covers readable memory (the contract C callers must keep). Words
/// of u64 keep it aligned for any options struct.
struct SizedStruct {
    words: Vec<u64>,
}

impl SizedStruct {
    fn new(bytes: &[u8]) -> SizedStruct {
        let mut padded = bytes[..bytes.len().min(MAX_STRUCT_SIZE)].to_vec();
        padded.resize(MAX_STRUCT_SIZE + 8, 0);
        let words = padded.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        SizedStruct { words }
    }

    fn u32_at(&self, offset: usize) -> u32 {
        let word = self.words[offset / 8].to_le_bytes();
        u32::from_le_bytes(word[offset % 8..offset % 8 + 4].try_into().expect("4 bytes"))
    }

    fn set_u32(&mut self, offset: usize, value: u32) {
        let mut word = self.words[offset / 8].to_le_bytes();
        word[offset % 8..offset % 8 + 4].copy_from_slice(&value.to_le_bytes());
        self.words[offset / 8] = u64::from_le_bytes(word);
    }

    fn set_u64(&mut self, offset: usize, value: u64) {
        self.words[offset / 8] = value;
    }

    fn u64_at(&self, offset: usize) -> u64 {
        self.words[offset / 8]
    }

    /// Whether `struct_size` covers `T` and is not absurd, and the bytes
    /// past `T` up to it are zero: what `read_sized` demands.
    fn well_sized<T>(&self) -> bool {
        let declared = self.u32_at(0) as usize;
        let bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        (size_of::<T>()..=MAX_STRUCT_SIZE).contains(&declared) && bytes[size_of::<T>()..declared].iter().all(|&b| b == 0)
    }

    fn as_ptr<T>(&self) -> *const T {
        self.words.as_ptr().cast()
    }

    /// Keep a valid backend on the reference one (no Vulkan device here);
    /// values that are not a backend stay, to be refused.
    fn force_reference_backend(&mut self) {
        if matches!(self.u32_at(4), VYRE_BACKEND_AUTO | VYRE_BACKEND_VULKAN) {
            self.set_u32(4, VYRE_BACKEND_REFERENCE);
        }
    }

    /// Map a count the library accepts (`min..=max`, or 0 for its default)
    /// into `min..=budget`, so one iteration stays small; values it refuses
    /// are kept, to be refused.
    fn shrink_u32(&mut self, offset: usize, min: u32, max: u32, budget: u32) {
        let value = self.u32_at(offset);
        if value == 0 || (min..=max).contains(&value) {
            self.set_u32(offset, min + value % (budget - min + 1));
        }
    }

    fn shrink_u64(&mut self, offset: usize, min: u64, max: u64, budget: u64) {
        let value = self.u64_at(offset);
        if value == 0 || (min..=max).contains(&value) {
            self.set_u64(offset, min + value % (budget - min + 1));
        }
    }
}

fn megakernel_options(bytes: &[u8]) {
    let mut opts = SizedStruct::new(bytes);
    opts.force_reference_backend();
    // Worker threads (offset 12) and debug-log records (offset 24) cost the
    // most per creation.
    opts.shrink_u32(12, 1, 64, 4);
    opts.shrink_u32(24, 1, 1 << 20, 4096);
    let c: vyre_megakernel_options = read_struct(&opts);
    let mut mk = null_mut();
    // SAFETY: `opts` holds MAX_STRUCT_SIZE + 8 readable bytes, more than any
    // struct_size the library reads; `mk` is writable.
    let status = unsafe { vyre_megakernel_create(opts.as_ptr(), &mut mk) };
    let refused = !opts.well_sized::<vyre_megakernel_options>()
        || c.flags != 0
        || c.backend != VYRE_BACKEND_REFERENCE
        || c.worker_count > 64
        || c.debug_log_capacity > vyre::protocol::abi::VYRE_MAX_DEBUG_RECORDS
        || c.slot_count > vyre::protocol::abi::VYRE_MAX_SLOTS
        || c.tenant_count > vyre::protocol::abi::VYRE_MAX_TENANTS
        || c.observable_count > vyre::protocol::abi::VYRE_MAX_OBSERVABLES;
    if status != VYRE_OK {
        assert!(mk.is_null(), "a failed create returns no handle");
        return;
    }
    assert!(!refused, "created from options the library documents as invalid: {c:?}");
    let mut stats = vyre_megakernel_stats { struct_size: size_of::<vyre_megakernel_stats>() as u32, ..Default::default() };
    // SAFETY: `mk` is the live handle just created; `stats` is writable.
    assert_eq!(unsafe { vyre_megakernel_read_stats(mk, &mut stats) }, VYRE_OK);
    let or = |value: u32, default: u32| if value == 0 { default } else { value };
    assert_eq!(stats.slot_count, or(c.slot_count, vyre::protocol::abi::VYRE_DEFAULT_SLOTS));
    assert_eq!(stats.tenant_count, or(c.tenant_count, 1));
    assert_eq!(stats.observable_count, or(c.observable_count, vyre::protocol::abi::VYRE_DEFAULT_OBSERVABLES));
    // SAFETY: `mk` is live and used by nothing else; destroy joins its workers.
    unsafe { vyre_megakernel_destroy(mk) };
}

fn engine_options(bytes: &[u8]) {
    let mut opts = SizedStruct::new(bytes);
    opts.force_reference_backend();
    opts.shrink_u32(16, 1, 64, 4); // worker_count
    opts.shrink_u32(20, 1, vyre::engine::VYRE_ENGINE_MAX_QUEUE_DEPTH, 64); // queue_depth
    opts.shrink_u32(24, 1, 1 << 24, 64); // max_hits_per_job
    opts.shrink_u64(32, 16, vyre::engine::VYRE_ENGINE_MAX_ARENA_BYTES, 1 << 16); // arena_bytes
    opts.shrink_u64(40, 1024, 1 << 32, 1 << 16); // rule_table_bytes
    let c: vyre_engine_options = read_struct(&opts);
    let mut engine = null_mut();
    // SAFETY: as for the megakernel: enough readable bytes, `engine` writable.
    let status = unsafe { vyre_engine_create(opts.as_ptr(), &mut engine) };
    let refused = !opts.well_sized::<vyre_engine_options>()
        || c.flags != 0
        || c.reserved != 0
        || c.backend != VYRE_BACKEND_REFERENCE
        || c.persistent > VYRE_PERSISTENT_DISABLE
        || (c.part_bytes != 0 && !(256..=1 << 30).contains(&c.part_bytes));
    if status != VYRE_OK {
        assert!(engine.is_null(), "a failed create returns no handle");
        return;
    }
    assert!(!refused, "created from options the library documents as invalid: {c:?}");
    // SAFETY: `engine` is the live handle just created, used by nothing else.
    unsafe { vyre_engine_destroy(engine) };
}

fn rule_set_options(bytes: &[u8]) {
    let opts = SizedStruct::new(bytes);
    let c: vyre_rule_set_options = read_struct(&opts);
    let patterns = [
        vyre_pattern { bytes: b"ab".as_ptr(), len: 2, kind: VYRE_PATTERN_LITERAL },
        vyre_pattern { bytes: b"[0-9]+x".as_ptr(), len: 7, kind: VYRE_PATTERN_REGEX },
    ];
    let mut rs = null_mut();
    // SAFETY: enough readable option bytes; two patterns with their lengths.
    let status = unsafe { vyre_rule_set_compile(opts.as_ptr(), patterns.as_ptr(), patterns.len(), &mut rs) };
    let valid = opts.well_sized::<vyre_rule_set_options>() && c.flags & !VYRE_RULE_CASE_INSENSITIVE == 0;
    // The only options are the flags, so validity is exactly predictable.
    assert_eq!(status == VYRE_OK, valid, "status {status} for {c:?}");
    assert_eq!(rs.is_null(), !valid);
    // SAFETY: `rs` is NULL or the live handle just created.
    unsafe { vyre_rule_set_destroy(rs) };
}

/// The options struct `T` at the start of `opts` (for the oracle above).
fn read_struct<T: Copy>(opts: &SizedStruct) -> T {
    // SAFETY: the buffer holds more than size_of::<T>() bytes, and every
    // options struct is plain integers: any bits are a valid value.
    unsafe { opts.as_ptr::<T>().read_unaligned() }
}

/// An engine for the pumps of `pump_options`, created once (its arena size
/// is what the options are checked against); each pump is destroyed in its
/// iteration, so the next one may attach.
fn pump_engine() -> *mut vyre_engine {
    static ENGINE: OnceLock<usize> = OnceLock::new();
    *ENGINE.get_or_init(|| {
        let mut opts = std::mem::MaybeUninit::<vyre_engine_options>::uninit();
        let mut engine = null_mut();
        // SAFETY: options initialised by vyre_engine_options_init before use;
        // `engine` is writable.
        unsafe {
            assert_eq!(vyre_engine_options_init(opts.as_mut_ptr()), VYRE_OK);
            let mut opts = opts.assume_init();
            opts.backend = VYRE_BACKEND_REFERENCE;
            opts.arena_bytes = PUMP_ARENA;
            assert_eq!(vyre_engine_create(&opts, &mut engine), VYRE_OK);
        }
        engine as usize
    }) as *mut vyre_engine
}

const PUMP_ARENA: u64 = 1 << 16;

fn pump_options(bytes: &[u8]) {
    let mut opts = SizedStruct::new(bytes);
    opts.shrink_u32(8, 1, VYRE_PUMP_MAX_QUEUE_DEPTH, 16); // queue_depth
    let c: vyre_pump_options = read_struct(&opts);
    let mut pump = null_mut();
    // SAFETY: enough readable option bytes; the engine is live; `pump` writable.
    let status = unsafe { vyre_pump_create(pump_engine(), opts.as_ptr(), &mut pump) };
    let refused = !opts.well_sized::<vyre_pump_options>()
        || c.flags & !VYRE_PUMP_FLAG_SQPOLL != 0
        || c.path > VYRE_PUMP_PATH_STAGED
        || c.queue_depth > VYRE_PUMP_MAX_QUEUE_DEPTH
        || c.arena_offset >= PUMP_ARENA
        || c.arena_offset.checked_add(c.arena_bytes).map_or(true, |end| end > PUMP_ARENA);
    if status != VYRE_OK {
        assert!(pump.is_null(), "a failed create returns no handle");
        return;
    }
    assert!(!refused, "created from options the library documents as invalid: {c:?}");
    let mut info = vyre_pump_info { struct_size: size_of::<vyre_pump_info>() as u32, ..zeroed_info() };
    // SAFETY: `pump` is the live handle just created; `info` is writable.
    assert_eq!(unsafe { vyre_pump_get_info(pump, &mut info) }, VYRE_OK);
    let share = if c.arena_bytes == 0 { PUMP_ARENA - c.arena_offset } else { c.arena_bytes };
    assert_eq!((info.arena_offset, info.arena_bytes), (c.arena_offset, share), "{c:?}");
    assert_eq!(info.queue_depth, if c.queue_depth == 0 { 64 } else { c.queue_depth });
    assert!(c.chunk_bytes == 0 || info.chunk_bytes == c.chunk_bytes, "{c:?} -> {info:?}");
    assert!((64..share).contains(&info.chunk_bytes), "a chunk fits its share: {info:?}");
    let path = if c.path == VYRE_PUMP_PATH_AUTO { VYRE_PUMP_PATH_DIRECT } else { c.path };
    assert_eq!(info.path, path);
    assert_eq!(info.flags, c.flags, "the flags in effect");
    assert_eq!((info.requests_in_flight, info.reads_in_flight, info.bytes_read), (0, 0, 0));
    // SAFETY: `pump` is live and used by nothing else.
    unsafe { vyre_pump_destroy(pump) };
}

/// An all-zero info struct (plain integers).
fn zeroed_info() -> vyre_pump_info {
    // SAFETY: vyre_pump_info is plain integers: all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Up to 4 slot templates from the fuzz bytes, fed to a megakernel pump.
fn slot_templates(bytes: &[u8]) {
    static MK: OnceLock<usize> = OnceLock::new();
    let mk = *MK.get_or_init(|| {
        let mut opts = std::mem::MaybeUninit::<vyre_megakernel_options>::uninit();
        let mut mk = null_mut();
        // SAFETY: options initialised before use; `mk` writable.
        unsafe {
            assert_eq!(vyre_megakernel_options_init(opts.as_mut_ptr()), VYRE_OK);
            let mut opts = opts.assume_init();
            opts.backend = VYRE_BACKEND_REFERENCE;
            opts.worker_count = 1;
            opts.observable_count = 1024;
            assert_eq!(vyre_megakernel_create(&opts, &mut mk), VYRE_OK);
        }
        mk as usize
    }) as *mut vyre_megakernel;
    let size = size_of::<vyre_pump_slot_template>();
    let templates: Vec<vyre_pump_slot_template> = bytes
        .chunks_exact(size)
        .take(4)
        // SAFETY: a chunk holds exactly one template's bytes, all plain integers.
        .map(|chunk| unsafe { chunk.as_ptr().cast::<vyre_pump_slot_template>().read_unaligned() })
        .collect();
    let mut opts = std::mem::MaybeUninit::<vyre_pump_options>::uninit();
    let mut pump = null_mut();
    // SAFETY: options initialised before use; `templates` holds its length;
    // the megakernel is live; `pump` writable.
    let status = unsafe {
        assert_eq!(vyre_pump_options_init(opts.as_mut_ptr()), VYRE_OK);
        let mut opts = opts.assume_init();
        opts.arena_bytes = 1024;
        opts.chunk_bytes = 256;
        vyre_pump_create_for_megakernel(mk, &opts, templates.as_ptr(), templates.len(), &mut pump)
    };
    let refused = templates.is_empty()
        || templates.iter().any(|t| {
            let args = t.arg_count as usize;
            args > 12
                || matches!(t.opcode, vyre::protocol::abi::VYRE_OP_BATCH_FENCE | vyre::protocol::abi::VYRE_OP_SHUTDOWN)
                || t.fill.iter().any(|&f| f > VYRE_PUMP_ARG_REQUEST_WORD)
                || t.fill[args.min(12)..].iter().any(|&f| f != VYRE_PUMP_ARG_KEEP)
        });
    if status != VYRE_OK {
        assert!(pump.is_null(), "a failed create returns no handle");
        return;
    }
    assert!(!refused, "created from templates the library documents as invalid: {templates:?}");
    // SAFETY: `pump` is live and used by nothing else.
    unsafe { vyre_pump_destroy(pump) };
}

const ARENA_BYTES: usize = 4096;
const MAX_HITS: u32 = 16;

/// The engine every work item goes to, with one rule set loaded (id 0) and
/// an arena of known bytes; the CPU walk of the same rule set is the oracle.
struct Fixture {
    engine: usize,
    rule_set: RuleSet,
    arena: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let patterns = [Pattern::literal("ab"), Pattern::regex("[0-9]+x")];
        let rule_set = RuleSet::compile(&patterns, &CompileOptions::default()).expect("fixed patterns compile");
        let arena: Vec<u8> = (0..ARENA_BYTES).map(|i| b"ab 12x 9xab"[i % 11]).collect();
        let mut opts = std::mem::MaybeUninit::<vyre_engine_options>::uninit();
        let mut engine = null_mut();
        let mut id = u32::MAX;
        // SAFETY: every pointer is valid for its call; the options are
        // initialised by vyre_engine_options_init before they are read, and
        // the rule-set handle is destroyed once the engine holds its copy.
        unsafe {
            assert_eq!(vyre_engine_options_init(opts.as_mut_ptr()), VYRE_OK);
            let mut opts = opts.assume_init();
            opts.backend = VYRE_BACKEND_REFERENCE;
            opts.queue_depth = 4;
            opts.max_hits_per_job = MAX_HITS;
            opts.arena_bytes = ARENA_BYTES as u64;
            opts.rule_table_bytes = 1 << 16;
            opts.part_bytes = 256;
            assert_eq!(vyre_engine_create(&opts, &mut engine), VYRE_OK);
            assert_eq!(vyre_engine_write(engine, 0, arena.as_ptr().cast(), arena.len()), VYRE_OK);
            let bytes = rule_set.to_bytes();
            let mut rs = null_mut();
            assert_eq!(vyre_rule_set_deserialize(bytes.as_ptr(), bytes.len(), &mut rs), VYRE_OK);
            assert_eq!(vyre_engine_load_rule_set(engine, rs, &mut id), VYRE_OK);
            vyre_rule_set_destroy(rs);
        }
        assert_eq!(id, 0);
        Fixture { engine: engine as usize, rule_set, arena }
    })
}

fn work_item(bytes: &[u8]) {
    let Some(raw) = bytes.first_chunk::<40>() else { return };
    let field = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
    let word = |at: usize| u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
    // Mostly small contexts, so that most jobs are accepted; sometimes any.
    let (before, after) =
        if raw[39] & 0x80 != 0 { (word(32), word(36)) } else { (u32::from(raw[32] & 0x3F), u32::from(raw[33] & 0x3F)) };
    let item = vyre_work_item {
        input_offset: field(0),
        input_len: field(8),
        rule_set_id: field(16) as u32,
        flags: (field(16) >> 32) as u32,
        user_data: field(24),
        context_before: before,
        context_after: after,
    };
    let fx = fixture();
    let engine = fx.engine as *mut vyre_engine;
    // SAFETY: `engine` is the fixture's live handle; `item` is readable.
    let status = unsafe { vyre_engine_enqueue(engine, &item) };
    let context = u64::from(item.context_before) + u64::from(item.context_after);
    if item.flags != 0 || context > item.input_len {
        assert_eq!(status, VYRE_E_INVALID_ARGUMENT);
        return;
    }
    assert_eq!(status, VYRE_OK, "the queue is empty between iterations");
    let mut completion = vyre_completion::default();
    let mut hits = [vyre_hit::default(); MAX_HITS as usize];
    let (mut done, mut stored) = (0usize, 0usize);
    // A generous bound that only a hang reaches; libFuzzer's -timeout is the
    // real watchdog.
    // SAFETY: the handle is live; the output arrays hold the counts passed.
    let waited = unsafe {
        vyre_engine_wait(engine, &mut completion, 1, hits.as_mut_ptr(), hits.len(), &mut done, &mut stored, 60_000)
    };
    assert_eq!((waited, done), (VYRE_OK, 1), "every accepted job completes");
    assert_eq!(completion.user_data, item.user_data);

    let in_arena = item.input_offset.checked_add(item.input_len).is_some_and(|end| end <= ARENA_BYTES as u64);
    if item.rule_set_id != 0 {
        assert_eq!(completion.status, VYRE_E_NOT_FOUND);
        return;
    }
    if !in_arena {
        assert_eq!(completion.status, VYRE_E_OUT_OF_RANGE);
        return;
    }
    let start = item.input_offset as usize;
    // Matches ending in the job's own bytes, between its contexts (a match
    // ending before the trailing context never depends on the input's end).
    let (first, last) = (item.context_before as usize, (item.input_len - u64::from(item.context_after)) as usize);
    let mut expected = fx.rule_set.matches(&fx.arena[start..start + item.input_len as usize]);
    expected.retain(|&(_, end)| end > first && end <= last);
    assert_eq!(completion.hit_count, expected.len() as u64);
    if expected.len() > MAX_HITS as usize {
        assert_eq!((completion.status, completion.hits_stored, stored), (VYRE_E_HITS_TRUNCATED, MAX_HITS, MAX_HITS as usize));
        return;
    }
    assert_eq!(completion.status, VYRE_OK);
    let mut found: Vec<(u32, usize)> =
        hits[..stored].iter().map(|h| (h.pattern_id, h.end_offset as usize)).collect();
    assert!(hits[..stored].iter().all(|h| h.user_data == item.user_data));
    expected.sort_unstable();
    found.sort_unstable();
    assert_eq!(found, expected, "the engine and the CPU walk disagree on {item:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 6 {
        0 => megakernel_options(rest),
        1 => engine_options(rest),
        2 => rule_set_options(rest),
        3 => pump_options(rest),
        4 => slot_templates(rest),
        _ => work_item(rest),
    }
});
