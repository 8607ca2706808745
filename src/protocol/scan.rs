//! Scanning: the scan-state buffer (job entries, completion records, hit
//! records), the rule tables the kernel walks, and the executable
//! specification of one DFA_SCAN claim, which the reference backend runs and
//! the shader mirrors (docs/PROTOCOL.md, "Scanning").
//!
//! A job is split by the host into parts, each published as one DFA_SCAN
//! slot. A claim walks at most its iteration budget of bytes; a part that is
//! not finished stores its progress in its own arguments and is handed back
//! for any worker to continue. The part that finishes last appends the job's
//! completion record.

use super::abi::*;
use super::at;
use crate::error::Result;
use crate::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// Fewest completion records (and job entries) a scan state has: with 2,
/// a record's sequence word could repeat across the counter's wrap.
pub(crate) const MIN_COMPLETION_RECORDS: u32 = 4;

/// Sizes of the scanning buffers. `NONE` is what a bare megakernel gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLayout {
    pub job_count: u32,
    /// Hit records in the whole buffer.
    pub hit_records: u32,
    pub rule_words: u32,
    pub arena_words: u32,
}

impl ScanLayout {
    /// No scanning: empty regions (DFA_SCAN slots fault with BAD_ARGS).
    pub const NONE: ScanLayout = ScanLayout { job_count: 0, hit_records: 0, rule_words: 0, arena_words: 0 };

    /// Word offset of the completion records (as the header records it).
    pub fn completions(&self) -> u64 {
        u64::from(VYRE_SCAN_HEADER_WORDS)
    }

    /// Word offset of the job entries.
    pub fn jobs(&self) -> u64 {
        self.completions() + u64::from(self.job_count) * u64::from(VYRE_SCAN_COMPLETION_WORDS)
    }

    /// IO queue slots: a full queue where there is an arena to read into
    /// (an engine), none on a bare megakernel.
    pub fn io_slots(&self) -> u32 {
        if self.arena_words == 0 {
            0
        } else {
            VYRE_IO_SLOT_COUNT
        }
    }

    /// Word offset of the IO queue (zeroed at creation: every slot EMPTY).
    pub fn io(&self) -> u64 {
        self.jobs() + u64::from(self.job_count) * u64::from(VYRE_SCAN_JOB_WORDS)
    }

    /// Word offset of the hit records.
    pub fn hits(&self) -> u64 {
        self.io() + u64::from(self.io_slots()) * u64::from(VYRE_IO_SLOT_WORDS)
    }

    /// Words of the scan-state buffer, or an error when it would not be
    /// addressable with 32-bit word indices or `job_count` (the completion
    /// records' count) is not 0 or a power of two of at least
    /// `MIN_COMPLETION_RECORDS`: record `n` goes to index `n % job_count`,
    /// which must stay consecutive when the 32-bit record counter wraps, or
    /// a record could be overwritten before it is read.
    pub fn state_words(&self) -> Result<u32> {
        if self.job_count != 0 && (!self.job_count.is_power_of_two() || self.job_count < MIN_COMPLETION_RECORDS) {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::Internal,
                format!(
                    "{} job entries; the scan state needs 0 or a power of two of at least {MIN_COMPLETION_RECORDS}",
                    self.job_count
                ),
            ));
        }
        let total = self.hits() + u64::from(self.hit_records) * u64::from(VYRE_SCAN_HIT_WORDS);
        u32::try_from(total).map_err(|_| {
            crate::error::Error::out_of_range(format!(
                "{} jobs with {} hit records need {total} words of scan state, more than 2^32; \
                 lower queue_depth or max_hits_per_job",
                self.job_count, self.hit_records
            ))
        })
    }

    /// The first words of a fresh scan-state buffer: the header, then zeroed
    /// completion records and job entries. The hit records after them need
    /// no initial value (only counted records are ever read).
    pub fn initial_words(&self) -> Result<Vec<u32>> {
        self.state_words()?;
        let mut words = vec![0u32; self.hits() as usize];
        for (index, value) in [
            (VYRE_SCAN_HDR_MAGIC, VYRE_SCAN_MAGIC),
            (VYRE_SCAN_HDR_JOB_COUNT, self.job_count),
            (VYRE_SCAN_HDR_HIT_RECORDS, self.hit_records),
            (VYRE_SCAN_HDR_RULE_WORDS, self.rule_words),
            (VYRE_SCAN_HDR_ARENA_WORDS, self.arena_words),
            (VYRE_SCAN_HDR_OFF_COMPLETIONS, self.completions() as u32),
            (VYRE_SCAN_HDR_OFF_JOBS, self.jobs() as u32),
            (VYRE_SCAN_HDR_OFF_HITS, self.hits() as u32),
            (VYRE_SCAN_HDR_IO_SLOTS, self.io_slots()),
            (VYRE_SCAN_HDR_OFF_IO, self.io() as u32),
        ] {
            words[at(index)] = value;
        }
        Ok(words)
    }
}

