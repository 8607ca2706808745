//! The control buffer: header, metrics, tenant table, tenant opcodes, fence
//! counters and observables, in that order, all inside `TOTAL_WORDS`.
//!
//! The header records every region's offset, so a device (or a decoder of a
//! readback) finds each region without recomputing the layout, and a
//! decoder can prove that every region, observables included, lies inside
//! the declared buffer before it reads anything.

use super::abi::*;
use super::{at, Words};
use crate::error::{Error, Result};
use crate::sync::atomic::{AtomicU32, Ordering};

/// Where each region of a control buffer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub slot_count: u32,
    pub tenant_count: u32,
    pub observable_count: u32,
    pub fence_count: u32,
    pub metrics: u32,
    pub tenants: u32,
    pub tenant_opcodes: u32,
    pub fences: u32,
    pub observables: u32,
    pub total_words: u32,
}

fn check_range(what: &str, value: u32, min: u32, max: u32, fix: &str) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(format!("{what} is {value} but must be in {min}..={max}; {fix}")));
    }
    Ok(())
}

impl Layout {
    /// The layout for these counts, or why they are out of range.
    pub fn new(slot_count: u32, tenant_count: u32, observable_count: u32, fence_count: u32) -> Result<Layout> {
        check_range("slot_count", slot_count, 1, VYRE_MAX_SLOTS, "pass 0 for the default (256)")?;
        check_range("tenant_count", tenant_count, 1, VYRE_MAX_TENANTS, "pass 0 for the default (1)")?;
        check_range("observable_count", observable_count, 0, VYRE_MAX_OBSERVABLES, "pass 0 for the default (256)")?;
        check_range("fence_count", fence_count, 1, VYRE_MAX_FENCES, "use fewer batches in flight")?;
        // Every term is bounded by the limits above, so u32 cannot overflow:
        // 32 + 16 + 2*1024 + 4*64 + 2*4096 + 2^20 < 2^21.
        let metrics = VYRE_CTRL_HEADER_WORDS;
        let tenants = metrics + VYRE_METRIC_COUNT;
        let tenant_opcodes = tenants + tenant_count * VYRE_TENANT_ENTRY_WORDS;
        let fences = tenant_opcodes + VYRE_TENANT_OPCODE_CAPACITY * VYRE_TENANT_OPCODE_ENTRY_WORDS;
        let observables = fences + fence_count * VYRE_FENCE_ENTRY_WORDS;
        let total_words = observables + observable_count;
        Ok(Layout {
            slot_count,
            tenant_count,
            observable_count,
            fence_count,
            metrics,
            tenants,
            tenant_opcodes,
            fences,
            observables,
            total_words,
        })
    }

    /// A fresh control buffer: header filled in, observables split evenly
    /// between tenants (tenant t gets `[t * n, (t + 1) * n)` with
    /// `n = observables / tenants`; any remainder belongs to no tenant until
    /// the host assigns windows itself), everything else zero.
    pub fn initial_words(&self) -> Vec<u32> {
        let mut words = vec![0u32; at(self.total_words)];
        let header = [
            (VYRE_CTRL_MAGIC, VYRE_CONTROL_MAGIC),
            (VYRE_CTRL_TOTAL_WORDS, self.total_words),
            (VYRE_CTRL_TENANT_COUNT, self.tenant_count),
            (VYRE_CTRL_OBSERVABLE_COUNT, self.observable_count),
            (VYRE_CTRL_FENCE_COUNT, self.fence_count),
            (VYRE_CTRL_TENANT_OPCODE_COUNT, VYRE_TENANT_OPCODE_CAPACITY),
            (VYRE_CTRL_OFF_METRICS, self.metrics),
            (VYRE_CTRL_OFF_TENANTS, self.tenants),
            (VYRE_CTRL_OFF_TENANT_OPCODES, self.tenant_opcodes),
            (VYRE_CTRL_OFF_FENCES, self.fences),
            (VYRE_CTRL_OFF_OBSERVABLES, self.observables),
            (VYRE_CTRL_SLOT_COUNT, self.slot_count),
        ];
        for (index, value) in header {
            words[at(index)] = value;
        }
        let share = self.observable_count / self.tenant_count;
        for tenant in 0..self.tenant_count {
            let entry = at(self.tenants + tenant * VYRE_TENANT_ENTRY_WORDS);
            words[entry + at(VYRE_TENANT_WINDOW_BASE)] = tenant * share;
            words[entry + at(VYRE_TENANT_WINDOW_LEN)] = share;
        }
        words
    }

