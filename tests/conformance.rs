//! One conformance suite for every backend: the same sequences of publishes
//! must leave identical results (per-step outcomes, control words,
//! observables, metrics, debug logs) on the reference backend, the oracle,
//! and on the Vulkan backend (lavapipe here and in CI; the GPU machine runs
//! the same binary with `VYRE_DEVICE` unset).
//!
//! Set `VYRE_CONFORMANCE_REQUIRE_VULKAN=1` to make a missing Vulkan device
//! a failure instead of a skip (the GPU run does).

use std::time::Duration;
use vyre::backend::BackendChoice;
use vyre::error::{ErrorKind, Result};
use vyre::megakernel::{Megakernel, Options, SlotRequest, Ticket};
use vyre::protocol::abi::*;
use vyre::protocol::opcode::{encode_packed, PackedOp};

const LONG: Duration = Duration::from_secs(120);

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Clone)]
enum Step {
    Publish {
        opcode: u32,
        tenant: u32,
        args: Vec<u32>,
    },
    Batch {
        tenant: u32,
        members: Vec<(u32, Vec<u32>)>,
        epoch_observable: u32,
    },
    SetWindow {
        tenant: u32,
        base: u32,
        len: u32,
    },
    Register {
        tenant: u32,
        opcode: u32,
        builtin: u32,
    },
    /// Commutative slots published without waiting in between.
    Burst {
        adds: Vec<(u32, u32)>,
    },
}

const TENANTS: u32 = 3;
const OBSERVABLES: u32 = 48;

fn options(backend: BackendChoice) -> Options {
    Options {
        backend,
        slot_count: 32,
        observable_count: OBSERVABLES,
        tenant_count: TENANTS,
        debug_log_capacity: 24,
        ..Options::default()
    }
}

fn index(rng: &mut Rng) -> u32 {
    // Mostly inside a 16-word window, sometimes just outside or far away.
    match rng.below(10) {
        0 => 16 + rng.below(4),
        1 => rng.next(),
        _ => rng.below(16),
    }
}

fn tenant_opcode(tenant: u32, n: u32) -> u32 {
    VYRE_TENANT_OPCODE_BASE + tenant * VYRE_TENANT_OPCODE_WINDOW + n
}

