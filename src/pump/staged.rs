//! The staged ingest path (docs/PUMP.md): reads land in registered staging
//! buffers (`IORING_OP_READ_FIXED`), the backend copies each read chunk into
//! its arena reservation (a transfer queue on Vulkan), and the chunk's scan
//! job is enqueued once the copy has completed. A staging buffer belongs to
//! one chunk from the start of its read to the end of its copy, so the host
//! never rewrites bytes a copy may still read.

use super::Key;
use crate::backend::staging::Staging;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use io_uring::IoUring;
use std::time::Duration;

pub(super) struct Staged<'e> {
    staging: Box<dyn Staging + 'e>,
    /// Buffers no chunk holds.
    free: Vec<u32>,
    /// Chunks whose copy is in flight, with their buffer.
    copying: Vec<(Key, u32)>,
    /// The first failed copy's error: its buffer is never reused.
    failure: Option<Error>,
}

impl<'e> Staged<'e> {
    /// `count` buffers of at least `bytes` each, registered with `ring`.
    pub(super) fn new(engine: &'e Engine, ring: &IoUring, count: usize, bytes: usize) -> Result<Staged<'e>> {
        let staging = engine.staging(count, bytes)?;
        let (base, stride) = (staging.base(), staging.stride());
        let buffers: Vec<libc::iovec> = (0..count)
            // SAFETY: buffer i lies inside the staging memory (count buffers of stride bytes).
            .map(|i| libc::iovec { iov_base: unsafe { base.add(i * stride) }.cast(), iov_len: stride })
            .collect();
        // SAFETY: the buffers stay mapped while the ring may use them:
        // destroy waits for every read and copy, then unregisters them
        // (`unregister`) before the staging memory is freed.
        unsafe { ring.submitter().register_buffers(&buffers) }.map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "io_uring cannot register the {count} staging buffers of {stride} bytes ({e}): the memory may not \
                     be ordinary pages (a driver mapping), a buffer may exceed 1 GiB, or RLIMIT_MEMLOCK (ulimit -l) \
                     is too low; raise the limit, lower queue_depth or chunk_bytes, or use the direct ingest path \
                     (VYRE_PUMP_PATH_DIRECT)"
                ),
            )
        })?;
        Ok(Staged { staging, free: (0..count as u32).rev().collect(), copying: Vec::new(), failure: None })
    }

    /// A free buffer, if any.
    pub(super) fn take(&mut self) -> Option<u32> {
        self.free.pop()
    }

    /// Return a buffer whose read has ended and whose copy never started or is done.
    pub(super) fn give(&mut self, index: u32) {
        self.free.push(index);
    }

    /// The first byte of buffer `index`.
    pub(super) fn buffer(&self, index: u32) -> *mut u8 {
        // SAFETY: index < count (handed out by `take`), so the offset stays inside the staging memory.
        unsafe { self.staging.base().add(index as usize * self.staging.stride()) }
    }

    pub(super) fn copies_in_flight(&self) -> usize {
        self.copying.len()
    }

    pub(super) fn busy(&self) -> (usize, usize) {
        (self.staging.count() - self.free.len(), self.staging.count())
    }

    /// Start copying `len` bytes of `index` (chunk `key`'s) to arena offset `at`.
    pub(super) fn copy(&mut self, key: Key, index: u32, at: u64, len: u64) -> Result<()> {
        self.staging.copy(index as usize, at, len)?;
        self.copying.push((key, index));
        Ok(())
    }

    /// The chunks whose copy has ended since the last call: `Ok` (the
    /// buffer is free again) or the backend's failure (the copy may never
    /// end, so its buffer is never reused).
    pub(super) fn finished(&mut self) -> Vec<(Key, Result<()>)> {
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.copying.len() {
            let (key, index) = self.copying[i];
            match self.staging.copied(index as usize) {
                Ok(false) => i += 1,
                Ok(true) => {
                    self.copying.swap_remove(i);
                    self.free.push(index);
                    ended.push((key, Ok(())));
                }
                Err(e) => {
                    self.copying.swap_remove(i);
                    self.failure.get_or_insert_with(|| e.clone());
                    ended.push((key, Err(e)));
                }
            }
        }
        ended
    }

    /// Why no buffer will ever be free again, when every one was
    /// abandoned after a failed copy: requests waiting for one must end
    /// with this error, not wait for ever.
    pub(super) fn lost(&self) -> Option<Error> {
        let none_left = self.free.is_empty() && self.copying.is_empty();
        self.failure.clone().filter(|_| none_left)
    }

    /// Wait up to `timeout` for every copy in flight (destroy).
    pub(super) fn wait_all(&mut self, timeout: Duration) {
        self.staging.wait_all(timeout);
        self.copying.clear();
    }

    /// Release the buffers' registration (and their pinned pages' charge to
    /// RLIMIT_MEMLOCK) now: closing the ring releases it only when the
    /// kernel gets round to it, and a staged pump created right after
    /// this one's destroy failed to register its own buffers (ENOMEM).
    pub(super) fn unregister(&self, ring: &IoUring) {
        let _ = ring.submitter().unregister_buffers();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Staging whose copies all fail, as after a lost device.
    struct FailingCopies {
        pages: Vec<u8>,
    }

    impl Staging for FailingCopies {
        fn base(&self) -> *mut u8 {
            self.pages.as_ptr().cast_mut()
        }
        fn stride(&self) -> usize {
            64
        }
        fn count(&self) -> usize {
            self.pages.len() / 64
        }
        fn copy(&mut self, _index: usize, _arena_offset: u64, _len: u64) -> Result<()> {
            Ok(())
        }
        fn copied(&mut self, _index: usize) -> Result<bool> {
            Err(Error::new(ErrorKind::DeviceLost, "the test lost the device"))
        }
        fn wait_all(&mut self, _timeout: Duration) -> bool {
            true
        }
    }

    /// Buffers whose copies failed are never reused, and once every buffer
    /// is gone that way `lost` says so (the pump then ends the requests
    /// still waiting for one); not before.
    #[test]
    fn staging_is_lost_only_when_every_buffer_was_abandoned() {
        let staging = Box::new(FailingCopies { pages: vec![0; 128] });
        let mut staged = Staged { staging, free: vec![1, 0], copying: Vec::new(), failure: None };
        let key = |index| Key::from_tag(index);
        let first = staged.take().unwrap();
        staged.copy(key(1), first, 0, 16).unwrap();
        assert!(staged.lost().is_none(), "no copy has failed yet");
        assert!(staged.finished()[0].1.is_err());
        assert!(staged.lost().is_none(), "one buffer is still free");
        let second = staged.take().unwrap();
        staged.copy(key(2), second, 64, 16).unwrap();
        assert!(staged.lost().is_none(), "a copy is still in flight");
        assert!(staged.finished()[0].1.is_err());
        assert_eq!(staged.take(), None, "a failed copy's buffer is never reused");
        assert_eq!(staged.lost().map(|e| e.kind), Some(ErrorKind::DeviceLost));
    }
}