    /// Read and validate the layout a control buffer declares. Fails (never
    /// panics) on a wrong magic, counts out of range, offsets that disagree
    /// with the counts, or a buffer shorter than its declared size.
    pub fn read<W: Words + ?Sized>(words: &W) -> Result<Layout> {
        let word = |index: u32| words.word_or_err(at(index), "control buffer");
        let magic = word(VYRE_CTRL_MAGIC)?;
        if magic != VYRE_CONTROL_MAGIC {
            return Err(Error::protocol(format!(
                "control buffer magic is {magic:#010x}, expected {VYRE_CONTROL_MAGIC:#010x}; \
                 this is not a libvyre control buffer of layout version 1"
            )));
        }
        let layout = Layout::new(
            word(VYRE_CTRL_SLOT_COUNT)?,
            word(VYRE_CTRL_TENANT_COUNT)?,
            word(VYRE_CTRL_OBSERVABLE_COUNT)?,
            word(VYRE_CTRL_FENCE_COUNT)?,
        )
        .map_err(|e| Error::protocol(format!("control header: {}", e.message)))?;
        let declared = [
            ("TOTAL_WORDS", VYRE_CTRL_TOTAL_WORDS, layout.total_words),
            ("TENANT_OPCODE_COUNT", VYRE_CTRL_TENANT_OPCODE_COUNT, VYRE_TENANT_OPCODE_CAPACITY),
            ("OFF_METRICS", VYRE_CTRL_OFF_METRICS, layout.metrics),
            ("OFF_TENANTS", VYRE_CTRL_OFF_TENANTS, layout.tenants),
            ("OFF_TENANT_OPCODES", VYRE_CTRL_OFF_TENANT_OPCODES, layout.tenant_opcodes),
            ("OFF_FENCES", VYRE_CTRL_OFF_FENCES, layout.fences),
            ("OFF_OBSERVABLES", VYRE_CTRL_OFF_OBSERVABLES, layout.observables),
        ];
        for (name, index, expected) in declared {
            let found = word(index)?;
            if found != expected {
                return Err(Error::protocol(format!(
                    "control header word {name} is {found} but the counts imply {expected}; \
                     the buffer is corrupt or from another layout version"
                )));
            }
        }
        if words.word_count() < at(layout.total_words) {
            return Err(Error::protocol(format!(
                "control buffer has {} words but declares {}; read back the whole buffer",
                words.word_count(),
                layout.total_words
            )));
        }
        Ok(layout)
    }
}

/// A tenant's observable window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub base: u32,
    pub len: u32,
}

impl Window {
    /// The absolute observable index of window index `index`, if inside.
    pub fn resolve(&self, index: u32) -> Option<u32> {
        (index < self.len).then(|| self.base + index)
    }

    /// `count` consecutive window indices from `first`, if all inside.
    pub fn resolve_span(&self, first: u32, count: u32) -> Option<u32> {
        let end = first.checked_add(count)?;
        (end <= self.len).then(|| self.base + first)
    }
}

/// A live control buffer.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    words: &'a [AtomicU32],
    layout: Layout,
}

