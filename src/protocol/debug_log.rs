//! The debug log that PRINTF appends to.
//!
//! Upstream let the cursor run past the capacity and the host decoder then
//! panicked. Here a writer reserves a record with a compare-and-swap that
//! never moves the cursor past the capacity; a writer that finds the log
//! full counts itself in DROPPED instead. Each record's COMMIT word is
//! written last, so a reader never decodes a half-written record.

use super::abi::*;
use super::{at, Words};
use crate::error::{Error, Result};
use crate::sync::atomic::{AtomicU32, Ordering};

/// One decoded PRINTF record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub tenant: u32,
    pub format_id: u32,
    pub value_count: u32,
    pub values: [u32; VYRE_PRINTF_MAX_VALUES as usize],
}

/// What a read of the log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Committed records from the requested first index on, in order.
    pub records: Vec<Record>,
    /// Records reserved but not yet committed (still being written).
    pub pending: u32,
    /// Records dropped because the log was full.
    pub dropped: u32,
}

/// Words a log of `capacity` records occupies.
pub fn words_for(capacity: u32) -> Result<usize> {
    if capacity > VYRE_MAX_DEBUG_RECORDS {
        return Err(Error::invalid(format!(
            "debug log capacity {capacity} exceeds VYRE_MAX_DEBUG_RECORDS ({VYRE_MAX_DEBUG_RECORDS})"
        )));
    }
    Ok(at(VYRE_DEBUG_HEADER_WORDS) + at(capacity) * at(VYRE_DEBUG_RECORD_WORDS))
}

/// A fresh, empty log of `capacity` records.
pub fn initial_words(capacity: u32) -> Result<Vec<u32>> {
    let mut words = vec![0u32; words_for(capacity)?];
    words[at(VYRE_DEBUG_CAPACITY)] = capacity;
    Ok(words)
}

fn record_base(index: u32) -> usize {
    at(VYRE_DEBUG_HEADER_WORDS) + at(index) * at(VYRE_DEBUG_RECORD_WORDS)
}

/// Decode the log from any word buffer: live or a readback. Validates the
/// header against the buffer length; records that fail validation end the
/// read with an error rather than a panic.
pub fn read<W: Words + ?Sized>(words: &W, first: u32) -> Result<Contents> {
    let header = |index: u32| words.word_or_err(at(index), "debug log");
    let capacity = header(VYRE_DEBUG_CAPACITY)?;
    if words_for(capacity)? != words.word_count() {
        return Err(Error::protocol(format!(
            "debug log declares {capacity} records ({} words) but the buffer has {} words",
            words_for(capacity)?,
            words.word_count()
        )));
    }
    let cursor = header(VYRE_DEBUG_CURSOR)?;
    if cursor > capacity {
        return Err(Error::protocol(format!(
            "debug log cursor {cursor} is past its capacity {capacity}; the buffer is corrupt"
        )));
    }
    let dropped = header(VYRE_DEBUG_DROPPED)?;
    let mut contents = Contents { dropped, ..Contents::default() };
    for index in first.min(cursor)..cursor {
        let base = record_base(index);
        let word = |w: u32| words.word_or_err(base + at(w), "debug record");
        let commit = word(VYRE_DEBUG_REC_COMMIT)?;
        if commit == 0 {
            contents.pending = cursor - index;
            break;
        }
        if commit != index + 1 {
            return Err(Error::protocol(format!(
                "debug record {index} has commit word {commit}, expected {}; the buffer is corrupt",
                index + 1
            )));
        }
        let value_count = word(VYRE_DEBUG_REC_VALUE_COUNT)?;
        if value_count > VYRE_PRINTF_MAX_VALUES {
            return Err(Error::protocol(format!(
                "debug record {index} claims {value_count} values; at most {VYRE_PRINTF_MAX_VALUES} fit"
            )));
        }
        let mut values = [0u32; VYRE_PRINTF_MAX_VALUES as usize];
        for (i, value) in values.iter_mut().enumerate() {
            *value = word(VYRE_DEBUG_REC_VALUE0 + i as u32)?;
        }
        contents.records.push(Record {
            tenant: word(VYRE_DEBUG_REC_TENANT)?,
            format_id: word(VYRE_DEBUG_REC_FORMAT)?,
            value_count,
            values,
        });
    }
    Ok(contents)
}

/// A live debug log.
#[derive(Debug, Clone, Copy)]
pub struct DebugLog<'a> {
    words: &'a [AtomicU32],
    capacity: u32,
}