fn random_step(rng: &mut Rng) -> Step {
    let tenant = if rng.chance(5) { TENANTS + rng.below(3) } else { rng.below(TENANTS) };
    let data = |rng: &mut Rng, opcode: u32| -> Vec<u32> {
        match opcode {
            VYRE_OP_STORE_U32 | VYRE_OP_ATOMIC_ADD => vec![index(rng), rng.below(1000)],
            VYRE_OP_LOAD_U32 => vec![index(rng), index(rng)],
            VYRE_OP_COMPARE_SWAP => vec![
                index(rng),
                rng.below(4),
                rng.below(1000),
                if rng.chance(20) { VYRE_NO_OBSERVABLE } else { index(rng) },
            ],
            VYRE_OP_MEMCPY => vec![rng.below(16), rng.below(16), rng.below(9)],
            VYRE_OP_PRINTF => {
                let count = rng.below(10);
                let mut args = vec![rng.below(50), count];
                args.extend((0..count.min(8)).map(|_| rng.next()));
                args
            }
            _ => vec![],
        }
    };
    match rng.below(20) {
        0 => Step::SetWindow { tenant, base: rng.below(OBSERVABLES), len: rng.below(20) },
        1 => Step::Register {
            tenant,
            opcode: tenant_opcode(if rng.chance(80) { tenant } else { rng.below(TENANTS) }, rng.below(4)),
            builtin: [VYRE_OP_STORE_U32, VYRE_OP_ATOMIC_ADD, VYRE_OP_PRINTF, VYRE_OP_BATCH_FENCE]
                [rng.below(4) as usize],
        },
        2 | 3 => {
            let members = (0..rng.below(6))
                .map(|_| {
                    // Members run in any order: only commutative ones, so the
                    // result is defined.
                    let opcode = [VYRE_OP_ATOMIC_ADD, VYRE_OP_NOP][rng.below(2) as usize];
                    let args = data(rng, opcode);
                    (opcode, args)
                })
                .collect();
            Step::Batch {
                tenant,
                members,
                epoch_observable: if rng.chance(30) { VYRE_NO_OBSERVABLE } else { index(rng) },
            }
        }
        // At most half the ring in flight, so no ticket of the burst can expire.
        4 => Step::Burst { adds: (0..rng.below(16)).map(|_| (rng.below(TENANTS), rng.below(16))).collect() },
        5 => {
            let ops: Vec<PackedOp> = (0..1 + rng.below(4))
                .map(|_| PackedOp { opcode: rng.below(4), a: index(rng), b: rng.below(16) })
                .collect();
            let mut args = encode_packed(&ops).unwrap().to_vec();
            if rng.chance(15) {
                args[0] = (args[0] & !VYRE_PACKED_COUNT_MASK) | 5; // one op too many
            }
            Step::Publish { opcode: VYRE_OP_PACKED_SLOT, tenant, args }
        }
        6 => Step::Publish { opcode: VYRE_OP_BATCH_FENCE, tenant, args: vec![0, 0, index(rng)] },
        7 => Step::Publish { opcode: tenant_opcode(tenant, rng.below(4)), tenant, args: data(rng, VYRE_OP_STORE_U32) },
        8 => Step::Publish {
            opcode: [0x1234, VYRE_OP_DFA_SCAN, 0x9000_0000][rng.below(3) as usize],
            tenant,
            args: vec![],
        },
        _ => {
            let opcode = [
                VYRE_OP_NOP,
                VYRE_OP_STORE_U32,
                VYRE_OP_ATOMIC_ADD,
                VYRE_OP_LOAD_U32,
                VYRE_OP_COMPARE_SWAP,
                VYRE_OP_MEMCPY,
                VYRE_OP_PRINTF,
            ][rng.below(7) as usize];
            let args = data(rng, opcode);
            Step::Publish { opcode, tenant, args }
        }
    }
}

fn retry<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(e) if e.kind == ErrorKind::QueueFull => std::thread::yield_now(),
            other => return other,
        }
    }
}

fn outcome(result: Result<()>) -> String {
    match result {
        Ok(()) => "ok".into(),
        // The kind and the message: a fault's message names its reason. Slot
        // numbers depend on timing, so they are left out.
        Err(e) => {
            format!("{:?}: {}", e.kind, e.message.split_once(" faulted: ").map_or(e.message.as_str(), |(_, why)| why))
        }
    }
}

