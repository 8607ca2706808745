//! Writes the seed corpus (fuzz/corpus/<target>/) from valid encodings made
//! by the library itself, so the fuzzers start from inputs that pass the
//! decoders' first checks. Run from fuzz/ after a format change:
//!
//!     cargo run --example seeds
use std::fs;
use std::path::Path;
use vyre::engine::vyre_work_item;
use vyre::ffi::engine::{vyre_engine_options, vyre_engine_options_init};
use vyre::ffi::megakernel::{vyre_megakernel_options, vyre_megakernel_options_init, VYRE_BACKEND_REFERENCE};
use vyre::ffi::pump::{vyre_pump_options, vyre_pump_options_init};
use vyre::ffi::rules::{vyre_rule_set_options, VYRE_RULE_CASE_INSENSITIVE};
use vyre::protocol::abi::*;
use vyre::protocol::control::{Control, Layout, Window};
use vyre::protocol::debug_log::{self, DebugLog};
use vyre::protocol::io_queue::{self, Completion, IoQueue, Request};
use vyre::protocol::opcode::{encode_packed, PackedOp};
use vyre::protocol::scan::Part;
use vyre::protocol::slot::{Outcome, Payload, Ring};
use vyre::pump::{vyre_pump_slot_template, VYRE_PUMP_ARG_KEEP, VYRE_PUMP_ARG_WORD, VYRE_PUMP_ARG_WORDS};
use vyre::protocol::{live_words, zeroed_words};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

fn le_bytes(words: impl IntoIterator<Item = u32>) -> Vec<u8> {
    words.into_iter().flat_map(u32::to_le_bytes).collect()
}

fn live_bytes(words: &[std::sync::atomic::AtomicU32]) -> Vec<u8> {
    le_bytes(words.iter().map(|w| w.load(std::sync::atomic::Ordering::Relaxed)))
}

/// The bytes of a plain-integer C struct, as C would pass them.
fn struct_bytes<T: Copy>(value: &T) -> Vec<u8> {
    // SAFETY: T is a repr(C) struct of integers without padding (its layout
    // is pinned by const asserts in src/ffi), so all its bytes are initialised.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

fn write(target: &str, seeds: Vec<Vec<u8>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    fs::create_dir_all(&dir).expect("create the corpus folder");
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i}")), seed).expect("write a seed");
    }
}

fn control() -> Vec<Vec<u8>> {
    let small = Layout::new(2, 1, 4, 1).expect("valid counts").initial_words();
    let layout = Layout::new(4, 2, 8, 2).expect("valid counts");
    let words = live_words(&layout.initial_words());
    let control = Control::new(&words).expect("fresh buffer");
    control.set_tenant_window(1, Window { base: 2, len: 6 }).expect("inside the observables");
    control.register_tenant_opcode(1, VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW, VYRE_OP_STORE_U32).expect("tenant 1's window");
    vec![le_bytes(small), live_bytes(&words)]
}

fn ring() -> Vec<Vec<u8>> {
    let words = zeroed_words(4 * VYRE_SLOT_WORDS as usize);
    let ring = Ring::new(&words).expect("4 slots");
    let store = Payload::new(VYRE_OP_STORE_U32, 0, &[1, 2]).expect("2 args");
    let packed_args = encode_packed(&[PackedOp { opcode: VYRE_OP_ATOMIC_ADD, a: 3, b: 4 }, PackedOp { opcode: VYRE_OP_NOP, a: 0, b: 0 }]).expect("packable");
    let packed = Payload { opcode: VYRE_OP_PACKED_SLOT, tenant: 0, batch: 0, args: packed_args };
    let part = Part { job: 1, len: 100, state: VYRE_SCAN_STATE_AFTER_PREVIOUS, flags: VYRE_SCAN_FLAG_EOI, ..Part::default() };
    let scan = Payload { opcode: VYRE_OP_DFA_SCAN, tenant: 0, batch: 0, args: part.to_args() };
    ring.publish(0, 1, &store).expect("empty slot");
    ring.publish(1, 0x00FF_FFFF, &packed).expect("empty slot");
    ring.publish(2, 7, &scan).expect("empty slot");
    ring.publish(3, 2, &store).expect("empty slot");
    let claimed = ring.try_claim(3).expect("published");
    ring.complete(&claimed, Outcome::Done);
    let one = zeroed_words(VYRE_SLOT_WORDS as usize);
    Ring::new(&one).expect("1 slot").publish(0, 5, &scan).expect("empty slot");
    vec![live_bytes(&words), live_bytes(&one)]
}

