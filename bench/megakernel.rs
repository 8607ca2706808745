//! Resident megakernel vs one dispatch per slot, side by side in one run.
//!
//! cargo run --release --example bench-megakernel -- [--rounds N] [--csv PATH] [--workgroups N]
//!
//! (a) round-trip latency, host publishes a slot → host sees it DONE, p50
//!     and p99: the resident Vulkan kernel (with the publish call's share,
//!     and a breakdown into publish → CLAIMED seen → DONE seen), the same
//!     shader dispatched once per slot (vkQueueSubmit + fence wait), and the
//!     CPU reference backend;
//! (b) throughput of many small slots from one publisher, resident vs per
//!     dispatch;
//! (c) resident throughput with 1, 2, 4 and 8 publisher threads.
//! Every mode checks its own results (the counter it bumped) before its
//! numbers are printed. bench/RESULTS.md records runs.

use std::io::Write as _;
use std::time::{Duration, Instant};
use vyre::backend::vulkan::{PerDispatch, VulkanBackend};
use vyre::backend::{Backend, BackendChoice, BackendConfig};
use vyre::error::ErrorKind;
use vyre::megakernel::{Megakernel, Options};
use vyre::protocol::abi::*;
use vyre::protocol::control::{Control, Layout};
use vyre::protocol::slot::{next_generation, Payload, Ring};

const SLOTS: u32 = 256;
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Row {
    section: &'static str,
    mode: String,
    threads: u32,
    slots: u64,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    slots_per_s: f64,
}

impl Row {
    /// The row as text, in the column order of the table and the CSV.
    fn fields(&self) -> [String; 7] {
        let micros = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        [
            self.section.to_string(),
            self.mode.clone(),
            self.threads.to_string(),
            self.slots.to_string(),
            micros(self.p50_us),
            micros(self.p99_us),
            format!("{:.0}", self.slots_per_s),
        ]
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn latency_row(mode: &str, mut samples: Vec<Duration>, total: Duration) -> Row {
    samples.sort_unstable();
    Row {
        section: "latency",
        mode: mode.into(),
        threads: 1,
        slots: samples.len() as u64,
        p50_us: Some(percentile(&samples, 0.50)),
        p99_us: Some(percentile(&samples, 0.99)),
        slots_per_s: samples.len() as f64 / total.as_secs_f64(),
    }
}

fn options(backend: BackendChoice, workgroups: u32) -> Options {
    let worker_count = if backend == BackendChoice::Vulkan { workgroups } else { 0 };
    Options { backend, slot_count: SLOTS, worker_count, ..Options::default() }
}

fn counter(mk: &Megakernel) -> u32 {
    let mut value = [0];
    mk.read_observables(0, &mut value).expect("observable 0");
    value[0]
}

fn publish_add(mk: &Megakernel) -> vyre::megakernel::Ticket {
    loop {
        match mk.publish(VYRE_OP_ATOMIC_ADD, 0, &[0, 1]) {
            Ok(ticket) => return ticket,
            Err(e) if e.kind == ErrorKind::QueueFull => std::hint::spin_loop(),
            Err(e) => panic!("publish: {e}"),
        }
    }
}

/// Round trips, plus the share of each spent inside the publish call.
fn resident_latency(mk: &Megakernel, rounds: u32, mode: &str) -> [Row; 2] {
    for _ in 0..rounds / 10 {
        mk.wait(publish_add(mk), WAIT).expect("warm-up slot");
    }
    let before = counter(mk);
    let mut samples = Vec::with_capacity(rounds as usize);
    let mut publish_calls = Vec::with_capacity(rounds as usize);
    let start = Instant::now();
    for _ in 0..rounds {
        let t = Instant::now();
        let ticket = publish_add(mk);
        publish_calls.push(t.elapsed());
        mk.wait(ticket, WAIT).expect("slot completes");
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    assert_eq!(counter(mk).wrapping_sub(before), rounds, "{mode}: every slot ran once");
    let mut publish_row = latency_row(&format!("{mode}: publish call"), publish_calls, total);
    publish_row.slots_per_s = 0.0;
    [latency_row(mode, samples, total), publish_row]
}

fn resident_throughput(mk: &Megakernel, slots: u32, threads: u32) -> Row {
    let before = counter(mk);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let share = slots / threads + u32::from(t < slots % threads);
            s.spawn(move || {
                for _ in 0..share {
                    publish_add(mk);
                }
            });
        }
    });
    mk.wait_idle(WAIT).expect("all slots finish");
    let total = start.elapsed();
    assert_eq!(counter(mk).wrapping_sub(before), slots, "every slot ran once");
    Row {
        section: if threads == 1 { "throughput" } else { "threads" },
        mode: "resident".into(),
        threads,
        slots: u64::from(slots),
        p50_us: None,
        p99_us: None,
        slots_per_s: f64::from(slots) / total.as_secs_f64(),
    }
}