/// The three scanning buffers, live.
#[derive(Clone, Copy)]
pub struct ScanBuffers<'a> {
    pub arena: &'a [AtomicU8],
    pub rules: &'a [AtomicU32],
    pub state: &'a [AtomicU32],
}

/// A DFA_SCAN slot's arguments, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Part {
    pub job: u32,
    pub table: u32,
    pub base_word: u32,
    pub base_skew: u32,
    pub len: u32,
    pub pos: u32,
    pub state: u32,
    pub report_from: u32,
    pub end_bias: u32,
    pub flags: u32,
}

impl Part {
    pub fn from_args(args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Part {
        let arg = |index: u32| args[at(index)];
        Part {
            job: arg(VYRE_SCAN_ARG_JOB),
            table: arg(VYRE_SCAN_ARG_TABLE),
            base_word: arg(VYRE_SCAN_ARG_BASE_WORD),
            base_skew: arg(VYRE_SCAN_ARG_BASE_SKEW),
            len: arg(VYRE_SCAN_ARG_LEN),
            pos: arg(VYRE_SCAN_ARG_POS),
            state: arg(VYRE_SCAN_ARG_STATE),
            report_from: arg(VYRE_SCAN_ARG_REPORT_FROM),
            end_bias: arg(VYRE_SCAN_ARG_END_BIAS),
            flags: arg(VYRE_SCAN_ARG_FLAGS),
        }
    }

    pub fn to_args(&self) -> [u32; VYRE_SLOT_MAX_ARGS as usize] {
        let mut args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
        for (index, value) in [
            (VYRE_SCAN_ARG_JOB, self.job),
            (VYRE_SCAN_ARG_TABLE, self.table),
            (VYRE_SCAN_ARG_BASE_WORD, self.base_word),
            (VYRE_SCAN_ARG_BASE_SKEW, self.base_skew),
            (VYRE_SCAN_ARG_LEN, self.len),
            (VYRE_SCAN_ARG_POS, self.pos),
            (VYRE_SCAN_ARG_STATE, self.state),
            (VYRE_SCAN_ARG_REPORT_FROM, self.report_from),
            (VYRE_SCAN_ARG_END_BIAS, self.end_bias),
            (VYRE_SCAN_ARG_FLAGS, self.flags),
        ] {
            args[at(index)] = value;
        }
        args
    }
}

/// What one claim of a part did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The part is scanned; finish the slot, then call [`finish_part`].
    Finished,
    /// Out of budget: store the part's arguments and hand the slot back.
    Continue,
    /// The arguments or the table are invalid: fault the slot with this
    /// reason (the job, if valid, is marked faulted by [`fault_part`]).
    Fault(u32),
}

fn word(buffer: &[AtomicU32], index: u64) -> Option<u32> {
    cell(buffer, index).map(|w| w.load(Ordering::Acquire))
}

/// Word `index` of `buffer`, if inside it.
fn cell(buffer: &[AtomicU32], index: u64) -> Option<&AtomicU32> {
    buffer.get(usize::try_from(index).ok()?)
}

/// A rule table checked to lie inside the rules buffer.
struct Table<'a> {
    rules: &'a [AtomicU32],
    start: u64,
    stride: u32,
    states: u32,
    transitions: u64,
    match_offsets: u64,
    match_ids: u64,
    starts: u64,
    end: u64,
    max_list: u32,
}

