//! The pump's second consumer: a bare megakernel (docs/PUMP.md, "Feeding a
//! bare megakernel"). Chunks are read into a share of the megakernel's
//! observable words, seen as bytes (observable `i` is bytes `4i..4i + 4`),
//! and each chunk, once every byte of it has landed, is announced by one
//! ring slot made from the caller's template, some of whose arguments get
//! the chunk's place. The chunk's words are reused only once that slot is
//! final (DONE, or FAULT with a reason), and that outcome is the chunk's
//! result. The reading, chunking and tagging are the pump's own (`mod.rs`);
//! this file only publishes slots and collects their outcomes.

use super::VYRE_PUMP_RESULT_LAST;
use super::{share_of, Consumer, Key, Pump, PumpOptions, PumpResult, DEFAULT_CHUNK_BYTES, MIN_CHUNK_BYTES};
use crate::error::{Error, ErrorKind, Result};
use crate::megakernel::{fault_error, Megakernel, Ticket};
use crate::protocol::abi::{
    VYRE_FAULT_NONE, VYRE_MEMCPY_MAX_WORDS, VYRE_OP_BATCH_FENCE, VYRE_OP_MEMCPY, VYRE_OP_SHUTDOWN, VYRE_SLOT_MAX_ARGS,
};
use std::collections::VecDeque;
use std::time::Instant;

/// Template `fill` value: the argument is sent as the template gives it.
pub const VYRE_PUMP_ARG_KEEP: u8 = 0;
/// Add the index of the chunk's first observable, relative to the
/// template tenant's window (read when the slot is published).
pub const VYRE_PUMP_ARG_WORD: u8 = 1;
/// Add the observables the chunk spans: its bytes rounded up to whole words.
pub const VYRE_PUMP_ARG_WORDS: u8 = 2;
/// Add the chunk's length in bytes.
pub const VYRE_PUMP_ARG_BYTES: u8 = 3;
/// Add the low 32 bits of the file offset of the chunk's first byte.
pub const VYRE_PUMP_ARG_OFFSET_LO: u8 = 4;
/// Add the high 32 bits of the file offset of the chunk's first byte.
pub const VYRE_PUMP_ARG_OFFSET_HI: u8 = 5;
/// Add `(chunk's file offset - request's offset) / 4` (low 32 bits): where
/// the chunk's words belong in a copy of the request's bytes.
pub const VYRE_PUMP_ARG_REQUEST_WORD: u8 = 6;

/// Most slot templates one megakernel pump holds.
pub const VYRE_PUMP_MAX_TEMPLATES: u32 = 256;

/// The slot a megakernel pump publishes for each chunk it has read: the
/// template's opcode, tenant and first `arg_count` arguments, where
/// `args[i]` becomes `args[i] + value` (wrapping at 2^32) with the value
/// that `fill[i]` (`VYRE_PUMP_ARG_*`) names; `VYRE_PUMP_ARG_KEEP` sends
/// `args[i]` unchanged. A submit's `rule_set_id` names the template (an
/// index into the array given to `vyre_pump_create_for_megakernel`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(non_camel_case_types)]
pub struct vyre_pump_slot_template {
    /// `VYRE_OP_*` or a tenant opcode registered for `tenant`; not
    /// `VYRE_OP_BATCH_FENCE` or `VYRE_OP_SHUTDOWN`.
    pub opcode: u32,
    pub tenant: u32,
    /// Arguments sent, 0..=`VYRE_SLOT_MAX_ARGS`.
    pub arg_count: u32,
    pub args: [u32; 12],
    /// Per argument, a `VYRE_PUMP_ARG_*`: what of the chunk is added to it.
    /// Must be `VYRE_PUMP_ARG_KEEP` from `arg_count` on.
    pub fill: [u8; 12],
}

pub type SlotTemplate = vyre_pump_slot_template;

static_assertions::const_assert_eq!(VYRE_SLOT_MAX_ARGS, 12);
static_assertions::assert_eq_size!(vyre_pump_slot_template, [u8; 72]);

