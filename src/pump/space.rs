//! The pump's share of the engine's input arena: first-fit allocation of
//! byte ranges, freed in any order (scan jobs complete out of order, and a
//! slow pipe must not hold up the space of the files behind it, as a ring
//! allocator would).

use std::collections::BTreeMap;

/// Allocations are rounded to this many bytes, so chunks start on
/// cache-line boundaries (the kernel's copies into the arena are faster, and
/// fragments stay few).
pub(crate) const GRAIN: u64 = 64;

/// Free ranges of `[base, base + len)`, keyed by start, never adjacent
/// (freeing merges neighbours).
#[derive(Debug)]
pub(crate) struct Space {
    free: BTreeMap<u64, u64>,
    free_bytes: u64,
}

impl Space {
    pub(crate) fn new(base: u64, len: u64) -> Space {
        let mut free = BTreeMap::new();
        if len > 0 {
            free.insert(base, len);
        }
        Space { free, free_bytes: len }
    }

    /// The size `take(len)` really reserves.
    pub(crate) fn rounded(len: u64) -> u64 {
        len.max(1).div_ceil(GRAIN) * GRAIN
    }

    /// Reserve `rounded(len)` bytes; their start, or `None` if no free
    /// range is large enough.
    pub(crate) fn take(&mut self, len: u64) -> Option<u64> {
        let len = Space::rounded(len);
        let (&start, &size) = self.free.iter().find(|(_, &size)| size >= len)?;
        self.free.remove(&start);
        if size > len {
            self.free.insert(start + len, size - len);
        }
        self.free_bytes -= len;
        Some(start)
    }

    /// Give back `[start, start + rounded(len))`, reserved by `take`.
    pub(crate) fn give(&mut self, start: u64, len: u64) {
        let mut start = start;
        let mut len = Space::rounded(len);
        self.free_bytes += len;
        if let Some((&before, &size)) = self.free.range(..start).next_back() {
            debug_assert!(before + size <= start, "double free of arena bytes at {start}");
            if before + size == start {
                self.free.remove(&before);
                start = before;
                len += size;
            }
        }
        if let Some(size) = self.free.remove(&(start + len)) {
            len += size;
        }
        self.free.insert(start, len);
    }

    /// Shrink a reservation of `old` bytes at `start` to `new` bytes.
    pub(crate) fn shrink(&mut self, start: u64, old: u64, new: u64) {
        let (old, new) = (Space::rounded(old), Space::rounded(new));
        if new < old {
            self.give(start + new, old - new);
        }
    }

    pub(crate) fn free_bytes(&self) -> u64 {
        self.free_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_disjoint_reused_and_merged_in_any_order() {
        let mut space = Space::new(1024, 640);
        let a = space.take(100).unwrap();
        let b = space.take(64).unwrap();
        let c = space.take(300).unwrap();
        assert_eq!((a, b, c), (1024, 1024 + 128, 1024 + 192));
        assert_eq!(space.take(200), None, "only 640 - 512 = 128 bytes are left");
        space.give(b, 64);
        assert_eq!(space.take(129), None, "the hole of 64 and the tail of 128 are not adjacent");
        space.give(a, 100);
        assert_eq!(space.take(192), Some(1024), "a and b merged");
        space.give(1024, 192);
        space.give(c, 300);
        assert_eq!(space.free_bytes(), 640);
        assert_eq!(space.take(640), Some(1024), "everything merged back into one range");
    }

    #[test]
    fn shrink_returns_the_tail() {
        let mut space = Space::new(0, 1024);
        let a = space.take(1024).unwrap();
        space.shrink(a, 1024, 10);
        assert_eq!(space.free_bytes(), 1024 - 64);
        assert_eq!(space.take(960), Some(64));
    }
}
