//! The pump services the engine's IO queue (docs/PUMP.md "Device reads"):
//! IO_READ lanes write requests there, the pump claims them inside `drain`,
//! checks every field against what the caller registered (a device-written
//! request is untrusted input), reads with io_uring into the arena through
//! the same tagged-read machinery as chunks (short reads resubmitted,
//! completions matched by tag), and answers OK(bytes) or ERROR(errno).

use super::{errno, open_for_read, Key, Pump, Slab};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::abi::VYRE_IO_OP_READ;
use crate::protocol::io_queue::{Completion, Request};
use io_uring::{opcode, types};
use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::fd::RawFd;

/// Most sources one pump registers.
pub const VYRE_PUMP_MAX_IO_SOURCES: u32 = 1024;

/// Bit of an io_uring `user_data` that marks a device read (a chunk's tag
/// leaves it clear: generations stay below 2^30).
pub(super) const DEVICE_READ_TAG: u64 = 1 << 63;

/// A file registered for device reads, with the arena window they may fill.
struct Source {
    /// What an IO_READ names: unique over the engine's life.
    id: u32,
    fd: RawFd,
    owns_fd: bool,
    seekable: bool,
    window: (u64, u64),
}

/// A claimed request being read.
struct DeviceRead {
    slot: u32,
    source: usize,
    at: u64,
    file_pos: u64,
    want: u64,
    have: u64,
}

pub(super) struct IoService {
    sources: Vec<Source>,
    reads: Slab<DeviceRead>,
    /// Checked requests whose read is not queued (the ring was full).
    waiting: VecDeque<Key>,
    claimed: Vec<Request>,
}

impl IoService {
    pub(super) fn new() -> IoService {
        IoService { sources: Vec::new(), reads: Slab::new(), waiting: VecDeque::new(), claimed: Vec::new() }
    }

    /// Check a device-written request; the read it asks for, or an errno.
    fn check(&self, request: &Request) -> std::result::Result<DeviceRead, u32> {
        if request.op != VYRE_IO_OP_READ {
            return Err(libc::EINVAL as u32);
        }
        // An id this pump did not hand out: never registered, or another
        // (destroyed) pump's.
        let Some(source) = self.sources.iter().position(|s| s.id == request.src) else {
            return Err(libc::EBADF as u32);
        };
        let src = &self.sources[source];
        let (at, want) = (u64::from(request.dst), u64::from(request.byte_count));
        if at < src.window.0 || at + want > src.window.1 {
            return Err(libc::EFAULT as u32);
        }
        // io_uring takes offset -1 as "the current position": a positioned
        // read must stay below 2^63.
        let in_file = request.offset.checked_add(want).is_some_and(|end| end <= i64::MAX as u64);
        if src.seekable && !in_file {
            return Err(libc::EINVAL as u32);
        }
        if !src.seekable && request.offset != 0 {
            return Err(libc::ESPIPE as u32);
        }
        Ok(DeviceRead { slot: request.slot, source, at, file_pos: request.offset, want, have: 0 })
    }

    /// Tags of the reads the kernel still holds (destroy waits for them).
    pub(super) fn tags_in_flight(&self) -> Vec<u64> {
        let queued = self.reads.keys_where(|_| true).into_iter().filter(|key| !self.waiting.contains(key));
        queued.map(|key| DEVICE_READ_TAG | key.tag()).collect()
    }
}