/// The megakernel, the templates, and the slots published for chunks.
pub(super) struct Feed<'m> {
    mk: &'m Megakernel,
    templates: Vec<SlotTemplate>,
    /// Chunks whose slot is published and not yet seen final.
    published: Vec<(Key, Ticket)>,
    /// Chunks whose slot was seen final: (status, fault reason), not yet
    /// returned by a drain.
    settled: VecDeque<(Key, (i32, u32))>,
    /// Publications since the last `settle`, and how many may pass before
    /// the next one: half the ring, so that the pump's own publications
    /// cannot reuse a slot `VYRE_TICKET_HISTORY` (8) times between two
    /// looks at its ticket (a fast device and a small ring did that inside
    /// one drain, turning DONE slots into TICKET_EXPIRED results).
    since_settle: u32,
    settle_every: u32,
}

impl Feed<'_> {
    /// Observable 0, seen as bytes.
    pub(super) fn arena_ptr(&self) -> *mut u8 {
        // The observables are AtomicU32 (UnsafeCell inside), so writing
        // through a pointer derived from them is permitted.
        self.mk.observables().as_ptr().cast::<u8>().cast_mut()
    }

    pub(super) fn template(&self, id: u32) -> Result<&SlotTemplate> {
        self.templates.get(id as usize).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "this megakernel pump has {} slot templates, so rule_set_id {id} names none; pass a template \
                     index below {}",
                    self.templates.len(),
                    self.templates.len()
                ),
            )
        })
    }

    /// Move every published slot that is final into `settled`; the first
    /// megakernel failure met, if any (those slots stay published).
    fn settle(&mut self) -> Option<Error> {
        self.since_settle = 0;
        let mut failure = None;
        let (mk, settled) = (self.mk, &mut self.settled);
        self.published.retain(|&(key, ticket)| {
            let outcome = match mk.poll_ticket(ticket) {
                Ok(None) => return true,
                Ok(Some(VYRE_FAULT_NONE)) => (0, VYRE_FAULT_NONE),
                Ok(Some(reason)) => (fault_error(ticket.slot, reason).kind.code(), reason),
                // The slot is final but its outcome was forgotten.
                Err(e) if e.kind == ErrorKind::TicketExpired => (e.kind.code(), VYRE_FAULT_NONE),
                Err(e) => {
                    failure.get_or_insert(e);
                    return true;
                }
            };
            settled.push_back((key, outcome));
            false
        });
        failure
    }

    /// Wait (until `deadline`) for every published slot to be final, so
    /// that no slot reads the share after destroy has returned.
    pub(super) fn wait_published(&self, deadline: Instant) {
        for &(_, ticket) in &self.published {
            // Its outcome no longer reaches anyone; only the wait matters.
            let _ = self.mk.wait(ticket, deadline.saturating_duration_since(Instant::now()));
        }
    }
}

