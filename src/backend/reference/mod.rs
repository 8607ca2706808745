//! The CPU reference backend: host threads that poll the ring and claim
//! slots exactly as GPU lanes will (any worker, any published slot, a
//! compare-and-swap decides). It is the oracle the GPU backends are tested
//! against.

pub mod exec;

use super::{Backend, BackendChoice, BackendConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::control::Control;
use crate::protocol::debug_log::{self, DebugLog};
use crate::protocol::scan::ScanBuffers;
use crate::protocol::slot::Ring;
use crate::protocol::{abi::VYRE_SLOT_WORDS, at, live_words, zeroed_words};
use exec::Context;
use parking_lot::{Condvar, Mutex};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Most worker threads the reference backend starts.
pub(crate) const MAX_WORKERS: u32 = 64;
/// Longest an idle worker sleeps before polling again (bounds the cost of a
/// missed wake-up).
const IDLE_SLEEP: Duration = Duration::from_millis(2);
/// Empty passes over the ring before a worker goes to sleep.
const SPIN_PASSES: u32 = 64;

struct Shared {
    control: Vec<AtomicU32>,
    ring: Vec<AtomicU32>,
    log: Vec<AtomicU32>,
    arena: Vec<AtomicU8>,
    rules: Vec<AtomicU32>,
    scan: Vec<AtomicU32>,
    sleepers: AtomicU32,
    doorbell: Mutex<u64>,
    bell: Condvar,
    failed: AtomicBool,
    running: AtomicU32,
}

impl Shared {
    fn context(&self) -> Result<Context<'_>> {
        Ok(Context {
            control: Control::new(&self.control)?,
            ring: Ring::new(&self.ring)?,
            log: DebugLog::new(&self.log)?,
            scan: self.scan_buffers(),
        })
    }

    fn scan_buffers(&self) -> ScanBuffers<'_> {
        ScanBuffers { arena: &self.arena, rules: &self.rules, state: &self.scan }
    }

    fn sleep(&self, seen: &mut u64) {
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        let mut bell = self.doorbell.lock();
        if *bell == *seen {
            self.bell.wait_for(&mut bell, IDLE_SLEEP);
        }
        *seen = *bell;
        drop(bell);
        self.sleepers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Host worker threads over host-memory buffers.
pub struct ReferenceBackend {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    worker_count: u32,
}

impl ReferenceBackend {
    /// Allocate the buffers and start the workers.
    pub fn start(config: &BackendConfig) -> Result<ReferenceBackend> {
        let worker_count = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get() as u32).clamp(1, 4),
            n if n > MAX_WORKERS => {
                return Err(Error::invalid(format!(
                    "worker_count {n} exceeds the reference backend's {MAX_WORKERS}; pass 0 for the default"
                )))
            }
            n => n,
        };
        let shared = Arc::new(Shared {
            control: live_words(&config.layout.initial_words()),
            ring: zeroed_words(at(config.layout.slot_count) * at(VYRE_SLOT_WORDS)),
            log: live_words(&debug_log::initial_words(config.debug_log_capacity)?),
            arena: zeroed(at(config.scan.arena_words) * 4, "the input arena")?,
            rules: zeroed(at(config.scan.rule_words), "the rule tables")?,
            scan: scan_state(&config.scan)?,
            sleepers: AtomicU32::new(0),
            doorbell: Mutex::new(0),
            bell: Condvar::new(),
            failed: AtomicBool::new(false),
            running: AtomicU32::new(worker_count),
        });
        shared.context()?;
        let mut workers = Vec::with_capacity(worker_count as usize);
        for id in 0..worker_count {
            let worker_shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("vyre-ref-{id}"))
                .spawn(move || worker(&worker_shared, id, worker_count));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // Stop the ones already started before failing.
                    shared.running.fetch_sub(worker_count - id, Ordering::AcqRel);
                    Control::new(&shared.control)?.request_shutdown();
                    workers.into_iter().for_each(|h: JoinHandle<()>| drop(h.join()));
                    return Err(Error::new(
                        ErrorKind::OutOfMemory,
                        format!("could not start worker thread {id}: {e}; ask for fewer workers"),
                    ));
                }
            }
        }
        Ok(ReferenceBackend { shared, workers: Mutex::new(workers), worker_count })
    }
}

/// Atomic cells whose all-zero bytes are a valid, zero value.
///
/// # Safety
/// Implement only for types for which that holds.
unsafe trait ZeroIsValid {}
// SAFETY: AtomicU8 / AtomicU32 have the bit validity of u8 / u32.
unsafe impl ZeroIsValid for AtomicU8 {}
// SAFETY: as above.
unsafe impl ZeroIsValid for AtomicU32 {}

