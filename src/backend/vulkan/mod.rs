//! The Vulkan backend: one compute dispatch that stays resident and serves
//! the slots the host publishes while it runs.
//!
//! The kernel runs in slices (docs/VULKAN.md): each dispatch serves slots
//! for a bounded number of loop iterations, stops between two slots and
//! records why. A driver thread keeps two slices submitted at all times, so
//! when one ends the next is already on the queue and no published slot
//! waits for a host round trip. The driver thread also watches the kernel:
//! a lost device or a kernel that stops making progress fails the backend,
//! and the host then completes every slot in flight with an error.

pub mod device;
pub mod gpu;
mod staging;

use super::{Backend, BackendChoice, BackendConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::abi::*;
use crate::protocol::control::Control;
use crate::protocol::scan::ScanBuffers;
use crate::protocol::{at, debug_log};
use ash::vk;
use gpu::{BufferInit, Gpu, Placement, SliceParams};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Loop iterations per lane per slice on a CPU device. Lavapipe caps all
/// the loops of one invocation together at 65 535 iterations, counted its
/// own way: in idle passes its count ran 5-8 times ahead of the kernel's
/// (at 12 000 and 24 000, MEMCPYs were cut short yet reported DONE; at 8 000
/// none were), and with the shader of 2026-11-27 about 11 times: at 6 000,
/// conformance's copies_between_idle_gaps_arrive_whole failed twice in a
/// day. 5 000 leaves room for 13 times and still for a walk step over the
/// longest match list (VYRE_TABLE_MAX_MATCHES_PER_STATE + 1 iterations).
const CPU_SLICE_BUDGET: u32 = 5_000;
// A walk needs `iters + step_cost + 16 < budget` before a byte (shader
// dfa_scan), step_cost being the longest match list + 1; 512 more leaves
// room for the ring scan and the claim before the walk.
const _: () = assert!(CPU_SLICE_BUDGET > VYRE_TABLE_MAX_MATCHES_PER_STATE + 17 + 512);
/// Loop iterations per lane per slice on a GPU (about a second of polling
/// on an H100; GPU drivers have no loop cap, but slices keep the kernel
/// clear of watchdogs and let the host notice a hang).
const GPU_SLICE_BUDGET: u32 = 4_000_000;
/// How long a slice lasts on a GPU with a device clock, in its ticks
/// (nanoseconds on NVIDIA): short enough that lanes rejoin every few
/// milliseconds and other contexts get the GPU, long enough that the launch
/// of the next (already queued) slice costs under 1 %.
const GPU_SLICE_TICKS: u32 = 2_000_000;
/// Empty polling passes (a few hundred microseconds on an H100) before an
/// idle lane starts to back off: a kernel serving a steady stream never does.
const IDLE_PASSES_BEFORE_BACKOFF: u32 = 256;
/// Longest back-off of an idle lane, in device clock ticks (nanoseconds on
/// NVIDIA): it bounds the extra latency of the first slot after a lull.
const BACKOFF_MAX_TICKS: u32 = 1000;
/// Most workgroups a megakernel launches.
const MAX_WORKGROUPS: u32 = 4096;
/// Empty passes after which a lane of a per-batch dispatch leaves it.
const IDLE_PASSES_BEFORE_EXIT: u32 = 4;
/// Slices kept submitted: the running one and the next.
const SLICES_IN_FLIGHT: usize = 2;
/// How often the driver thread wakes to check on the kernel.
const DRIVER_POLL: Duration = Duration::from_millis(50);
/// A slice that shows no heartbeat for this long is hung (override with
/// `VYRE_WATCHDOG_MS`).
const DEFAULT_WATCHDOG: Duration = Duration::from_secs(10);
/// The same on a CPU device, whose slices share the host's cores with
/// everything else: a loaded machine (parallel test runs) can starve a
/// lavapipe slice for seconds without anything being wrong.
const DEFAULT_CPU_WATCHDOG: Duration = Duration::from_secs(60);

struct Shared {
    gpu: Gpu,
    watchdog: Duration,
    stop: AtomicBool,
    /// Fault injection for tests: the driver ignores finished slices, as it
    /// would see a GPU that stopped answering.
    #[cfg(test)]
    ignore_slice_ends: AtomicBool,
    failed: Mutex<Option<Error>>,
    driver_done: AtomicBool,
    /// Resident kernel, or a dispatch per batch (the engine's Disable mode).
    resident: bool,
    /// Slots published so far (per-batch mode: the driver dispatches while
    /// the device has finished fewer).
    published: AtomicU64,
    doorbell: Mutex<()>,
    bell: Condvar,
}

impl Shared {
    fn health(&self) -> Result<()> {
        match &*self.failed.lock() {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

pub struct VulkanBackend {
    shared: Arc<Shared>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

/// Create the device and buffers `config` describes on the chosen device.
fn open(config: &BackendConfig, device_index: Option<u32>) -> Result<Gpu> {
    if config.workers > MAX_WORKGROUPS {
        return Err(Error::invalid(format!(
            "worker_count {} workgroups is more than {MAX_WORKGROUPS}; pass 0 for a grid that is co-resident",
            config.workers
        )));
    }
    let instance = device::Instance::new()?;
    let devices = instance.devices()?;
    let env = std::env::var("VYRE_DEVICE").ok();
    let chosen = device::choose(&devices, device_index, env.as_deref())?;
    let (physical, info) = devices[chosen].clone();
    let workgroups = match config.workers {
        0 => info.default_workgroups(config.scan.arena_words > 0),
        n => n,
    };
    let control = config.layout.initial_words();
    let ring = vec![0u32; at(config.layout.slot_count) * at(VYRE_SLOT_WORDS)];
    let log = debug_log::initial_words(config.debug_log_capacity)?;
    let scan = config.scan.initial_words()?;
    let buffers = [
        BufferInit::filled(&control, "the control words", "fewer observables, tenants or fences"),
        BufferInit::filled(&ring, "the ring", "fewer slots"),
        BufferInit::filled(&log, "the debug log", "a smaller debug_log_capacity"),
        BufferInit {
            words: at(config.scan.arena_words),
            initial: &[],
            name: "the input arena",
            smaller: "a smaller arena_bytes",
        },
        BufferInit {
            words: at(config.scan.rule_words),
            initial: &[],
            name: "the rule table space",
            smaller: "a smaller rule_table_bytes",
        },
        BufferInit {
            words: at(config.scan.state_words()?),
            initial: &scan,
            name: "the scan state (job entries and hit records: queue_depth x max_hits_per_job x 8 bytes)",
            smaller: "a smaller queue_depth or max_hits_per_job",
        },
    ];
    let gpu = Gpu::new(instance, physical, info, buffers, workgroups)?;
    let default_cpu = gpu.info.is_cpu() && device_index.is_none() && env.is_none();
    super::note(&format!(
        "Vulkan device {}: {}{}; shared buffers in {}; {} workgroups x {} lanes; idle lanes {}; staging copies on {}{}",
        gpu.info.index,
        gpu.info.name,
        if default_cpu { " (no GPU found: lavapipe, the CPU default)" } else { "" },
        match gpu.ring.placement {
            Placement::Bar => "device-local host-visible memory (BAR)",
            Placement::HostCoherent => "host-visible coherent system memory (no BAR type)",
        },
        gpu.workgroups,
        gpu.workgroup_size,
        if gpu.idle_backoff { "back off on the device clock" } else { "keep polling" },
        if gpu.info.queue_family != Some(gpu.transfer_family) {
            "a transfer-only queue family"
        } else if gpu.transfer_queue != gpu.queue {
            "a second compute queue"
        } else {
            "the compute queue"
        },
        if gpu.host_import_alignment.is_some() { ", imported host pages" } else { "" }
    ));
    Ok(gpu)
}

impl VulkanBackend {
    pub fn start(config: &BackendConfig, device_index: Option<u32>) -> Result<VulkanBackend> {
        let gpu = open(config, device_index)?;
        let cpu_device = gpu.info.is_cpu();
        let default_budget = if cpu_device { CPU_SLICE_BUDGET } else { GPU_SLICE_BUDGET };
        let budget = config.slice_budget.unwrap_or(default_budget);
        if gpu.info.is_cpu() && budget > CPU_SLICE_BUDGET {
            return Err(Error::invalid(format!(
                "slice budget {budget} exceeds {CPU_SLICE_BUDGET} on a CPU device: lavapipe ends \
                 every loop of an invocation after 65 535 iterations in total"
            )));
        }
        let params = SliceParams {
            budget,
            max_passes: u32::MAX,
            lane_count: gpu.lane_count(),
            idle_passes: IDLE_PASSES_BEFORE_BACKOFF,
            backoff_max: if gpu.idle_backoff { BACKOFF_MAX_TICKS } else { 0 },
            idle_exit: if config.resident { 0 } else { IDLE_PASSES_BEFORE_EXIT },
            slice_ticks: if gpu.idle_backoff { GPU_SLICE_TICKS } else { 0 },
        };
        // The first dispatch of a pipeline pays for compiling it (lavapipe
        // compiles at first use: seconds on a cold shader cache). Pay it here,
        // at creation, so the watchdog only ever judges a running kernel: a
        // dispatch of no passes reads the header and returns.
        let warm_up = gpu.record_slice(SliceParams { max_passes: 0, ..params })?;
        let warm_up_fence = gpu.fence()?;
        gpu.submit(warm_up, warm_up_fence)?;
        let compiled = gpu.wait(warm_up_fence, u64::MAX);
        gpu.destroy_fence(warm_up_fence);
        compiled?;
        // A dispatch per batch needs one command buffer; a resident kernel
        // keeps the next slice queued behind the running one.
        let in_flight = if config.resident { SLICES_IN_FLIGHT } else { 1 };
        let slices =
            (0..in_flight).map(|_| Ok((gpu.record_slice(params)?, gpu.fence()?))).collect::<Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            gpu,
            watchdog: watchdog_limit(config.watchdog, cpu_device),
            stop: AtomicBool::new(false),
            #[cfg(test)]
            ignore_slice_ends: AtomicBool::new(false),
            failed: Mutex::new(None),
            driver_done: AtomicBool::new(false),
            resident: config.resident,
            published: AtomicU64::new(0),
            doorbell: Mutex::new(()),
            bell: Condvar::new(),
        });
        if config.resident {
            for &(cb, fence) in &slices {
                shared.gpu.submit(cb, fence)?;
            }
        }
        let driver_shared = Arc::clone(&shared);
        let driver = std::thread::Builder::new()
            .name("vyre-vk-driver".into())
            .spawn(move || {
                if driver_shared.resident {
                    drive(&driver_shared, slices)
                } else {
                    drive_per_batch(&driver_shared, slices[0])
                }
            })
            .map_err(|e| Error::new(ErrorKind::OutOfMemory, format!("could not start the driver thread: {e}")))?;
        Ok(VulkanBackend { shared, driver: Mutex::new(Some(driver)) })
    }
}

/// The baseline the resident kernel is measured against: the same shader
/// and buffers, but one dispatch (one submit and one fence wait) per call,
/// each making a single pass over the ring.
pub struct PerDispatch {
    gpu: Gpu,
    command_buffer: vk::CommandBuffer,
    fence: vk::Fence,
}

impl PerDispatch {
    pub fn new(config: &BackendConfig) -> Result<PerDispatch> {
        let gpu = open(config, config.device)?;
        let params = SliceParams {
            budget: CPU_SLICE_BUDGET,
            max_passes: 1,
            lane_count: gpu.lane_count(),
            idle_passes: 0,
            backoff_max: 0,
            idle_exit: 0,
            slice_ticks: 0,
        };
        let command_buffer = gpu.record_slice(params)?;
        let fence = gpu.fence()?;
        Ok(PerDispatch { gpu, command_buffer, fence })
    }

    pub fn info(&self) -> &device::DeviceInfo {
        &self.gpu.info
    }

    pub fn control(&self) -> &[AtomicU32] {
        self.gpu.control.words()
    }

    pub fn ring(&self) -> &[AtomicU32] {
        self.gpu.ring.words()
    }

    /// Submit one single-pass dispatch and wait for its fence.
    pub fn dispatch(&self) -> Result<()> {
        self.gpu.submit(self.command_buffer, self.fence)?;
        while !self.gpu.wait(self.fence, u64::MAX)? {}
        self.gpu.reset(self.fence)
    }
}

impl Drop for PerDispatch {
    fn drop(&mut self) {
        // dispatch() always waits, so the fence is idle.
        self.gpu.destroy_fence(self.fence);
    }
}

fn watchdog_limit(configured: Option<Duration>, cpu_device: bool) -> Duration {
    configured.unwrap_or_else(|| {
        std::env::var("VYRE_WATCHDOG_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(if cpu_device { DEFAULT_CPU_WATCHDOG } else { DEFAULT_WATCHDOG }, Duration::from_millis)
    })
}

/// Decides when a kernel that shows no sign of progress counts as hung: no
/// heartbeat change and no slice end for `limit`.
struct Watchdog {
    limit: Duration,
    heartbeat: u32,
    progress_at: Instant,
}

impl Watchdog {
    fn new(limit: Duration, heartbeat: u32, now: Instant) -> Watchdog {
        Watchdog { limit, heartbeat, progress_at: now }
    }

    /// A slice ended: that is progress.
    fn progress(&mut self, now: Instant) {
        self.progress_at = now;
    }

    /// Whether the kernel is hung, given the heartbeat read at `now`.
    fn hung(&mut self, heartbeat: u32, now: Instant) -> bool {
        if heartbeat != self.heartbeat {
            self.heartbeat = heartbeat;
            self.progress_at = now;
            return false;
        }
        now.duration_since(self.progress_at) > self.limit
    }
}

/// Keep `slices` cycling through the queue until asked to stop, the kernel
/// stops by itself (SHUTDOWN), or it fails.
fn drive(shared: &Shared, slices: Vec<(vk::CommandBuffer, vk::Fence)>) {
    let gpu = &shared.gpu;
    let control = Control::new(gpu.control.words()).expect("control buffer built from its layout");
    let mut watchdog = Watchdog::new(shared.watchdog, control_word(&control, VYRE_CTRL_HEARTBEAT), Instant::now());
    let mut pending = std::collections::VecDeque::from(slices.clone());
    let fail = |error: Error| {
        // Ask lanes that may still run (a slow kernel judged hung) to stop
        // claiming: the host is about to fail every slot in flight.
        control.request_shutdown();
        *shared.failed.lock() = Some(error);
    };
    while let Some(&(cb, fence)) = pending.front() {
        let waited = gpu.wait(fence, DRIVER_POLL.as_nanos() as u64);
        #[cfg(test)]
        let waited = waited.map(|ended| ended && !shared.ignore_slice_ends.load(Ordering::Acquire));
        match waited {
            Ok(true) => {
                pending.pop_front();
                control_add(&control, VYRE_CTRL_SLICE_COUNT);
                watchdog.progress(Instant::now());
                let stopping = shared.stop.load(Ordering::Acquire) || control.shutdown_requested();
                if !stopping {
                    let resubmitted = gpu.reset(fence).and_then(|()| gpu.submit(cb, fence));
                    match resubmitted {
                        Ok(()) => pending.push_back((cb, fence)),
                        Err(e) => {
                            fail(e);
                            break;
                        }
                    }
                }
            }
            Ok(false) => {
                if watchdog.hung(control_word(&control, VYRE_CTRL_HEARTBEAT), Instant::now()) {
                    fail(hung_error(watchdog.limit));
                    break;
                }
            }
            Err(e) => {
                fail(e);
                break;
            }
        }
    }
    if shared.failed.lock().is_none() {
        for &(_, fence) in &slices {
            gpu.destroy_fence(fence);
        }
    }
    shared.driver_done.store(true, Ordering::Release);
}

/// The engine's Disable mode: whenever the device has finished fewer slots
/// than were published, run one dispatch whose lanes leave once they find
/// no work, and wait for it. A scan part continued across claims is not
/// finished, so the next dispatch picks it up.
fn drive_per_batch(shared: &Shared, (cb, fence): (vk::CommandBuffer, vk::Fence)) {
    let gpu = &shared.gpu;
    let control = Control::new(gpu.control.words()).expect("control buffer built from its layout");
    let finished = || {
        u64::from(control_word(&control, VYRE_CTRL_DONE_COUNT))
            .wrapping_add(u64::from(control_word(&control, VYRE_CTRL_FAULT_COUNT)))
            & u64::from(u32::MAX)
    };
    let mut watchdog = Watchdog::new(shared.watchdog, control_word(&control, VYRE_CTRL_HEARTBEAT), Instant::now());
    let mut failure = None;
    'serve: while !shared.stop.load(Ordering::Acquire) && !control.shutdown_requested() {
        // The device counters wrap at 2^32: compare in that space.
        let published = shared.published.load(Ordering::Acquire) & u64::from(u32::MAX);
        if published == finished() {
            let mut doorbell = shared.doorbell.lock();
            if shared.published.load(Ordering::Acquire) & u64::from(u32::MAX) == published {
                shared.bell.wait_for(&mut doorbell, DRIVER_POLL);
            }
            continue;
        }
        if let Err(e) = gpu.submit(cb, fence) {
            failure = Some(e);
            break;
        }
        watchdog.progress(Instant::now());
        loop {
            match gpu.wait(fence, DRIVER_POLL.as_nanos() as u64) {
                Ok(true) => break,
                Ok(false) if watchdog.hung(control_word(&control, VYRE_CTRL_HEARTBEAT), Instant::now()) => {
                    failure = Some(hung_error(watchdog.limit));
                    break 'serve;
                }
                Ok(false) => {}
                Err(e) => {
                    failure = Some(e);
                    break 'serve;
                }
            }
        }
        control_add(&control, VYRE_CTRL_SLICE_COUNT);
        if let Err(e) = gpu.reset(fence) {
            failure = Some(e);
            break;
        }
    }
    match failure {
        Some(error) => {
            control.request_shutdown();
            *shared.failed.lock() = Some(error);
        }
        None => gpu.destroy_fence(fence),
    }
    shared.driver_done.store(true, Ordering::Release);
}

fn hung_error(limit: Duration) -> Error {
    Error::new(
        ErrorKind::DeviceLost,
        format!(
            "the megakernel made no progress for {} ms (no heartbeat, no slice ended); \
             it is treated as hung. Destroy this megakernel and create a new one; \
             VYRE_WATCHDOG_MS sets the limit",
            limit.as_millis()
        ),
    )
}

fn control_word(control: &Control, index: u32) -> u32 {
    control.header_word(index).map_or(0, |w| w.load(Ordering::Acquire))
}

fn control_add(control: &Control, index: u32) {
    if let Some(word) = control.header_word(index) {
        word.fetch_add(1, Ordering::AcqRel);
    }
}

impl Backend for VulkanBackend {
    fn kind(&self) -> BackendChoice {
        BackendChoice::Vulkan
    }

    fn worker_count(&self) -> u32 {
        self.shared.gpu.workgroups
    }

    fn lane_count(&self) -> u32 {
        self.shared.gpu.lane_count()
    }

    fn control(&self) -> &[AtomicU32] {
        self.shared.gpu.control.words()
    }

    fn ring(&self) -> &[AtomicU32] {
        self.shared.gpu.ring.words()
    }

    fn debug_log(&self) -> &[AtomicU32] {
        self.shared.gpu.log.words()
    }

    fn scan(&self) -> ScanBuffers<'_> {
        let gpu = &self.shared.gpu;
        ScanBuffers { arena: gpu.arena.bytes(), rules: gpu.rules.words(), state: gpu.scan.words() }
    }

    fn resident(&self) -> bool {
        self.shared.resident
    }

    fn staging(&self, count: usize, bytes: usize) -> Result<Box<dyn crate::backend::staging::Staging + '_>> {
        Ok(Box::new(staging::VulkanStaging::new(&self.shared, count, bytes)?))
    }

    fn device_name(&self) -> String {
        self.shared.gpu.info.name.clone()
    }

    fn notify(&self, published: u32) {
        // A resident kernel polls the ring: publishing is the notification.
        if !self.shared.resident {
            self.shared.published.fetch_add(u64::from(published), Ordering::AcqRel);
            let _doorbell = self.shared.doorbell.lock();
            self.shared.bell.notify_one();
        }
    }

    #[cfg(test)]
    fn stop_answering(&self) -> bool {
        self.shared.ignore_slice_ends.store(true, Ordering::Release);
        true
    }

    fn health(&self) -> Result<()> {
        self.shared.health()
    }

    fn stopped(&self) -> bool {
        self.shared.driver_done.load(Ordering::Acquire)
    }

    fn join(&self, timeout: Duration) -> bool {
        self.shared.stop.store(true, Ordering::Release);
        drop(self.shared.doorbell.lock());
        self.shared.bell.notify_all();
        if !super::wait_until(timeout, || self.stopped()) {
            return false;
        }
        if let Some(handle) = self.driver.lock().take() {
            drop(handle.join());
        }
        true
    }
}

impl Drop for VulkanBackend {
    fn drop(&mut self) {
        if let Ok(control) = Control::new(self.shared.gpu.control.words()) {
            control.request_shutdown();
        }
        // The kernel leaves within one slice; the watchdog bounds a hang.
        self.join(Duration::from_secs(3600));
        if self.health().is_err() {
            if let Some(shared) = Arc::get_mut(&mut self.shared) {
                shared.gpu.abandoned = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::megakernel::Megakernel;
    use crate::protocol::control::Layout;

    #[test]
    fn the_watchdog_trips_only_after_the_limit_without_any_progress() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut dog = Watchdog::new(Duration::from_millis(100), 7, start);
        assert!(!dog.hung(7, at(50)));
        assert!(!dog.hung(8, at(90)), "a heartbeat is progress");
        assert!(!dog.hung(8, at(180)));
        assert!(dog.hung(8, at(191)), "100 ms after the last heartbeat");
        dog.progress(at(200));
        assert!(!dog.hung(8, at(290)), "a slice end is progress too");
        assert!(dog.hung(8, at(301)));
        assert!(!dog.hung(8u32.wrapping_add(u32::MAX), at(302)), "any change counts, wrapping included");
    }

    /// A real Vulkan kernel (lavapipe in CI) whose slices stop coming back:
    /// the watchdog must call it hung, every slot in flight must fail with
    /// DEVICE_LOST, nothing may hang, and a new megakernel must work.
    #[test]
    fn the_watchdog_fails_a_kernel_that_stops_answering() {
        let layout = Layout::new(8, 1, 8, 4).unwrap();
        let config = BackendConfig {
            layout,
            debug_log_capacity: 4,
            workers: 1,
            device: None,
            slice_budget: Some(2000),
            watchdog: Some(Duration::from_secs(2)),
            scan: crate::protocol::scan::ScanLayout::NONE,
            resident: true,
        };
        let backend = match VulkanBackend::start(&config, None) {
            Ok(backend) => backend,
            Err(e) if e.kind == ErrorKind::Unsupported => {
                eprintln!("skipped: no Vulkan device ({e})");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let shared = Arc::clone(&backend.shared);
        let mk = Megakernel::on_backend(Box::new(backend), layout).unwrap();
        let long = Duration::from_secs(60);
        mk.wait(mk.publish(VYRE_OP_STORE_U32, 0, &[0, 5]).unwrap(), long).unwrap();

        shared.ignore_slice_ends.store(true, Ordering::Release);
        // The slices already queued still run what they find; once they
        // end, nothing runs a slot, and the first wait that outlasts the
        // watchdog's limit learns that the device is lost.
        let mut outcome = Ok(());
        let mut stranded = 0;
        for i in 0..10_000u32 {
            let ticket = match mk.publish(VYRE_OP_STORE_U32, 0, &[i % 8, 5]) {
                Ok(ticket) => ticket,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            outcome = mk.wait(ticket, long);
            if outcome.is_err() {
                stranded = 1;
                break;
            }
        }
        let err = outcome.expect_err("the watchdog declares the kernel hung");
        assert_eq!(err.kind, ErrorKind::DeviceLost, "{err}");
        let err = mk.wait_idle(long).unwrap_err();
        assert_eq!(err.kind, ErrorKind::DeviceLost);
        assert!(err.message.contains("no progress"), "{}", err.message);
        assert_eq!(mk.publish(VYRE_OP_NOP, 0, &[]).unwrap_err().kind, ErrorKind::DeviceLost);
        assert_eq!(mk.stats().cancelled, stranded, "the stranded slot, and only it, was failed");
        drop(mk); // must not hang; the abandoned device is leaked, not freed

        let fresh =
            Megakernel::create(&crate::megakernel::Options { backend: BackendChoice::Vulkan, ..Default::default() })
                .unwrap();
        fresh.wait(fresh.publish(VYRE_OP_NOP, 0, &[]).unwrap(), long).unwrap();
    }
}