impl<'a> Table<'a> {
    fn open(rules: &'a [AtomicU32], start: u32) -> Option<Table<'a>> {
        let start = u64::from(start);
        let field = |index: u32| word(rules, start + u64::from(index));
        if field(VYRE_TABLE_MAGIC_WORD)? != VYRE_TABLE_MAGIC {
            return None;
        }
        let total = u64::from(field(VYRE_TABLE_TOTAL_WORDS)?);
        let end = start + total;
        if end > rules.len() as u64 || total < u64::from(VYRE_TABLE_HEADER_WORDS + VYRE_TABLE_CLASS_MAP_WORDS) {
            return None;
        }
        let classes = field(VYRE_TABLE_CLASSES)?;
        if classes == 0 || classes > 256 {
            return None;
        }
        // Every row inside the table (the kernel's `state * stride` cannot wrap).
        let states = field(VYRE_TABLE_STATES)?;
        if u64::from(states) > total / u64::from(classes + 1) {
            return None;
        }
        let max_list = field(VYRE_TABLE_MAX_MATCH_LIST)?;
        if max_list > VYRE_TABLE_MAX_MATCHES_PER_STATE {
            return None;
        }
        // Checked once per claim rather than at every byte, as the kernel
        // does: the transition rows lie inside the table, and every byte's
        // class inside a row.
        let transitions = u64::from(field(VYRE_TABLE_OFF_TRANSITIONS)?);
        if transitions + u64::from(states) * u64::from(classes + 1) > total {
            return None;
        }
        for w in 0..VYRE_TABLE_CLASS_MAP_WORDS {
            if field(VYRE_TABLE_HEADER_WORDS + w)?.to_le_bytes().iter().any(|&class| u32::from(class) > classes) {
                return None;
            }
        }
        Some(Table {
            rules,
            start,
            stride: classes + 1,
            states,
            transitions: start + transitions,
            match_offsets: start + u64::from(field(VYRE_TABLE_OFF_MATCH_OFFSETS)?),
            match_ids: start + u64::from(field(VYRE_TABLE_OFF_MATCH_IDS)?),
            starts: start + u64::from(field(VYRE_TABLE_OFF_STARTS)?),
            end,
            max_list,
        })
    }

    /// Any read outside the table is a corrupt table: `None`.
    fn read(&self, index: u64) -> Option<u32> {
        if index >= self.end {
            return None;
        }
        word(self.rules, index)
    }

    fn class_of(&self, byte: u8) -> Option<u32> {
        let packed = self.read(self.start + u64::from(VYRE_TABLE_HEADER_WORDS) + u64::from(byte / 4))?;
        Some((packed >> (8 * u32::from(byte % 4))) & 0xFF)
    }

    fn state_is_valid(&self, state: u32) -> bool {
        state < self.states
    }
}

/// The job entry `job`'s word `field`, if the job exists.
fn job_word(state: &[AtomicU32], job: u32, field: u32) -> Option<&AtomicU32> {
    if job >= word(state, u64::from(VYRE_SCAN_HDR_JOB_COUNT))? {
        return None;
    }
    let jobs = u64::from(word(state, u64::from(VYRE_SCAN_HDR_OFF_JOBS))?);
    cell(state, jobs + u64::from(job) * u64::from(VYRE_SCAN_JOB_WORDS) + u64::from(field))
}

/// Record a match of `pattern` ending at `end` in the job's share of the hit
/// records; past its capacity the match is only counted.
fn report(bufs: &ScanBuffers, job: u32, pattern: u32, end: u32) {
    let (Some(count), Some(capacity)) =
        (job_word(bufs.state, job, VYRE_SCAN_JOB_HIT_COUNT), job_word(bufs.state, job, VYRE_SCAN_JOB_HIT_CAPACITY))
    else {
        return;
    };
    let index = count.fetch_add(1, Ordering::AcqRel);
    if index >= capacity.load(Ordering::Acquire) {
        return;
    }
    let Some(first) = hit_record(bufs.state, job, index) else { return };
    for (field, value) in [(VYRE_SCAN_HIT_PATTERN, pattern), (VYRE_SCAN_HIT_END, end)] {
        if let Some(w) = cell(bufs.state, first + u64::from(field)) {
            w.store(value, Ordering::Release);
        }
    }
}

/// The first word of hit record `index` of `job`'s share, if inside the hit records.
fn hit_record(state: &[AtomicU32], job: u32, index: u32) -> Option<u64> {
    let base = job_word(state, job, VYRE_SCAN_JOB_HIT_BASE)?.load(Ordering::Acquire);
    let records = word(state, u64::from(VYRE_SCAN_HDR_HIT_RECORDS))?;
    let record = u64::from(base) + u64::from(index);
    if record >= u64::from(records) {
        return None;
    }
    let hits = u64::from(word(state, u64::from(VYRE_SCAN_HDR_OFF_HITS))?);
    Some(hits + record * u64::from(VYRE_SCAN_HIT_WORDS))
}

/// Report every pattern of `state`'s match list as ending at `end`; `budget`
/// pays one iteration per pattern. `None`: the table is corrupt.
fn report_list(bufs: &ScanBuffers, table: &Table, job: u32, state: u32, end: u32, budget: &mut u32) -> Option<()> {
    let state = u64::from(state);
    let first = table.read(table.match_offsets + state)?;
    let last = table.read(table.match_offsets + state + 1)?;
    if last < first || last - first > table.max_list {
        return None;
    }
    // The whole list lies inside the table, checked before any report.
    if last > first {
        table.read(table.match_ids + u64::from(last) - 1)?;
    }
    for k in first..last {
        *budget = budget.saturating_sub(1);
        report(bufs, job, table.read(table.match_ids + u64::from(k))?, end);
    }
    Some(())
}

/// One claim of a DFA_SCAN part: walk at most `budget` iterations (one per
/// byte and one per reported match) from `part.pos`, updating `part`.
pub fn walk(bufs: &ScanBuffers, part: &mut Part, mut budget: u32) -> Step {
    let bad = Step::Fault(VYRE_FAULT_BAD_ARGS);
    let Some(table) = Table::open(bufs.rules, part.table) else { return bad };
    let arena_bytes = bufs.arena.len() as u64;
    if arena_bytes > u64::from(VYRE_SCAN_MAX_ARENA_WORDS) * 4 {
        return bad;
    }
    let first_byte = u64::from(part.base_word) * 4 + u64::from(part.base_skew);
    if job_word(bufs.state, part.job, VYRE_SCAN_JOB_PARTS_LEFT).is_none()
        || part.base_skew > 3
        || first_byte + u64::from(part.len) > arena_bytes
        || part.pos > part.len
        || part.flags & !VYRE_SCAN_FLAG_EOI != 0
    {
        return bad;
    }
    if part.state == VYRE_SCAN_STATE_AFTER_PREVIOUS {
        // Look-behind (`\b`, `(?m)^`) sees the byte before the part.
        let Some(previous) = first_byte.checked_sub(1) else { return bad };
        let previous = bufs.arena[previous as usize].load(Ordering::Relaxed);
        let Some(start) = table.read(table.starts + 1 + u64::from(previous)) else { return bad };
        part.state = start;
    }
    if !table.state_is_valid(part.state) {
        return bad;
    }
    // A claim starts only with room for one byte and one whole match list.
    let step_cost = table.max_list.saturating_add(1);
    let mut state = part.state;
    while part.pos < part.len {
        if budget < step_cost {
            part.state = state;
            return Step::Continue;
        }
        budget -= 1;
        let byte = bufs.arena[(first_byte + u64::from(part.pos)) as usize].load(Ordering::Relaxed);
        let Some(class) = table.class_of(byte) else { return bad };
        let end = (part.pos >= part.report_from).then(|| part.end_bias.wrapping_add(part.pos));
        let Some(next) = transition(bufs, &table, part.job, state, class, end, &mut budget) else { return bad };
        state = next;
        part.pos += 1;
        // The dead state never matches again: skip the rest of the part.
        if state == 0 {
            part.pos = part.len;
        }
    }
    part.state = state;
    if part.flags & VYRE_SCAN_FLAG_EOI != 0 {
        if budget < step_cost {
            return Step::Continue;
        }
        let end = (part.len >= part.report_from).then(|| part.end_bias.wrapping_add(part.len));
        if transition(bufs, &table, part.job, state, table.stride - 1, end, &mut budget).is_none() {
            return bad;
        }
    }
    Step::Finished
}

/// Take `state`'s transition in `column` (a byte class, or the last column:
/// end of input) and, if `end` is given, report the target's matches as
/// ending there. Returns the target state; `None`: the table is corrupt.
fn transition(
    bufs: &ScanBuffers,
    table: &Table,
    job: u32,
    state: u32,
    column: u32,
    end: Option<u32>,
    budget: &mut u32,
) -> Option<u32> {
    // A byte's class is below the stride (checked by `Table::open`), and so
    // is the end-of-input column.
    let entry = table.read(table.transitions + u64::from(state) * u64::from(table.stride) + u64::from(column))?;
    let target = entry & !VYRE_TABLE_MATCH_FLAG;
    if !table.state_is_valid(target) {
        return None;
    }
    if let (true, Some(end)) = (entry & VYRE_TABLE_MATCH_FLAG != 0, end) {
        report_list(bufs, table, job, target, end, budget)?;
    }
    Some(target)
}

/// Mark the part's job faulted with `reason` (the first reason wins); an
/// unknown job is left alone.
pub fn fault_part(state: &[AtomicU32], job: u32, reason: u32) {
    if let Some(fault) = job_word(state, job, VYRE_SCAN_JOB_FAULT) {
        let _ = fault.compare_exchange(0, reason, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// After a part's slot is final: count the part done, and if it was the
/// job's last, append the job's completion record (its words first, the
/// sequence word last).
pub fn finish_part(state: &[AtomicU32], job: u32) {
    let Some(parts_left) = job_word(state, job, VYRE_SCAN_JOB_PARTS_LEFT) else { return };
    if parts_left.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    let load = |field| job_word(state, job, field).map_or(0, |w| w.load(Ordering::Acquire));
    let (hits, fault) = (load(VYRE_SCAN_JOB_HIT_COUNT), load(VYRE_SCAN_JOB_FAULT));
    let header = |index: u32| word(state, u64::from(index)).unwrap_or(0);
    let (jobs, records) = (header(VYRE_SCAN_HDR_JOB_COUNT), header(VYRE_SCAN_HDR_OFF_COMPLETIONS));
    let Some(tail) = state.get(at(VYRE_SCAN_HDR_COMPLETION_TAIL)) else { return };
    let sequence = tail.fetch_add(1, Ordering::AcqRel);
    let first = u64::from(records) + u64::from(sequence % jobs) * u64::from(VYRE_SCAN_COMPLETION_WORDS);
    let record = |field: u32| cell(state, first + u64::from(field));
    for (field, value) in
        [(VYRE_SCAN_COMPLETION_JOB, job), (VYRE_SCAN_COMPLETION_HITS, hits), (VYRE_SCAN_COMPLETION_FAULT, fault)]
    {
        if let Some(w) = record(field) {
            w.store(value, Ordering::Release);
        }
    }
    // A job that stored few hits carries them in its record.
    let stored = hits.min(load(VYRE_SCAN_JOB_HIT_CAPACITY));
    if stored <= VYRE_SCAN_INLINE_HITS {
        for k in 0..stored {
            let Some(hit) = hit_record(state, job, k) else { break };
            for field in [VYRE_SCAN_HIT_PATTERN, VYRE_SCAN_HIT_END] {
                let from = cell(state, hit + u64::from(field));
                let to = record(VYRE_SCAN_COMPLETION_INLINE + k * VYRE_SCAN_HIT_WORDS + field);
                if let (Some(from), Some(to)) = (from, to) {
                    to.store(from.load(Ordering::Acquire), Ordering::Release);
                }
            }
        }
    }
    if let Some(w) = record(VYRE_SCAN_COMPLETION_SEQ) {
        w.store(sequence_word(sequence), Ordering::Release);
    }
}

/// The sequence word of completion record number `sequence`: never 0 (the
/// value of a record not written yet), and unlike the word any earlier use
/// of the same record left behind.
pub fn sequence_word(sequence: u32) -> u32 {
    sequence % VYRE_SCAN_SEQ_MODULUS + 1
}