/// Run `steps` and describe everything observable about the run.
fn run(mk: &Megakernel, steps: &[Step]) -> Vec<String> {
    let mut trace = Vec::new();
    let wait = |ticket: Ticket| outcome(mk.wait(ticket, LONG));
    for step in steps {
        let line = match step {
            Step::Publish { opcode, tenant, args } => match retry(|| mk.publish(*opcode, *tenant, args)) {
                Ok(ticket) => wait(ticket),
                Err(e) => outcome(Err(e)),
            },
            Step::Batch { tenant, members, epoch_observable } => {
                let requests: Vec<SlotRequest> = members
                    .iter()
                    .map(|(opcode, args)| SlotRequest { opcode: *opcode, tenant: *tenant, args })
                    .collect();
                let mut tickets = vec![Ticket { slot: 0, generation: 0 }; requests.len()];
                match retry(|| mk.publish_batch(&requests, *epoch_observable, Some(&mut tickets))) {
                    Ok(fence) => {
                        let fence = wait(fence);
                        let members: Vec<String> = tickets.iter().map(|&t| wait(t)).collect();
                        format!("fence {fence}; members {members:?}")
                    }
                    Err(e) => outcome(Err(e)),
                }
            }
            Step::SetWindow { tenant, base, len } => outcome(mk.set_tenant_window(*tenant, *base, *len)),
            Step::Register { tenant, opcode, builtin } => {
                outcome(mk.register_tenant_opcode(*tenant, *opcode, *builtin))
            }
            Step::Burst { adds } => {
                let tickets: Vec<Result<Ticket>> = adds
                    .iter()
                    .map(|&(tenant, index)| retry(|| mk.publish(VYRE_OP_ATOMIC_ADD, tenant, &[index, 1])))
                    .collect();
                let outcomes: Vec<String> =
                    tickets.into_iter().map(|t| t.map_or_else(|e| outcome(Err(e)), wait)).collect();
                format!("burst {outcomes:?}")
            }
        };
        trace.push(line);
    }
    mk.wait_idle(LONG).unwrap();
    trace.push(format!("observables {:?}", observables(mk)));
    trace.push(format!("metrics {:?}", mk.metrics()));
    let stats = mk.stats();
    trace.push(format!(
        "epoch {} done {} faulted {} published {}",
        stats.epoch, stats.done, stats.faulted, stats.published
    ));
    trace.push(format!("debug log {:?}", mk.debug_log(0).unwrap()));
    trace
}

fn observables(mk: &Megakernel) -> Vec<u32> {
    let mut values = vec![0; OBSERVABLES as usize];
    mk.read_observables(0, &mut values).unwrap();
    values
}

/// The Vulkan megakernel, or `None` (with a note) where no Vulkan device exists.
fn vulkan(options: Options) -> Option<Megakernel> {
    match Megakernel::create(&options) {
        Ok(mk) => Some(mk),
        Err(e) if e.kind == ErrorKind::Unsupported && std::env::var_os("VYRE_CONFORMANCE_REQUIRE_VULKAN").is_none() => {
            eprintln!("skipping the Vulkan side: {e}");
            None
        }
        Err(e) => panic!("Vulkan megakernel: {e}"),
    }
}

fn assert_same(seed: u64, reference: &[String], vulkan: &[String]) {
    assert_eq!(reference.len(), vulkan.len());
    for (i, (r, v)) in reference.iter().zip(vulkan).enumerate() {
        assert_eq!(r, v, "seed {seed}: step {i} differs between the reference and Vulkan backends");
    }
}