fn debug_log_seeds() -> Vec<Vec<u8>> {
    let words = live_words(&debug_log::initial_words(3).expect("small log"));
    let log = DebugLog::new(&words).expect("fresh log");
    log.append(0, 7, &[1, 2, 3]);
    log.append(1, 8, &[]);
    let full = live_words(&debug_log::initial_words(1).expect("small log"));
    let full_log = DebugLog::new(&full).expect("fresh log");
    full_log.append(2, 9, &[9; 8]);
    full_log.append(2, 9, &[9; 8]);
    // The first 4 bytes choose the first record to read.
    let with_first = |first: u32, words: &[std::sync::atomic::AtomicU32]| [first.to_le_bytes().to_vec(), live_bytes(words)].concat();
    vec![with_first(0, &words), with_first(1, &words), with_first(0, &full)]
}

fn io_queue_seeds() -> Vec<Vec<u8>> {
    let words = zeroed_words(io_queue::words_for(4).expect("4 slots"));
    let queue = IoQueue::new(&words).expect("4 slots");
    let request = |slot, tag| Request { slot, op: VYRE_IO_OP_READ, src: 1, dst: 2, offset: 4096, byte_count: 512, tag };
    for slot in 0..3 {
        queue.request(&request(slot, slot)).expect("empty slot");
    }
    let mut claimed = Vec::new();
    queue.claim_requests(&mut claimed);
    queue.complete(0, Completion::Ok(512)).expect("claimed");
    queue.complete(1, Completion::Error(5)).expect("claimed");
    queue.request(&request(3, 9)).expect("empty slot");
    vec![live_bytes(&words)]
}

fn rule_set_seeds() -> Vec<Vec<u8>> {
    let sets = [
        (vec![Pattern::literal("ab"), Pattern::regex("[0-9]+x")], false),
        (vec![Pattern::literal("Secret"), Pattern::literal("key")], true),
        (vec![Pattern::regex("a[bc]*d")], false),
        (vec![], false),
    ];
    sets.into_iter()
        .map(|(patterns, ascii_case_insensitive)| {
            let set = RuleSet::compile(&patterns, &CompileOptions { ascii_case_insensitive }).expect("fixed patterns");
            // The first byte chooses whether the target reseals the checksum.
            [vec![0], set.to_bytes()].concat()
        })
        .collect()
}

fn c_api_seeds() -> Vec<Vec<u8>> {
    let mut mk = std::mem::MaybeUninit::<vyre_megakernel_options>::uninit();
    let mut engine = std::mem::MaybeUninit::<vyre_engine_options>::uninit();
    // SAFETY: both pointers are writable structs; the init functions fill
    // them completely before they are read.
    let (mut mk, mut engine) = unsafe {
        vyre_megakernel_options_init(mk.as_mut_ptr());
        vyre_engine_options_init(engine.as_mut_ptr());
        (mk.assume_init(), engine.assume_init())
    };
    mk.backend = VYRE_BACKEND_REFERENCE;
    mk.slot_count = 8;
    engine.backend = VYRE_BACKEND_REFERENCE;
    engine.queue_depth = 8;
    let rules = vyre_rule_set_options { struct_size: 8, flags: VYRE_RULE_CASE_INSENSITIVE };
    let item = vyre_work_item {
        input_offset: 3,
        input_len: 40,
        rule_set_id: 0,
        flags: 0,
        user_data: 7,
        context_before: 5,
        context_after: 2,
    };
    let mut pump = std::mem::MaybeUninit::<vyre_pump_options>::uninit();
    // SAFETY: a writable struct, filled completely by the init function.
    let mut pump = unsafe {
        vyre_pump_options_init(pump.as_mut_ptr());
        pump.assume_init()
    };
    pump.chunk_bytes = 4096;
    pump.arena_bytes = 1 << 15;
    // MEMCPY of each chunk's words (first word, word count filled in) to word 512.
    let mut fill = [VYRE_PUMP_ARG_KEEP; 12];
    fill[..3].copy_from_slice(&[VYRE_PUMP_ARG_WORD, VYRE_PUMP_ARG_KEEP, VYRE_PUMP_ARG_WORDS]);
    let mut args = [0; 12];
    args[1] = 512;
    let template = vyre_pump_slot_template { opcode: VYRE_OP_MEMCPY, tenant: 0, arg_count: 3, args, fill };
    // The first byte chooses the entry point (c_api.rs).
    vec![
        [vec![0], struct_bytes(&mk)].concat(),
        [vec![1], struct_bytes(&engine)].concat(),
        [vec![2], struct_bytes(&rules)].concat(),
        [vec![3], struct_bytes(&pump)].concat(),
        [vec![4], struct_bytes(&template)].concat(),
        [vec![5], struct_bytes(&item)].concat(),
    ]
}

fn main() {
    write("control", control());
    write("ring", ring());
    write("debug_log", debug_log_seeds());
    write("io_queue", io_queue_seeds());
    write("rule_set", rule_set_seeds());
    write("c_api", c_api_seeds());
}