/// `count` zeroed cells allocated in one go (zeroed pages come from the
/// allocator untouched: an arena of gigabytes built cell by cell takes
/// seconds in a debug build), or `OutOfMemory` naming `what` where the host
/// cannot give them: a caller's legal but huge sizes must not abort the
/// process, as a failed `Vec` allocation would.
fn zeroed<A: ZeroIsValid>(count: usize, what: &str) -> Result<Vec<A>> {
    let refused = || {
        Error::new(
            ErrorKind::OutOfMemory,
            format!(
                "the reference backend cannot allocate {what} ({count} cells of {} bytes); ask for a smaller size",
                std::mem::size_of::<A>()
            ),
        )
    };
    let layout = std::alloc::Layout::array::<A>(count).map_err(|_| refused())?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the layout has a non-zero size.
    let cells = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<A>();
    if cells.is_null() {
        return Err(refused());
    }
    // SAFETY: the global allocator gave `cells` with A's array layout for
    // `count` elements, every byte zero, which is a valid A (ZeroIsValid);
    // the Vec takes ownership with length = capacity = count.
    Ok(unsafe { Vec::from_raw_parts(cells, count, count) })
}

/// A fresh scan-state buffer: the layout's initial words, then zeroed hit records.
fn scan_state(layout: &crate::protocol::scan::ScanLayout) -> Result<Vec<AtomicU32>> {
    let words: Vec<AtomicU32> = zeroed(at(layout.state_words()?), "the scan state")?;
    for (word, value) in words.iter().zip(layout.initial_words()?) {
        word.store(value, Ordering::Relaxed);
    }
    Ok(words)
}

fn worker(shared: &Shared, id: u32, worker_count: u32) {
    let result = catch_unwind(AssertUnwindSafe(|| serve_until_shutdown(shared, id, worker_count)));
    if result.is_err() {
        // A crashed worker is this backend's "device lost": the host fails
        // every slot in flight instead of waiting forever.
        shared.failed.store(true, Ordering::Release);
    }
    shared.running.fetch_sub(1, Ordering::AcqRel);
}

fn serve_until_shutdown(shared: &Shared, id: u32, worker_count: u32) {
    let Ok(ctx) = shared.context() else {
        shared.failed.store(true, Ordering::Release);
        return;
    };
    let slots = ctx.ring.slot_count();
    // Workers start their scans at different slots to spread contention.
    let start = (u64::from(id) * u64::from(slots) / u64::from(worker_count)) as u32;
    let mut idle_passes = 0;
    let mut seen_bell = 0;
    while !ctx.control.shutdown_requested() {
        let mut served = false;
        for k in 0..slots {
            if ctx.control.shutdown_requested() {
                return;
            }
            let slot = (start + k) % slots;
            if let Some(claimed) = ctx.ring.try_claim(slot) {
                served |= exec::serve(&ctx, &claimed);
            }
        }
        if served {
            idle_passes = 0;
        } else if idle_passes < SPIN_PASSES {
            idle_passes += 1;
            std::thread::yield_now();
        } else {
            shared.sleep(&mut seen_bell);
        }
    }
}

impl Backend for ReferenceBackend {
    fn kind(&self) -> BackendChoice {
        BackendChoice::Reference
    }

    fn worker_count(&self) -> u32 {
        self.worker_count
    }

    fn control(&self) -> &[AtomicU32] {
        &self.shared.control
    }

    fn ring(&self) -> &[AtomicU32] {
        &self.shared.ring
    }

    fn debug_log(&self) -> &[AtomicU32] {
        &self.shared.log
    }

    fn scan(&self) -> ScanBuffers<'_> {
        self.shared.scan_buffers()
    }

    fn staging(&self, count: usize, bytes: usize) -> Result<Box<dyn super::staging::Staging + '_>> {
        Ok(Box::new(super::staging::HostCopies::new(&self.shared.arena, count, bytes)?))
    }

    fn device_name(&self) -> String {
        "reference".into()
    }

    fn notify(&self, _published: u32) {
        if self.shared.sleepers.load(Ordering::Acquire) > 0 {
            self.ring_bell();
        }
    }

    fn health(&self) -> Result<()> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::DeviceLost,
                "a reference worker thread crashed (a bug in libvyre); destroy this megakernel \
                 and create a new one",
            ));
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.shared.running.load(Ordering::Acquire) == 0
    }

    fn join(&self, timeout: Duration) -> bool {
        self.ring_bell();
        if !super::wait_until(timeout, || self.stopped()) {
            return false;
        }
        for handle in self.workers.lock().drain(..) {
            // A worker's panic was already recorded as `failed`.
            drop(handle.join());
        }
        true
    }
}

impl ReferenceBackend {
    fn ring_bell(&self) {
        let mut bell = self.shared.doorbell.lock();
        *bell = bell.wrapping_add(1);
        self.shared.bell.notify_all();
    }
}

impl Drop for ReferenceBackend {
    fn drop(&mut self) {
        if let Ok(control) = Control::new(&self.shared.control) {
            control.request_shutdown();
        }
        // Workers stop within one slot and one idle sleep; joining cannot hang.
        self.join(Duration::from_secs(3600));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Sizes the host cannot give fail with OutOfMemory instead of aborting.
    #[test]
    fn buffers_the_host_cannot_allocate_are_refused_not_aborted() {
        let fits: Vec<AtomicU32> = zeroed(1 << 20, "a test buffer").unwrap();
        assert!(fits.len() == 1 << 20 && fits.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        for count in [usize::MAX / 2, 1 << 50] {
            let err = zeroed::<AtomicU32>(count, "a test buffer").unwrap_err();
            assert_eq!(err.kind, ErrorKind::OutOfMemory, "{err}");
            assert!(err.message.contains("a test buffer"), "{err}");
        }
    }
}
