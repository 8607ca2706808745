//! Staging memory for the pump's staged ingest path (docs/PUMP.md): host
//! memory that io_uring reads files into (`READ_FIXED`, so it must be
//! registrable: ordinary pages), and that the backend then copies into the
//! input arena. On a GPU the copy engine is the only reader of this memory:
//! the resident kernel never reads memory the host rewrites.

use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::AtomicU8;
use std::time::Duration;

/// `count` staging buffers of `stride` bytes each, one after another, and
/// the copies from them into the arena. A buffer may be written again only
/// once `copied` has said its last copy is done.
pub trait Staging: Send {
    /// The first byte of buffer 0 (page-aligned); buffer `i` starts `i * stride` bytes later.
    fn base(&self) -> *mut u8;
    /// Bytes from one buffer's start to the next's (at least what was asked).
    fn stride(&self) -> usize;
    fn count(&self) -> usize;
    /// Start copying the first `len` bytes of buffer `index` to arena byte
    /// `arena_offset`. The caller keeps the buffer untouched, and the arena
    /// range unread, until `copied(index)` returns true.
    fn copy(&mut self, index: usize, arena_offset: u64, len: u64) -> Result<()>;
    /// Whether buffer `index`'s copy has completed (its bytes are in the
    /// arena, visible to the kernel); never blocks. `Err` once the backend
    /// failed: the copy may never end, so the buffer must not be reused.
    fn copied(&mut self, index: usize) -> Result<bool>;
    /// Wait up to `timeout` for every copy in flight; false if some are still running.
    fn wait_all(&mut self, timeout: Duration) -> bool;
}

/// Page-aligned anonymous memory (mmap): ordinary pages, which io_uring can
/// register and Vulkan can import (VK_EXT_external_memory_host).
pub(crate) struct HostPages {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: HostPages owns its mapping exclusively; the pointer is only a
// handle to memory no other object frees.
unsafe impl Send for HostPages {}

impl HostPages {
    /// `len` bytes (rounded up to whole pages), zeroed.
    pub(crate) fn new(len: usize) -> Result<HostPages> {
        let len = len.max(1).next_multiple_of(page_size());
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choice; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                format!(
                    "mmap of {len} bytes of staging memory failed: {}; lower chunk_bytes or queue_depth",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        Ok(HostPages { ptr: ptr.cast(), len })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for HostPages {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` and nothing uses it after its owner drops it.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

/// Staging whose copies the host makes itself (the reference backend, whose
/// workers are host threads): each copy is complete when `copy` returns.
pub(crate) struct HostCopies<'a> {
    pages: HostPages,
    stride: usize,
    count: usize,
    arena: &'a [AtomicU8],
}

impl<'a> HostCopies<'a> {
    pub(crate) fn new(arena: &'a [AtomicU8], count: usize, bytes: usize) -> Result<HostCopies<'a>> {
        let stride = bytes.max(1).next_multiple_of(page_size());
        let pages = HostPages::new(stride.checked_mul(count).ok_or_else(|| too_large(count, bytes))?)?;
        Ok(HostCopies { pages, stride, count, arena })
    }
}

/// The error for staging sizes whose product overflows.
pub(crate) fn too_large(count: usize, bytes: usize) -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!(
            "{count} staging buffers of {bytes} bytes do not fit the address space; lower chunk_bytes or queue_depth"
        ),
    )
}

impl Staging for HostCopies<'_> {
    fn base(&self) -> *mut u8 {
        self.pages.ptr()
    }

    fn stride(&self) -> usize {
        self.stride
    }

    fn count(&self) -> usize {
        self.count
    }

    fn copy(&mut self, index: usize, arena_offset: u64, len: u64) -> Result<()> {
        let end = arena_offset.checked_add(len).filter(|&end| end <= self.arena.len() as u64);
        if index >= self.count || len > self.stride as u64 || end.is_none() {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "staging copy of {len} bytes from buffer {index} to arena offset {arena_offset} is out of bounds"
                ),
            ));
        }
        // SAFETY: both ranges were checked above to lie inside their
        // allocations, which are distinct; the arena's AtomicU8 cells permit
        // writes through a shared reference, and the caller (the pump) owns
        // this arena range: no job reads it until the copy is reported done.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.pages.ptr().add(index * self.stride),
                self.arena[arena_offset as usize..].as_ptr().cast::<u8>().cast_mut(),
                len as usize,
            )
        };
        Ok(())
    }

    fn copied(&mut self, _index: usize) -> Result<bool> {
        Ok(true)
    }

    fn wait_all(&mut self, _timeout: Duration) -> bool {
        true
    }
}