impl Pump<'_> {
    /// Register `fd` for device reads into the arena window
    /// `[arena_offset, arena_offset + arena_bytes)`, which must lie outside
    /// the pump's share. Returns the source id an IO_READ names: ids are
    /// unique over the engine's life (a request naming a destroyed pump's
    /// source is answered EBADF, never served from another file). The fd
    /// stays the caller's and must stay open until the pump is destroyed.
    pub fn register_fd(&mut self, fd: RawFd, arena_offset: u64, arena_bytes: u64) -> Result<u32> {
        if fd < 0 {
            return Err(Error::invalid(format!("fd is {fd}; pass an open file descriptor")));
        }
        self.add_source(fd, false, arena_offset, arena_bytes)
    }

    /// As `register_fd`, for the file at `path`, which the pump opens and
    /// closes when it is destroyed.
    pub fn register_path(&mut self, path: &CStr, arena_offset: u64, arena_bytes: u64) -> Result<u32> {
        let fd = open_for_read(path).map_err(|errno| {
            let kind = if errno == libc::ENOENT { ErrorKind::NotFound } else { ErrorKind::InvalidArgument };
            let why = std::io::Error::from_raw_os_error(errno);
            Error::new(kind, format!("cannot open {path:?} for device reads: {why}; pass a readable file"))
        })?;
        let added = self.add_source(fd, true, arena_offset, arena_bytes);
        if added.is_err() {
            // SAFETY: the pump opened fd above and registered nothing with it.
            unsafe { libc::close(fd) };
        }
        added
    }

    fn add_source(&mut self, fd: RawFd, owns_fd: bool, arena_offset: u64, arena_bytes: u64) -> Result<u32> {
        let count = self.io.sources.len() as u32;
        if count >= VYRE_PUMP_MAX_IO_SOURCES {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                format!("this pump already has VYRE_PUMP_MAX_IO_SOURCES ({VYRE_PUMP_MAX_IO_SOURCES}) sources"),
            ));
        }
        let Some(engine) = self.consumer.engine() else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "device reads serve an engine's IO queue; a pump feeding a bare megakernel has none (create the \
                 pump on an engine)",
            ));
        };
        let arena = engine.arena_len();
        let (share_start, share_end) = (self.share.0, self.share.0 + self.share.1);
        let end = arena_offset.checked_add(arena_bytes).filter(|&end| arena_bytes > 0 && end <= arena);
        let Some(end) = end else {
            return Err(Error::out_of_range(format!(
                "the window [{arena_offset}, {arena_offset} + {arena_bytes}) is empty or passes the end of the \
                 {arena}-byte arena; pass a non-empty window inside the arena"
            )));
        };
        if arena_offset < share_end && share_start < end {
            return Err(Error::out_of_range(format!(
                "the window [{arena_offset}, {end}) overlaps the pump's share [{share_start}, {share_end}), where \
                 its chunks land; create the pump with a smaller share (arena_offset, arena_bytes) and pass a \
                 window outside it"
            )));
        }
        // SAFETY: F_GETFL reads the descriptor's flags; a bad fd fails with EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || flags & libc::O_NONBLOCK != 0 {
            return Err(Error::invalid(format!(
                "fd {fd} is {}; pass an open, blocking descriptor",
                if flags < 0 { "not open (EBADF)" } else { "non-blocking (O_NONBLOCK)" }
            )));
        }
        // SAFETY: libc::stat is plain old data, for which all zeroes is a valid value.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes one stat struct into `stat`; fd was checked open above.
        if unsafe { libc::fstat(fd, &mut stat) } != 0 {
            return Err(Error::invalid(format!("fstat of fd {fd} failed: errno {}", errno())));
        }
        let seekable = stat.st_mode & libc::S_IFMT == libc::S_IFREG;
        let Some(id) = engine.new_io_source_id() else {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                "this engine has handed out all 2^32 device-read source ids; create a new engine",
            ));
        };
        self.io.sources.push(Source { id, fd, owns_fd, seekable, window: (arena_offset, end) });
        Ok(id)
    }

    /// Claim new requests, answer the bad ones, start the reads that fit.
    pub(super) fn service_io(&mut self) {
        // Without a source no request can be served, and polling the queue
        // reads 64 words over PCIe on a GPU at every drain: on the H200 the
        // pump's small-file rate fell from 87 k to 15 k files/s with it.
        if self.io.sources.is_empty() {
            return;
        }
        let Some(engine) = self.consumer.engine() else { return };
        let queue = engine.io_queue();
        let mut claimed = std::mem::take(&mut self.io.claimed);
        queue.claim_requests(&mut claimed);
        for request in &claimed {
            match self.io.check(request) {
                Ok(read) => {
                    let key = self.io.reads.insert(read);
                    self.io.waiting.push_back(key);
                }
                // Only this pump moves the slot out of CLAIMED: it cannot fail.
                Err(errno) => drop(queue.complete(request.slot, Completion::Error(errno))),
            }
        }
        self.io.claimed = claimed;
        while let Some(&key) = self.io.waiting.front() {
            if self.reads_in_flight >= self.queue_depth || !self.push_device_read(key) {
                break;
            }
            self.io.waiting.pop_front();
        }
    }

    /// Queue the read of a request's missing bytes; false if the ring is full.
    fn push_device_read(&mut self, key: Key) -> bool {
        let read = self.io.reads.get(key).expect("a live device read");
        let (at, have, want, file_pos, source) = (read.at, read.have, read.want, read.file_pos, read.source);
        let src = &self.io.sources[source];
        let offset = if src.seekable { file_pos + have } else { u64::MAX };
        // SAFETY: at + have lies in the source's window inside the arena
        // (checked when the request was claimed).
        let buf = unsafe { self.consumer.arena_ptr().add((at + have) as usize) };
        let len = (want - have) as u32;
        let entry = opcode::Read::new(types::Fd(src.fd), buf, len)
            .offset(offset)
            .build()
            .user_data(DEVICE_READ_TAG | key.tag());
        if !self.push(&entry, len) {
            return false;
        }
        self.reads_in_flight += 1;
        true
    }

    /// A device read's completion: read more (a short read, EINTR, EAGAIN),
    /// or answer the request.
    pub(super) fn device_read_done(&mut self, tag: u64, result: i32) {
        let key = Key::from_tag(tag & !DEVICE_READ_TAG);
        let Some(read) = self.io.reads.get(key) else { return };
        if result > 0 {
            read.have += result as u64;
        }
        let (have, want, slot) = (read.have, read.want, read.slot);
        self.reads_in_flight -= 1;
        let again = result == -libc::EINTR || result == -libc::EAGAIN || (result > 0 && have < want);
        if again {
            // A full ring: wait for room on the next drain.
            self.io.waiting.push_back(key);
            return;
        }
        self.bytes_read += have;
        self.io.reads.remove(key);
        let answer = if result < 0 { Completion::Error(-result as u32) } else { Completion::Ok(have as u32) };
        if let Some(engine) = self.consumer.engine() {
            drop(engine.io_queue().complete(slot, answer));
        }
    }

    /// At destroy, once no read is in flight: answer every request the pump
    /// took ECANCELED (its lane learns that no data comes), close the
    /// sources it opened.
    pub(super) fn close_io(&mut self) {
        for key in self.io.reads.keys_where(|_| true) {
            let read = self.io.reads.remove(key).expect("listed");
            if let Some(engine) = self.consumer.engine() {
                drop(engine.io_queue().complete(read.slot, Completion::Error(libc::ECANCELED as u32)));
            }
        }
        for source in self.io.sources.drain(..) {
            if source.owns_fd {
                // SAFETY: the pump opened this fd; no read uses it any more.
                unsafe { libc::close(source.fd) };
            }
        }
    }
}