impl<'a> Control<'a> {
    /// View `words` as a control buffer, validating its declared layout.
    pub fn new(words: &'a [AtomicU32]) -> Result<Control<'a>> {
        let layout = Layout::read(words)?;
        Ok(Control { words, layout })
    }

    /// View `words` with a layout validated earlier (by [`Control::new`] on
    /// the same buffer), without reading the header again: on a GPU every
    /// header read is a trip over PCIe. Only the length is checked, which is
    /// all that indexing relies on.
    pub fn with_layout(words: &'a [AtomicU32], layout: Layout) -> Result<Control<'a>> {
        if words.len() < at(layout.total_words) {
            return Err(Error::protocol(format!(
                "control buffer has {} words but its layout needs {}",
                words.len(),
                layout.total_words
            )));
        }
        Ok(Control { words, layout })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn word(&self, index: u32) -> &AtomicU32 {
        // Every caller passes an index inside a region that `Layout::read`
        // proved lies within `words`.
        &self.words[at(index)]
    }

    /// Header word `index` (`VYRE_CTRL_*`), for backend-specific words.
    pub fn header_word(&self, index: u32) -> Option<&'a AtomicU32> {
        (index < VYRE_CTRL_HEADER_WORDS).then(|| &self.words[at(index)])
    }

    pub fn shutdown_requested(&self) -> bool {
        self.word(VYRE_CTRL_SHUTDOWN).load(Ordering::Acquire) != 0
    }

    pub fn request_shutdown(&self) {
        self.word(VYRE_CTRL_SHUTDOWN).store(1, Ordering::Release);
    }

    pub fn done_count(&self) -> u32 {
        self.word(VYRE_CTRL_DONE_COUNT).load(Ordering::Acquire)
    }

    pub fn fault_count(&self) -> u32 {
        self.word(VYRE_CTRL_FAULT_COUNT).load(Ordering::Acquire)
    }

    pub fn epoch(&self) -> u32 {
        self.word(VYRE_CTRL_EPOCH).load(Ordering::Acquire)
    }

    /// Count one finished slot: DONE bumps its opcode's metric and
    /// DONE_COUNT, FAULT bumps the fault metric and FAULT_COUNT.
    pub fn count_completion(&self, metric: Option<u32>, faulted: bool) {
        if faulted {
            self.bump_metric(VYRE_METRIC_FAULT);
            self.word(VYRE_CTRL_FAULT_COUNT).fetch_add(1, Ordering::AcqRel);
        } else {
            if let Some(metric) = metric {
                self.bump_metric(metric);
            }
            self.word(VYRE_CTRL_DONE_COUNT).fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Bump the epoch; returns the new value.
    pub fn advance_epoch(&self) -> u32 {
        self.word(VYRE_CTRL_EPOCH).fetch_add(1, Ordering::AcqRel).wrapping_add(1)
    }

    pub fn bump_metric(&self, metric: u32) {
        if metric < VYRE_METRIC_COUNT {
            self.word(self.layout.metrics + metric).fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn metric(&self, metric: u32) -> Option<u32> {
        (metric < VYRE_METRIC_COUNT).then(|| self.word(self.layout.metrics + metric).load(Ordering::Acquire))
    }

    /// The observable word at absolute index `index`.
    pub fn observable(&self, index: u32) -> Option<&'a AtomicU32> {
        (index < self.layout.observable_count).then(|| &self.words[at(self.layout.observables + index)])
    }

    /// Tenant `tenant`'s window, validated against the observable count (a
    /// corrupt table entry yields `None`, never an out-of-bounds access).
    /// Reads base and length under the entry's sequence word, so a window
    /// being rewritten is never seen half old, half new; after
    /// `VYRE_TENANT_WINDOW_RETRIES` unstable reads it gives up (`None`).
    pub fn tenant_window(&self, tenant: u32) -> Option<Window> {
        if tenant >= self.layout.tenant_count {
            return None;
        }
        let entry = self.layout.tenants + tenant * VYRE_TENANT_ENTRY_WORDS;
        let seq = self.word(entry + VYRE_TENANT_WINDOW_SEQ);
        for _ in 0..VYRE_TENANT_WINDOW_RETRIES {
            let before = seq.load(Ordering::Acquire);
            let base = self.word(entry + VYRE_TENANT_WINDOW_BASE).load(Ordering::Acquire);
            let len = self.word(entry + VYRE_TENANT_WINDOW_LEN).load(Ordering::Acquire);
            if before % 2 == 0 && seq.load(Ordering::Acquire) == before {
                let end = base.checked_add(len)?;
                return (end <= self.layout.observable_count).then_some(Window { base, len });
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Give `tenant` the observables `[base, base + len)`. Windows may
    /// overlap only if the host wants tenants to share words. The caller
    /// serialises writers (the megakernel holds a lock).
    pub fn set_tenant_window(&self, tenant: u32, window: Window) -> Result<()> {
        if tenant >= self.layout.tenant_count {
            return Err(Error::out_of_range(format!(
                "tenant {tenant} does not exist; this megakernel has {} tenants",
                self.layout.tenant_count
            )));
        }
        if window.base.checked_add(window.len).map_or(true, |end| end > self.layout.observable_count) {
            return Err(Error::out_of_range(format!(
                "window [{}, {}+{}) runs past the {} observables; shrink it or create the \
                 megakernel with more observables",
                window.base, window.base, window.len, self.layout.observable_count
            )));
        }
        let entry = self.layout.tenants + tenant * VYRE_TENANT_ENTRY_WORDS;
        let seq = self.word(entry + VYRE_TENANT_WINDOW_SEQ);
        // Odd while writing: readers retry instead of pairing old and new words.
        seq.fetch_add(1, Ordering::AcqRel);
        super::publish_barrier();
        self.word(entry + VYRE_TENANT_WINDOW_BASE).store(window.base, Ordering::Release);
        self.word(entry + VYRE_TENANT_WINDOW_LEN).store(window.len, Ordering::Release);
        super::publish_barrier();
        seq.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn tenant_opcode_entry(&self, entry: u32, word: u32) -> &AtomicU32 {
        self.word(self.layout.tenant_opcodes + entry * VYRE_TENANT_OPCODE_ENTRY_WORDS + word)
    }

    /// The built-in opcode that `opcode` runs for `tenant`, if registered.
    pub fn tenant_opcode(&self, tenant: u32, opcode: u32) -> Option<u32> {
        (0..VYRE_TENANT_OPCODE_CAPACITY).find_map(|entry| {
            let registered = self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_OPCODE).load(Ordering::Acquire);
            (registered == opcode
                && self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_TENANT).load(Ordering::Acquire) == tenant)
                .then(|| self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_BUILTIN).load(Ordering::Acquire))
        })
    }

    /// Register `opcode` for `tenant` as an alias of `builtin`. The opcode
    /// must lie in the tenant's own opcode window; the built-in must be one
    /// a tenant may run (see [`tenant_may_alias`]). The caller serialises
    /// registrations (the megakernel holds a lock).
    pub fn register_tenant_opcode(&self, tenant: u32, opcode: u32, builtin: u32) -> Result<()> {
        if tenant >= self.layout.tenant_count {
            return Err(Error::out_of_range(format!(
                "tenant {tenant} does not exist; this megakernel has {} tenants",
                self.layout.tenant_count
            )));
        }
        if opcode_owner(opcode) != Some(tenant) {
            let first = VYRE_TENANT_OPCODE_BASE + tenant * VYRE_TENANT_OPCODE_WINDOW;
            return Err(Error::invalid(format!(
                "opcode {opcode:#x} is not in tenant {tenant}'s opcode window \
                 [{first:#x}, {:#x}); pick an opcode from that window",
                first + VYRE_TENANT_OPCODE_WINDOW
            )));
        }
        if !tenant_may_alias(builtin) {
            return Err(Error::invalid(format!(
                "built-in opcode {builtin:#x} cannot back a tenant opcode; use NOP, STORE_U32, \
                 ATOMIC_ADD, LOAD_U32, COMPARE_SWAP, MEMCPY or PRINTF"
            )));
        }
        if self.tenant_opcode(tenant, opcode).is_some() {
            return Err(Error::invalid(format!("opcode {opcode:#x} is already registered for tenant {tenant}")));
        }
        let free = (0..VYRE_TENANT_OPCODE_CAPACITY).find(|&entry| {
            self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_OPCODE).load(Ordering::Acquire) == 0
        });
        let Some(entry) = free else {
            return Err(Error::new(
                crate::error::ErrorKind::QueueFull,
                format!("all {VYRE_TENANT_OPCODE_CAPACITY} tenant opcode entries are in use"),
            ));
        };
        self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_TENANT).store(tenant, Ordering::Relaxed);
        self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_BUILTIN).store(builtin, Ordering::Relaxed);
        // The opcode word publishes the entry.
        super::publish_barrier();
        self.tenant_opcode_entry(entry, VYRE_TENANT_OPCODE_WORD_OPCODE).store(opcode, Ordering::Release);
        Ok(())
    }

    /// Fence counter `fence`: (members done, owner tenant) words.
    pub fn fence(&self, fence: u32) -> Option<(&'a AtomicU32, &'a AtomicU32)> {
        (fence < self.layout.fence_count).then(|| {
            let entry = at(self.layout.fences + fence * VYRE_FENCE_ENTRY_WORDS);
            (&self.words[entry + at(VYRE_FENCE_WORD_COUNT)], &self.words[entry + at(VYRE_FENCE_WORD_OWNER)])
        })
    }
}

/// The tenant whose opcode window holds `opcode`, if any.
pub fn opcode_owner(opcode: u32) -> Option<u32> {
    let offset = opcode.checked_sub(VYRE_TENANT_OPCODE_BASE)?;
    let tenant = offset / VYRE_TENANT_OPCODE_WINDOW;
    (tenant < VYRE_MAX_TENANTS).then_some(tenant)
}

/// Whether a tenant opcode may stand for `builtin`: data operations only,
/// never fences, packing, shutdown or another tenant opcode.
pub fn tenant_may_alias(builtin: u32) -> bool {
    matches!(
        builtin,
        VYRE_OP_NOP
            | VYRE_OP_STORE_U32
            | VYRE_OP_ATOMIC_ADD
            | VYRE_OP_LOAD_U32
            | VYRE_OP_COMPARE_SWAP
            | VYRE_OP_MEMCPY
            | VYRE_OP_PRINTF
    )
}

/// The metric bucket of a built-in opcode.
pub fn metric_of(opcode: u32) -> Option<u32> {
    match opcode {
        // Buckets 0..=7 are numbered like opcodes 0..=7.
        VYRE_OP_NOP..=VYRE_OP_BATCH_FENCE => Some(opcode),
        VYRE_OP_IO_READ => Some(VYRE_METRIC_IO_READ),
        VYRE_OP_PRINTF => Some(VYRE_METRIC_PRINTF),
        VYRE_OP_PACKED_SLOT => Some(VYRE_METRIC_PACKED_SLOT),
        VYRE_OP_SHUTDOWN => Some(VYRE_METRIC_SHUTDOWN),
        _ if opcode_owner(opcode).is_some() => Some(VYRE_METRIC_TENANT),
        _ => None,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::protocol::live_words;
    use proptest::prelude::*;

    fn control(tenants: u32, observables: u32) -> (Layout, Vec<AtomicU32>) {
        let layout = Layout::new(8, tenants, observables, 4).unwrap();
        (layout, live_words(&layout.initial_words()))
    }

    #[test]
    fn observables_end_exactly_at_the_declared_size() {
        for (tenants, observables) in [(1, 0), (1, 256), (7, 1000), (VYRE_MAX_TENANTS, VYRE_MAX_OBSERVABLES)] {
            let layout = Layout::new(VYRE_MAX_SLOTS, tenants, observables, VYRE_MAX_FENCES).unwrap();
            assert_eq!(layout.observables + layout.observable_count, layout.total_words);
            let words = layout.initial_words();
            assert_eq!(words.len(), at(layout.total_words));
            assert_eq!(Layout::read(&words[..]).unwrap(), layout);
            let (_, live) = control(tenants.min(4), observables.min(64));
            let c = Control::new(&live).unwrap();
            assert!(c.observable(c.layout().observable_count).is_none());
        }
    }

    #[test]
    fn out_of_range_counts_are_rejected_with_a_fix() {
        for (slots, tenants, obs, fences) in [
            (0, 1, 1, 1),
            (VYRE_MAX_SLOTS + 1, 1, 1, 1),
            (1, 0, 1, 1),
            (1, VYRE_MAX_TENANTS + 1, 1, 1),
            (1, 1, VYRE_MAX_OBSERVABLES + 1, 1),
            (1, 1, 1, 0),
        ] {
            let err = Layout::new(slots, tenants, obs, fences).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
            assert!(err.message.contains("must be in"), "{}", err.message);
        }
    }

    #[test]
    fn corrupt_headers_and_short_buffers_are_protocol_errors() {
        let (layout, _) = control(2, 16);
        let good = layout.initial_words();
        let mut bad_magic = good.clone();
        bad_magic[at(VYRE_CTRL_MAGIC)] ^= 1;
        assert_eq!(Layout::read(&bad_magic[..]).unwrap_err().kind, ErrorKind::Protocol);
        let mut bad_offset = good.clone();
        bad_offset[at(VYRE_CTRL_OFF_OBSERVABLES)] += 1;
        assert!(Layout::read(&bad_offset[..]).unwrap_err().message.contains("OFF_OBSERVABLES"));
        assert!(Layout::read(&good[..good.len() - 1]).is_err());
        assert!(Layout::read(&good[..3]).is_err());
    }

    #[test]
    fn default_windows_split_observables_evenly() {
        let (_, live) = control(3, 10);
        let c = Control::new(&live).unwrap();
        assert_eq!(c.tenant_window(0), Some(Window { base: 0, len: 3 }));
        assert_eq!(c.tenant_window(2), Some(Window { base: 6, len: 3 }));
        assert_eq!(c.tenant_window(3), None);
    }

    #[test]
    fn tenant_windows_are_bounds_checked_on_set_and_on_read() {
        let (layout, live) = control(2, 16);
        let c = Control::new(&live).unwrap();
        assert!(c.set_tenant_window(1, Window { base: 8, len: 8 }).is_ok());
        assert_eq!(c.set_tenant_window(1, Window { base: 9, len: 8 }).unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(c.set_tenant_window(1, Window { base: u32::MAX, len: 2 }).unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(c.set_tenant_window(2, Window { base: 0, len: 1 }).unwrap_err().kind, ErrorKind::OutOfRange);
        // A corrupted entry is refused at use, not trusted.
        let entry = at(layout.tenants + VYRE_TENANT_ENTRY_WORDS);
        live[entry + at(VYRE_TENANT_WINDOW_LEN)].store(u32::MAX, Ordering::Relaxed);
        assert_eq!(c.tenant_window(1), None);
        // A window being rewritten (odd sequence) is not read half-done.
        live[entry + at(VYRE_TENANT_WINDOW_LEN)].store(8, Ordering::Relaxed);
        assert_eq!(c.tenant_window(1), Some(Window { base: 8, len: 8 }));
        live[entry + at(VYRE_TENANT_WINDOW_SEQ)].fetch_add(1, Ordering::Relaxed);
        assert_eq!(c.tenant_window(1), None);
    }

    #[test]
    fn window_resolution_rejects_indices_and_spans_outside() {
        let w = Window { base: 10, len: 4 };
        assert_eq!(w.resolve(3), Some(13));
        assert_eq!(w.resolve(4), None);
        assert_eq!(w.resolve_span(2, 2), Some(12));
        assert_eq!(w.resolve_span(2, 3), None);
        assert_eq!(w.resolve_span(u32::MAX, 2), None);
    }

    #[test]
    fn tenant_opcodes_must_be_in_the_tenants_window_and_alias_data_ops() {
        let (_, live) = control(2, 16);
        let c = Control::new(&live).unwrap();
        let own = VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW + 5;
        assert!(c.register_tenant_opcode(0, own, VYRE_OP_STORE_U32).is_err(), "tenant 1's opcode");
        assert!(c.register_tenant_opcode(1, own, VYRE_OP_SHUTDOWN).is_err());
        assert!(c.register_tenant_opcode(1, own, VYRE_OP_BATCH_FENCE).is_err());
        c.register_tenant_opcode(1, own, VYRE_OP_ATOMIC_ADD).unwrap();
        assert!(c.register_tenant_opcode(1, own, VYRE_OP_ATOMIC_ADD).is_err(), "duplicate");
        assert_eq!(c.tenant_opcode(1, own), Some(VYRE_OP_ATOMIC_ADD));
        assert_eq!(c.tenant_opcode(0, own), None);
    }

    #[test]
    fn tenant_opcode_table_fills_up_with_a_queue_full_error() {
        let (_, live) = control(1, 4);
        let c = Control::new(&live).unwrap();
        for i in 0..VYRE_TENANT_OPCODE_CAPACITY {
            c.register_tenant_opcode(0, VYRE_TENANT_OPCODE_BASE + i, VYRE_OP_NOP).unwrap();
        }
        let err = c.register_tenant_opcode(0, VYRE_TENANT_OPCODE_BASE + 999, VYRE_OP_NOP).unwrap_err();
        assert_eq!(err.kind, ErrorKind::QueueFull);
    }

    #[test]
    fn metric_buckets_map_both_ways() {
        let expected = [
            (VYRE_OP_NOP, VYRE_METRIC_NOP),
            (VYRE_OP_STORE_U32, VYRE_METRIC_STORE_U32),
            (VYRE_OP_ATOMIC_ADD, VYRE_METRIC_ATOMIC_ADD),
            (VYRE_OP_LOAD_U32, VYRE_METRIC_LOAD_U32),
            (VYRE_OP_COMPARE_SWAP, VYRE_METRIC_COMPARE_SWAP),
            (VYRE_OP_MEMCPY, VYRE_METRIC_MEMCPY),
            (VYRE_OP_DFA_SCAN, VYRE_METRIC_DFA_SCAN),
            (VYRE_OP_BATCH_FENCE, VYRE_METRIC_BATCH_FENCE),
            (VYRE_OP_PRINTF, VYRE_METRIC_PRINTF),
            (VYRE_OP_PACKED_SLOT, VYRE_METRIC_PACKED_SLOT),
            (VYRE_OP_SHUTDOWN, VYRE_METRIC_SHUTDOWN),
        ];
        for (op, metric) in expected {
            assert_eq!(metric_of(op), Some(metric), "opcode {op:#x}");
        }
        assert_eq!(metric_of(VYRE_TENANT_OPCODE_BASE + 3), Some(VYRE_METRIC_TENANT));
        assert_eq!(metric_of(0x1234), None);
        assert_eq!(opcode_owner(VYRE_TENANT_OPCODE_BASE - 1), None);
        assert_eq!(opcode_owner(0x8000_0000), None);
    }

    proptest! {
        #[test]
        fn reading_arbitrary_words_never_panics(words in proptest::collection::vec(any::<u32>(), 0..200)) {
            let _ = Layout::read(&words[..]);
        }

        #[test]
        fn any_valid_layout_round_trips(slots in 1..=VYRE_MAX_SLOTS, tenants in 1..=64u32, obs in 0..5000u32, fences in 1..=VYRE_MAX_FENCES) {
            let layout = Layout::new(slots, tenants, obs, fences).unwrap();
            prop_assert_eq!(Layout::read(&layout.initial_words()[..]).unwrap(), layout);
        }
    }
}
