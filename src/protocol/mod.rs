//! Pure layouts and codecs: no I/O, no `unsafe`.
//!
//! Every buffer the host shares with a device is an array of little-endian
//! `u32` words. Live buffers are viewed as `[AtomicU32]` (the reference
//! backend allocates them; a GPU backend maps device memory as such), so the
//! host, the reference executor and the tests all go through the same code.
//! Readbacks and foreign bytes are decoded from `[u32]` snapshots through
//! [`Words`], with every index checked: decoding never panics.
//!
//! Atomics come from `crate::sync` so that the loom models can compile these
//! files against loom's (src/sync.rs); the unit tests below are left out of
//! those builds (`not(loom)`), as they run outside any loom model.
#![forbid(unsafe_code)]

pub mod abi;
pub mod control;
pub mod debug_log;
pub mod io_queue;
pub mod opcode;
pub mod scan;
pub mod slot;

use crate::error::{Error, Result};
use crate::sync::atomic::{AtomicU32, Ordering};

/// Read access to a word buffer, live (`[AtomicU32]`) or a snapshot (`[u32]`).
pub trait Words {
    /// Words in the buffer.
    fn word_count(&self) -> usize;
    /// Word `index` (acquire ordering on live buffers), `None` past the end.
    fn word(&self, index: usize) -> Option<u32>;

    /// Word `index`, or an error that names the buffer and the fix.
    fn word_or_err(&self, index: usize, what: &str) -> Result<u32> {
        self.word(index).ok_or_else(|| {
            Error::protocol(format!(
                "{what}: word {index} is past the end of a {}-word buffer; \
                 pass the whole buffer as the protocol lays it out",
                self.word_count()
            ))
        })
    }
}

impl Words for [u32] {
    fn word_count(&self) -> usize {
        self.len()
    }
    fn word(&self, index: usize) -> Option<u32> {
        self.get(index).copied()
    }
}

impl Words for [AtomicU32] {
    fn word_count(&self) -> usize {
        self.len()
    }
    fn word(&self, index: usize) -> Option<u32> {
        self.get(index).map(|w| w.load(Ordering::Acquire))
    }
}

/// Order every store before this point ahead of every store after it, as
/// seen by a device. Release ordering alone is not enough: a GPU's shared
/// buffers are often mapped write-combining (the BAR), where x86 may let
/// plain stores overtake each other; a full fence (`mfence`) drains them. Call
/// it between writing a payload and the word that publishes it.
pub fn publish_barrier() {
    crate::sync::atomic::fence(Ordering::SeqCst);
}

/// A zeroed live word buffer.
pub fn zeroed_words(count: usize) -> Vec<AtomicU32> {
    (0..count).map(|_| AtomicU32::new(0)).collect()
}

/// A live word buffer holding `words`.
pub fn live_words(words: &[u32]) -> Vec<AtomicU32> {
    words.iter().map(|&w| AtomicU32::new(w)).collect()
}

/// A snapshot of a live buffer, for tests that compare before and after.
#[cfg(all(test, not(loom)))]
pub fn snapshot(words: &[AtomicU32]) -> Vec<u32> {
    words.iter().map(|w| w.load(Ordering::Acquire)).collect()
}

/// Decode a little-endian byte readback into words.
pub fn words_from_le_bytes(bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.len() % 4 != 0 {
        return Err(Error::protocol(format!(
            "a {}-byte buffer is not a whole number of 4-byte words; \
             read back the buffer's full length",
            bytes.len()
        )));
    }
    Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// `index` as a buffer offset; u32 always fits usize on supported targets.
pub(crate) fn at(index: u32) -> usize {
    index as usize
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn words_from_bytes_rejects_partial_words_and_decodes_little_endian() {
        assert!(words_from_le_bytes(&[1, 2, 3]).is_err());
        assert_eq!(words_from_le_bytes(&[1, 0, 0, 0, 0, 0, 0, 0x80]).unwrap(), vec![1, 0x8000_0000]);
    }

    #[test]
    fn word_access_is_checked_on_both_buffer_kinds() {
        let plain = [7u32, 8];
        let live = live_words(&plain);
        assert_eq!(plain[..].word(1), Some(8));
        assert_eq!(live[..].word(1), Some(8));
        assert_eq!(plain[..].word(2), None);
        assert_eq!(live[..].word(usize::MAX), None);
        assert!(plain[..].word_or_err(5, "test").unwrap_err().message.contains("word 5"));
    }
}