impl<'a> DebugLog<'a> {
    /// View `words` as a log, checking the header against the length.
    pub fn new(words: &'a [AtomicU32]) -> Result<DebugLog<'a>> {
        let capacity = words.word_or_err(at(VYRE_DEBUG_CAPACITY), "debug log")?;
        if words_for(capacity)? != words.len() {
            return Err(Error::protocol(format!(
                "debug log declares {capacity} records but has {} words; build it with \
                 debug_log::initial_words",
                words.len()
            )));
        }
        Ok(DebugLog { words, capacity })
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Append a record (what a worker does for PRINTF). Returns false, and
    /// counts a dropped record, when the log is full. `values` longer than
    /// `VYRE_PRINTF_MAX_VALUES` are cut by the caller's validation.
    pub fn append(&self, tenant: u32, format_id: u32, values: &[u32]) -> bool {
        let cursor = &self.words[at(VYRE_DEBUG_CURSOR)];
        let mut index = cursor.load(Ordering::Acquire);
        loop {
            if index >= self.capacity {
                self.words[at(VYRE_DEBUG_DROPPED)].fetch_add(1, Ordering::AcqRel);
                return false;
            }
            match cursor.compare_exchange_weak(index, index + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(seen) => index = seen,
            }
        }
        let base = record_base(index);
        let record = |w: u32| &self.words[base + at(w)];
        let count = values.len().min(at(VYRE_PRINTF_MAX_VALUES));
        record(VYRE_DEBUG_REC_TENANT).store(tenant, Ordering::Relaxed);
        record(VYRE_DEBUG_REC_FORMAT).store(format_id, Ordering::Relaxed);
        record(VYRE_DEBUG_REC_VALUE_COUNT).store(count as u32, Ordering::Relaxed);
        for i in 0..VYRE_PRINTF_MAX_VALUES {
            let value = values.get(at(i)).copied().unwrap_or(0);
            record(VYRE_DEBUG_REC_VALUE0 + i).store(value, Ordering::Relaxed);
        }
        record(VYRE_DEBUG_REC_COMMIT).store(index + 1, Ordering::Release);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::protocol::{live_words, snapshot};
    use proptest::prelude::*;

    #[test]
    fn printf_past_capacity_is_counted_never_a_panic() {
        let live = live_words(&initial_words(3).unwrap());
        let log = DebugLog::new(&live).unwrap();
        for i in 0..10 {
            assert_eq!(log.append(1, 100 + i, &[i, i * 2]), i < 3);
        }
        let contents = read(&live[..], 0).unwrap();
        assert_eq!(contents.records.len(), 3);
        assert_eq!(contents.dropped, 7);
        assert_eq!(contents.pending, 0);
        assert_eq!(contents.records[2].format_id, 102);
        assert_eq!(&contents.records[2].values[..2], &[2, 4]);
        assert_eq!(snapshot(&live)[at(VYRE_DEBUG_CURSOR)], 3, "cursor never passes capacity");
    }

    #[test]
    fn reads_start_at_the_requested_record_and_stop_at_uncommitted_ones() {
        let live = live_words(&initial_words(4).unwrap());
        let log = DebugLog::new(&live).unwrap();
        log.append(0, 1, &[]);
        log.append(0, 2, &[]);
        assert_eq!(read(&live[..], 1).unwrap().records[0].format_id, 2);
        assert!(read(&live[..], 99).unwrap().records.is_empty());
        // A reserved record whose commit word is not yet written is pending.
        live[at(VYRE_DEBUG_CURSOR)].store(3, Ordering::Relaxed);
        let contents = read(&live[..], 0).unwrap();
        assert_eq!((contents.records.len(), contents.pending), (2, 1));
    }

    #[test]
    fn corrupt_logs_are_rejected() {
        let mut words = initial_words(2).unwrap();
        words[at(VYRE_DEBUG_CURSOR)] = 5;
        assert_eq!(read(&words[..], 0).unwrap_err().kind, ErrorKind::Protocol);
        let mut words = initial_words(2).unwrap();
        words[at(VYRE_DEBUG_CURSOR)] = 1;
        words[record_base(0)] = 7;
        assert!(read(&words[..], 0).unwrap_err().message.contains("commit word"));
        let words = initial_words(2).unwrap();
        assert!(read(&words[..words.len() - 1], 0).is_err());
        assert!(DebugLog::new(&live_words(&words[..5])).is_err());
        assert!(initial_words(VYRE_MAX_DEBUG_RECORDS + 1).is_err());
    }

    #[test]
    fn concurrent_appends_fill_the_log_exactly_and_count_the_rest() {
        let live = live_words(&initial_words(100).unwrap());
        let log = DebugLog::new(&live).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in 0..50 {
                        log.append(t, i, &[t, i]);
                    }
                });
            }
        });
        let contents = read(&live[..], 0).unwrap();
        assert_eq!(contents.records.len(), 100);
        assert_eq!(contents.dropped, 100);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_words_never_panics(words in proptest::collection::vec(any::<u32>(), 0..64), first in any::<u32>()) {
            let _ = read(&words[..], first);
        }
    }
}