fn seeds() -> u64 {
    std::env::var("VYRE_CONFORMANCE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12)
}

#[test]
fn random_programs_leave_identical_results_on_every_backend() {
    let Some(gpu) = vulkan(options(BackendChoice::Vulkan)) else { return };
    drop(gpu);
    for seed in 1..=seeds() {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let steps: Vec<Step> = (0..120).map(|_| random_step(&mut rng)).collect();
        let reference = run(&Megakernel::create(&options(BackendChoice::Reference)).unwrap(), &steps);
        let on_vulkan = run(&vulkan(options(BackendChoice::Vulkan)).unwrap(), &steps);
        assert_same(seed, &reference, &on_vulkan);
        // The program must exercise faults and successes alike to prove anything.
        assert!(reference.iter().any(|l| l.contains("SlotFault")), "seed {seed} produced no fault");
        assert!(reference.iter().filter(|l| *l == "ok").count() > 20, "seed {seed} produced few successes");
    }
}

#[test]
fn printf_past_capacity_and_tenant_violations_match() {
    let steps: Vec<Step> = (0..30)
        .map(|i| Step::Publish { opcode: VYRE_OP_PRINTF, tenant: i % TENANTS, args: vec![i, 2, i * 3, i * 7] })
        .chain([
            Step::Publish { opcode: VYRE_OP_STORE_U32, tenant: 1, args: vec![16, 5] },
            Step::Publish { opcode: tenant_opcode(0, 1), tenant: 1, args: vec![0, 5] },
            Step::Register { tenant: 2, opcode: tenant_opcode(2, 9), builtin: VYRE_OP_ATOMIC_ADD },
            Step::Publish { opcode: tenant_opcode(2, 9), tenant: 2, args: vec![3, 5] },
            Step::Publish { opcode: tenant_opcode(2, 9), tenant: 2, args: vec![16, 5] },
            Step::Publish { opcode: VYRE_OP_SHUTDOWN, tenant: 2, args: vec![] },
        ])
        .collect();
    let reference = run(&Megakernel::create(&options(BackendChoice::Reference)).unwrap(), &steps);
    assert!(reference.iter().any(|l| l.contains("dropped: 6")), "{reference:?}");
    let Some(gpu) = vulkan(options(BackendChoice::Vulkan)) else { return };
    assert_same(0, &reference, &run(&gpu, &steps));
}

#[test]
fn shutdown_slot_stops_both_backends_alike() {
    let steps = [
        Step::Publish { opcode: VYRE_OP_ATOMIC_ADD, tenant: 0, args: vec![0, 1] },
        Step::Publish { opcode: VYRE_OP_SHUTDOWN, tenant: 0, args: vec![] },
        Step::Publish { opcode: VYRE_OP_ATOMIC_ADD, tenant: 0, args: vec![0, 1] },
    ];
    let reference = run(&Megakernel::create(&options(BackendChoice::Reference)).unwrap(), &steps);
    assert!(reference[2].starts_with("Shutdown"), "{reference:?}");
    let Some(gpu) = vulkan(options(BackendChoice::Vulkan)) else { return };
    assert_same(0, &reference, &run(&gpu, &steps));
}

#[test]
fn the_vulkan_kernel_keeps_serving_across_thousands_of_slices() {
    // A tiny slice budget forces a slice boundary every hundred passes or so;
    // copies keep running until a thousand slices have ended.
    let Some(mk) = vulkan(Options { slice_budget: Some(1400), ..options(BackendChoice::Vulkan) }) else { return };
    mk.set_tenant_window(0, 0, OBSERVABLES).unwrap();
    for i in 0..16 {
        mk.publish(VYRE_OP_STORE_U32, 0, &[i, 1000 + i]).map(|t| mk.wait(t, LONG)).unwrap().unwrap();
    }
    let started = std::time::Instant::now();
    let mut copies = 0u32;
    while mk.control_header(VYRE_CTRL_SLICE_COUNT).unwrap() < 1000 {
        assert!(started.elapsed() < LONG, "only {:?} slices in {LONG:?}", mk.control_header(VYRE_CTRL_SLICE_COUNT));
        let tickets: Vec<Ticket> =
            (0..16).map(|i| retry(|| mk.publish(VYRE_OP_MEMCPY, 0, &[0, 16 + (i % 2) * 16, 16])).unwrap()).collect();
        for t in tickets {
            mk.wait(t, LONG).unwrap();
        }
        copies += 16;
    }
    mk.wait_idle(LONG).unwrap();
    let values = observables(&mk);
    assert_eq!(&values[16..32], &values[..16], "no copy was cut short");
    assert_eq!(&values[32..48], &values[..16]);
    let stats = mk.stats();
    assert_eq!((stats.done, stats.faulted), (16 + copies, 0), "every slot ran exactly once");
    assert_eq!(mk.metrics()[VYRE_METRIC_MEMCPY as usize], copies);
    assert_eq!(mk.control_header(VYRE_CTRL_STOP_REASON), Some(VYRE_STOP_BUDGET));
}

/// MEMCPYs of the largest size published one at a time with idle gaps
/// between them, on one lane with a 2-slot ring: every word must arrive.
/// Idle passes are where lavapipe's own count of loop iterations ran ahead
/// of the kernel's (docs/VULKAN.md, "Slice budget"): with a 24 000-iteration
/// slice budget, copies completed DONE with their tail missing.
#[test]
fn copies_between_idle_gaps_arrive_whole() {
    const ROUNDS: u32 = 300;
    const WORDS: u32 = VYRE_MEMCPY_MAX_WORDS;
    const SOURCES: u32 = 4;
    let options = Options {
        backend: BackendChoice::Vulkan,
        slot_count: 2,
        worker_count: 1,
        observable_count: (SOURCES + ROUNDS) * WORDS,
        ..Options::default()
    };
    let Some(mk) = vulkan(options) else { return };
    let value = |source: u32, word: u32| source * 0x1_0000 + word + 1;
    for source in 0..SOURCES {
        for word in 0..WORDS {
            mk.wait(mk.publish(VYRE_OP_STORE_U32, 0, &[source * WORDS + word, value(source, word)]).unwrap(), LONG)
                .unwrap();
        }
    }
    for round in 0..ROUNDS {
        let (source, target) = (round % SOURCES, (SOURCES + round) * WORDS);
        let request = [source * WORDS, target, WORDS];
        loop {
            match mk.publish(VYRE_OP_MEMCPY, 0, &request) {
                Ok(_) => break,
                Err(e) if e.kind == ErrorKind::QueueFull => std::thread::yield_now(),
                Err(e) => panic!("publish: {e}"),
            }
        }
        std::thread::sleep(Duration::from_micros(300 * u64::from(round % 7)));
    }
    mk.wait_idle(LONG).unwrap();
    let mut copy = vec![0; WORDS as usize];
    for round in 0..ROUNDS {
        mk.read_observables((SOURCES + round) * WORDS, &mut copy).unwrap();
        let source = round % SOURCES;
        let wrong = (0..WORDS).filter(|&w| copy[w as usize] != value(source, w)).count();
        assert_eq!(wrong, 0, "round {round}: {wrong} of {WORDS} words not copied ({:?})", mk.stats());
    }
}

/// A lane takes the first published slot its scan meets, and a fence comes
/// back (RETRY) until its members finish, so it hides the slots behind it in
/// that lane's order. A batch that wraps around the ring puts its fence
/// before some of its own members; while every slice restarted its scans at
/// the same place, that batch never finished (`test_megakernel_threads` hung
/// in about a third of lavapipe runs, where a second lane sometimes found
/// the fence claimed and took the member behind it).
#[test]
fn a_waiting_fence_hides_none_of_its_members() {
    let options = Options {
        backend: BackendChoice::Vulkan,
        slot_count: 64,
        // One lane, so no other lane can step past the fence while it is claimed.
        worker_count: 1,
        observable_count: OBSERVABLES,
        // About a dozen passes a slice, each starting one slot further on;
        // one dispatch per batch, so the kernel sees each batch whole.
        slice_budget: Some(2000),
        resident: false,
        ..Options::default()
    };
    let Some(mk) = vulkan(options) else { return };
    let add = [0u32, 1];
    let mut tickets = vec![Ticket { slot: 0, generation: 0 }; 64];
    let mut batch = |members: usize| {
        let requests = vec![SlotRequest { opcode: VYRE_OP_ATOMIC_ADD, tenant: 0, args: &add }; members];
        let fence = retry(|| mk.publish_batch(&requests, VYRE_NO_OBSERVABLE, Some(&mut tickets[..members]))).unwrap();
        (fence, tickets[0].slot)
    };
    let (first, second) = (57, 32);
    mk.wait(batch(first).0, LONG).unwrap();
    // The layout this test is about: members in slots 58..=63 and 0..=25,
    // the fence in slot 26, before six of its members, further on than any
    // slice's passes reach.
    let (fence, first_member) = batch(second);
    assert_eq!((first_member, fence.slot), (58, 26), "the batch did not wrap around the ring as planned");
    mk.wait(fence, Duration::from_secs(30)).expect("the fence of a batch that wraps around the ring");
    assert_eq!(observables(&mk)[0], (first + second) as u32);
}
