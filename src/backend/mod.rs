//! Executors of the megakernel protocol.
//!
//! A backend owns the shared buffers (control, ring, debug log) and the
//! workers that claim and run slots. The host side (`crate::megakernel`)
//! only ever touches the buffers through the protocol views, so adding a
//! backend means implementing [`Backend`], nothing else.

pub mod reference;
pub mod staging;
pub mod vulkan;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::control::Layout;
use crate::protocol::scan::{ScanBuffers, ScanLayout};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Which backend to run on, as C passes it (`VYRE_BACKEND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// Vulkan where a device exists, else the reference backend (see [`start`]).
    Auto,
    /// Host worker threads executing the protocol: the specification.
    Reference,
    /// The resident Vulkan megakernel (a GPU, or lavapipe without one).
    Vulkan,
}

/// What a backend needs to start.
#[derive(Debug, Clone, Copy)]
pub struct BackendConfig {
    pub layout: Layout,
    pub debug_log_capacity: u32,
    /// Worker threads (reference) or workgroups (Vulkan); 0 = backend default.
    pub workers: u32,
    /// Vulkan device index; `None` = the default choice (see `vulkan::device::choose`).
    pub device: Option<u32>,
    /// Loop iterations per lane per slice (Vulkan); `None` = the device default.
    pub slice_budget: Option<u32>,
    /// How long a kernel may show no progress before it counts as hung
    /// (Vulkan); `None` = `VYRE_WATCHDOG_MS` or 10 s.
    pub watchdog: Option<Duration>,
    /// Sizes of the scanning buffers (arena, rule tables, scan state).
    pub scan: ScanLayout,
    /// Keep a kernel resident (true), or dispatch once per batch of
    /// published work (Vulkan only; the reference workers always poll).
    pub resident: bool,
}

/// A running executor over shared protocol buffers.
pub trait Backend: Send + Sync {
    /// Which backend this is (never `Auto`).
    fn kind(&self) -> BackendChoice;
    /// Workers actually running, in the unit of the option: threads
    /// (reference) or workgroups (Vulkan).
    fn worker_count(&self) -> u32;
    /// Lanes polling the ring: workers times lanes per worker.
    fn lane_count(&self) -> u32 {
        self.worker_count()
    }
    fn control(&self) -> &[AtomicU32];
    fn ring(&self) -> &[AtomicU32];
    fn debug_log(&self) -> &[AtomicU32];
    /// The scanning buffers (empty regions for a bare megakernel).
    fn scan(&self) -> ScanBuffers<'_>;
    /// Whether a kernel stays resident between batches of work.
    fn resident(&self) -> bool {
        true
    }
    /// Staging memory for the pump's staged ingest path: `count` buffers of
    /// at least `bytes` bytes each, and copies from them into the arena.
    /// `Unsupported` (with the reason) where the backend cannot provide it.
    fn staging(&self, count: usize, bytes: usize) -> Result<Box<dyn staging::Staging + '_>> {
        let _ = (count, bytes);
        Err(Error::new(ErrorKind::Unsupported, "this backend has no staging memory; use the direct ingest path"))
    }
    /// The device, for humans: a Vulkan device name, or "reference".
    fn device_name(&self) -> String;
    /// Tell idle workers that slots were published. Must be cheap.
    fn notify(&self, published: u32);
    /// `Err` once the executor has failed (device lost, worker crashed).
    fn health(&self) -> Result<()>;
    /// Whether every worker has exited, so nothing can touch the ring any more.
    fn stopped(&self) -> bool;
    /// Wait up to `timeout` for every worker to exit after the control
    /// buffer's SHUTDOWN word was set. Returns whether they all exited.
    fn join(&self, timeout: Duration) -> bool;
    /// Fault injection for tests: behave as a device that stops answering
    /// (its watchdog must then declare it lost). False where the backend
    /// cannot.
    #[cfg(test)]
    fn stop_answering(&self) -> bool {
        false
    }
}

/// Start the backend `choice` names. `Auto` takes the `VYRE_BACKEND`
/// environment variable (`vulkan`, `reference`, `auto`) if set, then Vulkan
/// where a device exists (a GPU, else lavapipe), else the reference backend.
pub fn start(choice: BackendChoice, config: &BackendConfig) -> Result<Box<dyn Backend>> {
    let choice = match choice {
        BackendChoice::Auto => auto_choice(std::env::var("VYRE_BACKEND").ok().as_deref())?,
        explicit => explicit,
    };
    match choice {
        BackendChoice::Reference => Ok(Box::new(reference::ReferenceBackend::start(config)?)),
        BackendChoice::Vulkan => Ok(Box::new(vulkan::VulkanBackend::start(config, config.device)?)),
        BackendChoice::Auto => match vulkan::VulkanBackend::start(config, config.device) {
            Ok(backend) => Ok(Box::new(backend)),
            // No loader or no device: the reference backend still works.
            Err(e) if e.kind == ErrorKind::Unsupported => {
                note(&format!("no Vulkan device ({}); using the reference backend", e.message));
                Ok(Box::new(reference::ReferenceBackend::start(config)?))
            }
            Err(e) => Err(e),
        },
    }
}

/// Poll `done` every 200 µs until it holds or `timeout` passes; returns
/// whether it held. Both backends' `join` wait this way for their threads.
pub(crate) fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now().checked_add(timeout);
    while !done() {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// Write a line about a choice libvyre made (device, placement, fallback) to
/// stderr when the `VYRE_LOG` environment variable is set; a library stays
/// quiet otherwise.
pub(crate) fn note(message: &str) {
    if std::env::var_os("VYRE_LOG").is_some() {
        eprintln!("libvyre: {message}");
    }
}

/// A backend by name: `auto`, `vulkan` or `reference` (any case, spaces
/// around ignored), as `VYRE_BACKEND` and the benchmarks' `--backend` take it.
impl std::str::FromStr for BackendChoice {
    type Err = Error;

    fn from_str(name: &str) -> Result<BackendChoice> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "vulkan" => Ok(BackendChoice::Vulkan),
            "reference" => Ok(BackendChoice::Reference),
            other => Err(Error::invalid(format!("{other} is not a backend; use vulkan, reference or auto"))),
        }
    }
}

/// What `VYRE_BACKEND` asks of an `Auto` choice.
fn auto_choice(env: Option<&str>) -> Result<BackendChoice> {
    match env.filter(|v| !v.trim().is_empty()) {
        None => Ok(BackendChoice::Auto),
        Some(name) => name
            .parse()
            .map_err(|e: Error| Error::invalid(format!("VYRE_BACKEND={}: {} (or unset it)", name.trim(), e.message))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vyre_backend_steers_only_the_auto_choice() {
        assert_eq!(auto_choice(None).unwrap(), BackendChoice::Auto);
        assert_eq!(auto_choice(Some(" Reference ")).unwrap(), BackendChoice::Reference);
        assert_eq!(auto_choice(Some("vulkan")).unwrap(), BackendChoice::Vulkan);
        assert_eq!(auto_choice(Some("")).unwrap(), BackendChoice::Auto);
        assert!(auto_choice(Some("cuda")).unwrap_err().message.contains("vulkan, reference or auto"));
    }
}