/// Why `template` (number `index`) cannot be published over the share of
/// observables `[first, first + count)` in chunks of `chunk_bytes`, if it
/// cannot.
fn check_template(
    mk: &Megakernel,
    index: usize,
    template: &SlotTemplate,
    (first, count): (u32, u32),
    chunk_bytes: u64,
) -> Result<()> {
    let context = |e: Error| Error::new(e.kind, format!("slot template {index}: {}", e.message));
    let arg_count = template.arg_count as usize;
    if arg_count > template.args.len() {
        return Err(context(Error::invalid(format!(
            "arg_count is {arg_count} but a slot has at most {VYRE_SLOT_MAX_ARGS} arguments"
        ))));
    }
    if matches!(template.opcode, VYRE_OP_BATCH_FENCE | VYRE_OP_SHUTDOWN) {
        return Err(context(Error::invalid(
            "a pump publishes data slots; publish BATCH_FENCE and SHUTDOWN with vyre_megakernel_publish",
        )));
    }
    if let Some(i) = template.fill.iter().position(|&f| f > VYRE_PUMP_ARG_REQUEST_WORD) {
        return Err(context(Error::invalid(format!(
            "fill[{i}] is {}; use a VYRE_PUMP_ARG_* value (0..={VYRE_PUMP_ARG_REQUEST_WORD})",
            template.fill[i]
        ))));
    }
    if let Some(i) = template.fill[arg_count..].iter().position(|&f| f != VYRE_PUMP_ARG_KEEP) {
        return Err(context(Error::invalid(format!(
            "fill[{}] asks for a value but only {arg_count} arguments are sent; raise arg_count or set it to \
             VYRE_PUMP_ARG_KEEP",
            arg_count + i
        ))));
    }
    mk.check_request(template.opcode, template.tenant, &template.args[..arg_count]).map_err(context)?;
    // A MEMCPY of the chunk's words must fit one MEMCPY, or every slot would
    // be refused at publish (the default chunk is a quarter of the share, up
    // to 4 MiB). check_request kept args[2] within VYRE_MEMCPY_MAX_WORDS.
    let chunk_words = chunk_bytes.div_ceil(4);
    let copies_chunk = template.opcode == VYRE_OP_MEMCPY && template.fill[2] == VYRE_PUMP_ARG_WORDS;
    if copies_chunk && u64::from(template.args[2]) + chunk_words > u64::from(VYRE_MEMCPY_MAX_WORDS) {
        return Err(context(Error::invalid(format!(
            "its MEMCPY copies a chunk's words ({chunk_words} with chunks of {chunk_bytes} bytes) but one MEMCPY \
             copies at most VYRE_MEMCPY_MAX_WORDS ({VYRE_MEMCPY_MAX_WORDS}); pass chunk_bytes of at most {} bytes",
            (u64::from(VYRE_MEMCPY_MAX_WORDS) - u64::from(template.args[2])) * 4
        ))));
    }
    if template.fill.contains(&VYRE_PUMP_ARG_WORD) {
        let window = mk.tenant_window(template.tenant);
        if !window.is_some_and(|w| first.checked_sub(w.base).and_then(|i| w.resolve_span(i, count)).is_some()) {
            return Err(context(Error::out_of_range(format!(
                "the pump's observables [{first}, {}) are not all inside tenant {}'s window ({}), so its slots \
                 could not reach their chunks; give the tenant a window over them \
                 (vyre_megakernel_set_tenant_window) or choose the share inside it",
                first + count,
                template.tenant,
                window.map_or("none".to_owned(), |w| format!("[{}, {})", w.base, w.base + w.len))
            ))));
        }
    }
    Ok(())
}