/// One dispatch per slot: publish into the ring, submit, wait on the fence.
/// The buffers of a megakernel created with default options.
fn backend_config(workgroups: u32) -> BackendConfig {
    BackendConfig {
        layout: Layout::new(SLOTS, 1, VYRE_DEFAULT_OBSERVABLES, SLOTS / 2).expect("layout"),
        debug_log_capacity: VYRE_DEFAULT_DEBUG_RECORDS,
        workers: workgroups,
        device: None,
        slice_budget: None,
        watchdog: None,
        scan: vyre::protocol::scan::ScanLayout::NONE,
        resident: true,
    }
}

/// Publishes ATOMIC_ADD slots straight into a ring, round-robin, tracking
/// each slot's generation (what the megakernel's host side does, minus its
/// bookkeeping), for the measurements that drive a backend directly.
struct RawPublisher<'a> {
    ring: Ring<'a>,
    payload: Payload,
    generations: Vec<u32>,
}

impl<'a> RawPublisher<'a> {
    fn new(ring: &'a [std::sync::atomic::AtomicU32]) -> RawPublisher<'a> {
        RawPublisher {
            ring: Ring::new(ring).expect("ring"),
            payload: Payload::new(VYRE_OP_ATOMIC_ADD, 0, &[0, 1]).expect("payload"),
            generations: vec![0; SLOTS as usize],
        }
    }

    /// Publish round `i` into slot `i % SLOTS`, which must have finished its
    /// previous use; returns the slot.
    fn publish(&mut self, i: u32) -> u32 {
        let slot = i % SLOTS;
        let generation = next_generation(self.generations[slot as usize]);
        self.generations[slot as usize] = generation;
        self.ring.publish(slot, generation, &self.payload).expect("the slot finished its previous use");
        slot
    }

    fn state(&self, slot: u32) -> u32 {
        self.ring.status(slot).expect("status").state
    }
}

/// Where a resident round trip goes: publish → the host first reads the slot
/// CLAIMED (the kernel has taken it) → the host first reads it DONE. Every
/// read of the status word crosses PCIe on a GPU, so both parts carry about
/// a read's worth of uncertainty.
fn breakdown(rounds: u32, workgroups: u32) -> [Row; 2] {
    let backend = VulkanBackend::start(&backend_config(workgroups), None).expect("resident Vulkan kernel");
    let mut publisher = RawPublisher::new(backend.ring());
    let (mut to_claim, mut to_done) = (Vec::with_capacity(rounds as usize), Vec::with_capacity(rounds as usize));
    let start = Instant::now();
    for i in 0..rounds {
        let t = Instant::now();
        let slot = publisher.publish(i);
        let mut claimed = None;
        loop {
            let state = publisher.state(slot);
            if state != VYRE_SLOT_PUBLISHED && claimed.is_none() {
                claimed = Some(t.elapsed());
            }
            if state == VYRE_SLOT_DONE {
                let done = t.elapsed();
                to_claim.push(claimed.unwrap_or(done));
                to_done.push(done - claimed.unwrap_or(done));
                break;
            }
            assert!(t.elapsed() < WAIT, "slot {slot} never finished");
        }
    }
    let total = start.elapsed();
    let mut claim_row = latency_row("resident: until CLAIMED", to_claim, total);
    let mut done_row = latency_row("resident: CLAIMED to DONE", to_done, total);
    claim_row.slots_per_s = 0.0;
    done_row.slots_per_s = 0.0;
    [claim_row, done_row]
}

fn per_dispatch(rounds: u32, section: &'static str, workgroups: u32) -> (Row, String) {
    let runner = PerDispatch::new(&backend_config(workgroups)).expect("per-dispatch runner");
    let device = runner.info().name.clone();
    let mut publisher = RawPublisher::new(runner.ring());
    let control = Control::new(runner.control()).expect("control");
    let mut samples = Vec::with_capacity(rounds as usize);
    let start = Instant::now();
    for i in 0..rounds {
        let t = Instant::now();
        let slot = publisher.publish(i);
        runner.dispatch().expect("dispatch");
        samples.push(t.elapsed());
        assert_eq!(publisher.state(slot), VYRE_SLOT_DONE, "the dispatch ran the slot");
    }
    let total = start.elapsed();
    let done = control.observable(0).map(|w| w.load(std::sync::atomic::Ordering::Acquire));
    assert_eq!(done, Some(rounds), "per-dispatch: every slot ran once");
    let mut row = latency_row("per-dispatch", samples, total);
    row.section = section;
    (row, device)
}

fn main() {
    let mut rounds = 20_000u32;
    let mut csv: Option<String> = None;
    let mut workgroups = 0u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--csv" => csv = args.next(),
            "--workgroups" => workgroups = args.next().and_then(|v| v.parse().ok()).expect("--workgroups N"),
            other => panic!("unknown argument {other}; use --rounds N --csv PATH --workgroups N (0 = default)"),
        }
    }
    let progress = |what: &str| eprintln!("bench-megakernel: {what}");
    let dispatch_rounds = (rounds / 4).max(100);
    let mut rows = Vec::new();

    // One GPU kernel at a time: a resident megakernel occupies every SM, so
    // the per-dispatch baseline runs only after it is destroyed.
    progress("starting the resident Vulkan megakernel");
    let resident = Megakernel::create(&options(BackendChoice::Vulkan, workgroups)).expect("Vulkan megakernel");
    let lanes = resident.stats().lane_count;
    progress("latency, resident");
    rows.extend(resident_latency(&resident, rounds, "resident"));
    progress("throughput, resident");
    rows.push(resident_throughput(&resident, rounds * 5, 1));
    for threads in [1, 2, 4, 8] {
        progress(&format!("throughput, resident, {threads} publisher threads"));
        let mut row = resident_throughput(&resident, rounds * 5, threads);
        row.section = "threads";
        rows.push(row);
    }
    drop(resident);
    progress("latency breakdown, resident");
    let [to_claim, to_done] = breakdown(rounds, workgroups);
    rows.insert(2, to_claim);
    rows.insert(3, to_done);

    progress("latency and throughput, one dispatch per slot");
    let (per_dispatch_latency, device) = per_dispatch(dispatch_rounds, "latency", workgroups);
    let mut per_dispatch_throughput = Row { section: "throughput", ..per_dispatch_latency.clone() };
    per_dispatch_throughput.p50_us = None;
    per_dispatch_throughput.p99_us = None;
    rows.insert(4, per_dispatch_latency);
    rows.insert(6, per_dispatch_throughput);

    progress("latency, reference backend");
    let reference = Megakernel::create(&options(BackendChoice::Reference, 0)).expect("reference megakernel");
    let [reference_latency, _] = resident_latency(&reference, rounds, "reference (CPU threads)");
    rows.insert(5, reference_latency);

    println!("device: {device} ({lanes} lanes resident)");
    println!(
        "{:<11} {:<26} {:>7} {:>9} {:>10} {:>10} {:>14}",
        "section", "mode", "threads", "slots", "p50 us", "p99 us", "slots/s"
    );
    for r in &rows {
        let [section, mode, threads, slots, p50, p99, per_s] = r.fields();
        println!("{section:<11} {mode:<26} {threads:>7} {slots:>9} {p50:>10} {p99:>10} {per_s:>14}");
    }
    let find = |section: &str, mode: &str| rows.iter().find(|r| r.section == section && r.mode == mode);
    if let (Some(res), Some(per)) = (find("latency", "resident"), find("latency", "per-dispatch")) {
        println!(
            "ratio, per-dispatch / resident: p50 latency {:.1}x, p99 latency {:.1}x",
            per.p50_us.unwrap_or(0.0) / res.p50_us.unwrap_or(1.0),
            per.p99_us.unwrap_or(0.0) / res.p99_us.unwrap_or(1.0)
        );
    }
    if let (Some(res), Some(per)) = (find("throughput", "resident"), find("throughput", "per-dispatch")) {
        println!("ratio, resident / per-dispatch: throughput {:.1}x", res.slots_per_s / per.slots_per_s);
    }
    if let Some(path) = csv {
        let mut file = std::fs::File::create(&path).expect("create the CSV file");
        writeln!(file, "device,section,mode,threads,slots,p50_us,p99_us,slots_per_s").unwrap();
        for r in &rows {
            writeln!(file, "\"{device}\",{}", r.fields().join(",")).unwrap();
        }
        println!("wrote {path}");
    }
}