impl<'m> Pump<'m> {
    /// A pump that reads files into `mk`'s observables
    /// `[arena_offset / 4, (arena_offset + arena_bytes) / 4)` and publishes
    /// one slot per chunk from `templates` (a submit's `rule_set_id` picks
    /// one).
    pub fn create_for_megakernel(
        mk: &'m Megakernel,
        options: &PumpOptions,
        templates: &[SlotTemplate],
    ) -> Result<Pump<'m>> {
        if options.arena_offset % 4 != 0 || options.arena_bytes % 4 != 0 || options.chunk_bytes % 4 != 0 {
            return Err(Error::invalid(format!(
                "arena_offset {}, arena_bytes {} and chunk_bytes {} must be multiples of 4 for a megakernel pump \
                 (observable i is bytes 4i..4i + 4)",
                options.arena_offset, options.arena_bytes, options.chunk_bytes
            )));
        }
        let observables = mk.observables().len() as u64;
        let share = share_of(observables * 4, "the megakernel's observables, a", options)?;
        if templates.is_empty() || templates.len() > VYRE_PUMP_MAX_TEMPLATES as usize {
            return Err(Error::invalid(format!(
                "{} slot templates given; pass 1..={VYRE_PUMP_MAX_TEMPLATES}",
                templates.len()
            )));
        }
        // Whole words, so that VYRE_PUMP_ARG_REQUEST_WORD is exact.
        let chunk_bytes = match options.chunk_bytes {
            0 => (share.1 / 4).clamp(MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES) & !3,
            bytes => bytes,
        };
        let (first, count) = ((share.0 / 4) as u32, (share.1 / 4) as u32);
        for (index, template) in templates.iter().enumerate() {
            check_template(mk, index, template, (first, count), chunk_bytes)?;
        }
        let settle_every = (mk.stats().slot_count / 2).max(1);
        let feed = Feed {
            mk,
            templates: templates.to_vec(),
            published: Vec::new(),
            settled: VecDeque::new(),
            since_settle: 0,
            settle_every,
        };
        Pump::start(Consumer::Megakernel(feed), share, chunk_bytes, options)
    }

    /// Publish the slot of a chunk whose bytes have all landed; false if the
    /// ring is full (retried on a later drain). A chunk with no bytes (a
    /// stream's end) publishes nothing and just ends its request.
    pub(super) fn publish_slot(&mut self, key: Key) -> bool {
        let Consumer::Megakernel(feed) = &mut self.consumer else { unreachable!("a megakernel pump") };
        let chunk = self.chunks.get(key).expect("a live chunk");
        let (at, have, file_pos, request_key) = (chunk.at, chunk.have, chunk.file_pos, chunk.request);
        let request = self.requests.get(request_key).expect("a chunk's request lives");
        let (start, template) = (request.start, *feed.template(request.rule_set_id).expect("checked at submit"));
        if have == 0 {
            let (chunk, user_data) = self.retire(key);
            if self.finish_if_done(request_key) {
                let end = PumpResult {
                    user_data,
                    file_offset: chunk.own_from,
                    flags: VYRE_PUMP_RESULT_LAST,
                    ..PumpResult::default()
                };
                self.host_results.push_back(end);
            }
            return true;
        }
        let pad = have.next_multiple_of(4) - have;
        // SAFETY: the chunk starts on a word (shares and grains are whole
        // words) and its reservation is whole 64-byte grains, so the bytes
        // up to its last word's end are its own; its read has completed and
        // its slot is not published yet, so no one else touches them.
        unsafe { std::ptr::write_bytes(feed.arena_ptr().add((at + have) as usize), 0, pad as usize) };
        let window_base = match template.fill.contains(&VYRE_PUMP_ARG_WORD) {
            // No valid window: the index stays absolute and the slot faults
            // OUT_OF_WINDOW, which is then its result.
            true => feed.mk.tenant_window(template.tenant).map_or(0, |w| w.base),
            false => 0,
        };
        let values = [
            0,
            ((at / 4) as u32).wrapping_sub(window_base),
            have.div_ceil(4) as u32,
            have as u32,
            file_pos as u32,
            (file_pos >> 32) as u32,
            ((file_pos - start) / 4) as u32,
        ];
        let mut args = template.args;
        for (arg, &fill) in args.iter_mut().zip(&template.fill) {
            *arg = arg.wrapping_add(values[usize::from(fill)]);
        }
        // A refusal other than a full ring (shut down, device lost, a slot
        // the megakernel refuses, such as a MEMCPY longer than it allows)
        // ends the request.
        if feed.since_settle >= feed.settle_every {
            // A failure shows again when the caller drains.
            let _ = feed.settle();
        }
        let taken = feed.mk.publish(template.opcode, template.tenant, &args[..template.arg_count as usize]);
        let taken = taken.map(|ticket| {
            feed.since_settle += 1;
            feed.published.push((key, ticket))
        });
        self.handed_over(key, taken, file_pos)
    }

    /// Results for published slots that are final, up to `results.len()`.
    /// A megakernel failure is an error only when nothing finished.
    pub(super) fn collect_slots(&mut self, results: &mut [PumpResult]) -> Result<usize> {
        let Consumer::Megakernel(feed) = &mut self.consumer else { unreachable!("a megakernel pump") };
        let failure = feed.settle();
        let take = results.len().min(feed.settled.len());
        let finished: Vec<(Key, (i32, u32))> = feed.settled.drain(..take).collect();
        if let (true, Some(e)) = (finished.is_empty(), failure) {
            return Err(e);
        }
        for (result, &(key, (status, fault_reason))) in results.iter_mut().zip(&finished) {
            self.jobs_in_flight -= 1;
            let (chunk, user_data) = self.retire(key);
            let last = self.finish_if_done(chunk.request);
            *result = PumpResult {
                user_data,
                file_offset: chunk.own_from,
                length: chunk.own_to - chunk.own_from,
                status,
                flags: if last { VYRE_PUMP_RESULT_LAST } else { 0 },
                fault_reason,
                ..PumpResult::default()
            };
        }
        Ok(finished.len())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::backend::BackendChoice;
    use crate::megakernel::testing::{halt, losable};
    use crate::megakernel::Options;
    use crate::protocol::abi::VYRE_OP_NOP;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// A request that ends on the host (ENOENT) while a published slot's
    /// poll fails: its only result must still come out of drain.
    #[test]
    fn a_host_result_taken_before_a_failing_poll_still_reaches_the_caller() {
        // The device's workers stop (it hangs); its loss is reported later,
        // while it never says its workers stopped.
        let (mk, lost) = losable(4096, false);
        halt(&mk);
        let nop = SlotTemplate { opcode: VYRE_OP_NOP, ..SlotTemplate::default() };
        let mut pump = Pump::create_for_megakernel(&mk, &PumpOptions::default(), &[nop]).unwrap();
        let dir = std::env::temp_dir().join(format!("vyre-mkfeed-failing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, vec![7u8; 100]).unwrap();
        let c = |p: &std::path::Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        pump.submit_path(&c(&file), 0, crate::pump::VYRE_PUMP_TO_EOF, 0, 1).unwrap();
        let mut results = vec![PumpResult::default(); 8];
        // Until the chunk's slot is published (it never finishes).
        for _ in 0..100 {
            let _ = pump.drain(&mut results, &mut [], Duration::from_millis(10));
            if pump.info().jobs_in_flight == 1 {
                break;
            }
        }
        assert_eq!(pump.info().jobs_in_flight, 1);
        lost.store(true, Ordering::Release);
        // A request that ends at once on the host (ENOENT).
        pump.submit_path(&c(&dir.join("missing")), 0, crate::pump::VYRE_PUMP_TO_EOF, 0, 2).unwrap();
        assert_eq!(pump.info().requests, 2);
        let mut seen = Vec::new();
        for _ in 0..5 {
            match pump.drain(&mut results, &mut [], Duration::from_millis(10)) {
                Ok((n, _)) => seen.extend(results[..n].iter().map(|r| (r.user_data, r.status))),
                Err(e) => eprintln!("drain: {e}"),
            }
        }
        assert!(seen.iter().any(|&(u, _)| u == 2), "the ENOENT request's only result was never returned: {seen:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One ring slot and a fast device: the pump's own publications reuse
    /// the slot far more than 8 times within one drain; every chunk must
    /// still report DONE, not TICKET_EXPIRED.
    #[test]
    fn the_pumps_own_publications_never_expire_its_tickets() {
        let mut expired = 0;
        let mut total = 0;
        for round in 0..5 {
            let mk = Megakernel::create(&Options {
                backend: BackendChoice::Reference,
                slot_count: 1,
                worker_count: 1,
                observable_count: 4096,
                ..Options::default()
            })
            .unwrap();
            let nop = SlotTemplate { opcode: VYRE_OP_NOP, ..SlotTemplate::default() };
            let options = PumpOptions { chunk_bytes: 64, queue_depth: 256, ..PumpOptions::default() };
            let mut pump = Pump::create_for_megakernel(&mk, &options, &[nop]).unwrap();
            let file = std::env::temp_dir().join(format!("vyre-mkfeed-expiry-{}-{round}", std::process::id()));
            std::fs::write(&file, vec![7u8; 64 * 200]).unwrap();
            let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
            pump.submit_path(&c, 0, crate::pump::VYRE_PUMP_TO_EOF, 0, 1).unwrap();
            let mut results = vec![PumpResult::default(); 512];
            loop {
                let (n, _) = pump.drain(&mut results, &mut [], Duration::from_secs(10)).unwrap();
                for r in &results[..n] {
                    total += 1;
                    if r.status == ErrorKind::TicketExpired.code() {
                        expired += 1;
                    }
                }
                if pump.info().requests == 0 {
                    break;
                }
            }
            let _ = std::fs::remove_file(&file);
            let st = mk.stats();
            assert_eq!((u64::from(st.done), st.faulted), (st.published, 0), "every slot ran DONE");
        }
        assert_eq!(expired, 0, "{expired} of {total} chunk results TICKET_EXPIRED, yet every slot ran DONE");
    }
}
