//! Device-initiated reads (docs/PUMP.md "Device reads"), on both backends
//! with the same requests and identical outcomes: IO_READ slots ask through
//! the engine's IO queue, the pump reads, and every byte that lands is
//! compared with the file; bad requests fault only their own slot with the
//! errno the pump chose; more requests than IO slots reuse each slot many
//! times, beside ordinary pump traffic.

mod common;

use common::{engines, oracle, Rng};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vyre::engine::{Engine, EngineOptions, Hit, ReadOutcome, ReadRequest, ReadTicket};
use vyre::error::{ErrorKind, VYRE_E_NULL_POINTER};
use vyre::pump::{Pump, PumpOptions, PumpResult, VYRE_PUMP_RESULT_LAST, VYRE_PUMP_TO_EOF};
use vyre::rules::{Pattern, RuleSet};

/// The pump's share is the first half of the arena; device reads land in
/// the second half.
const ARENA: u64 = 1 << 20;
const SHARE: u64 = ARENA / 2;
const WINDOW: u32 = SHARE as u32;

fn engine_options() -> EngineOptions {
    EngineOptions { queue_depth: 64, max_hits_per_job: 4096, arena_bytes: ARENA, ..EngineOptions::default() }
}

fn pump_options() -> PumpOptions {
    PumpOptions { arena_bytes: SHARE, chunk_bytes: 16 << 10, queue_depth: 32, ..PumpOptions::default() }
}

struct TempFile(PathBuf);
impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("vyre-pump-io-{name}-{}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
    fn c_path(&self) -> CString {
        CString::new(self.0.as_os_str().as_bytes()).unwrap()
    }
}
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `len` arena bytes from `offset`.
fn arena_bytes(engine: &Engine, offset: u32, len: usize) -> Vec<u8> {
    assert!(u64::from(offset) + len as u64 <= engine.arena_len());
    let mut out = vec![0u8; len];
    // SAFETY: the range lies inside the arena (asserted above); the read
    // that filled it has completed, so nothing writes it now.
    unsafe { std::ptr::copy_nonoverlapping(engine.arena_ptr().add(offset as usize), out.as_mut_ptr(), len) };
    out
}

/// Drain the pump until `ticket` is answered; pump results go to `results`.
fn wait_read(engine: &Engine, pump: &mut Pump, ticket: &ReadTicket, results: &mut Vec<PumpResult>) -> ReadOutcome {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut buffer = vec![PumpResult::default(); 16];
    let mut hits = vec![Hit::default(); 1 << 16];
    loop {
        if let Some(outcome) = engine.read_result(ticket).unwrap() {
            return outcome;
        }
        assert!(Instant::now() < deadline, "the IO_READ was never answered");
        match pump.drain(&mut buffer, &mut hits, Duration::from_millis(1)) {
            Ok((n, _)) => results.extend_from_slice(&buffer[..n]),
            Err(e) => assert_eq!(e.kind, ErrorKind::Timeout, "{e}"),
        }
    }
}

/// Publish a read, retrying while the ring is full. IO slots come back only
/// through read_result, so a caller holding all of them would wait for
/// ever: that fails the test instead.
fn request(engine: &Engine, pump: &mut Pump, request: ReadRequest) -> ReadTicket {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match engine.request_read(&request) {
            Ok(ticket) => return ticket,
            Err(e) if e.kind == ErrorKind::QueueFull && Instant::now() < deadline => {
                let _ = pump.drain(&mut [PumpResult::default(); 4], &mut [Hit::default(); 4096], Duration::ZERO);
            }
            Err(e) => panic!("request_read: {e}"),
        }
    }
}

/// 300 reads (more than the 64 IO slots) of random ranges of a file, up to
/// 32 in flight, each landing in its own part of the window, beside 8 file
/// scans through the same pump: every byte matches the file (a range past
/// the end is clipped: DONE with fewer bytes), every scan the oracle.
#[test]
fn device_reads_land_where_asked_beside_ordinary_pump_traffic() {
    let data = Rng(1).bytes(300_000, b"abcdefgh \n");
    let file = TempFile::new("data", &data);
    let rs = RuleSet::compile(&[Pattern::literal(&b"abc"[..]), Pattern::literal(&b"h \n"[..])], &Default::default())
        .unwrap();
    let expected_scan = oracle(&rs, &data).len() as u64;
    let mut transcripts = Vec::new();
    for engine in engines(engine_options()) {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut pump = Pump::create(&engine, &pump_options()).unwrap();
        let source = pump.register_path(&file.c_path(), SHARE, ARENA - SHARE).unwrap();
        for user_data in 0..8 {
            pump.submit_path(&file.c_path(), 0, VYRE_PUMP_TO_EOF, id, user_data).unwrap();
        }
        let mut rng = Rng(2);
        let (mut results, mut transcript) = (Vec::new(), Vec::new());
        let mut in_flight: BTreeMap<u32, (ReadTicket, u64, u32)> = BTreeMap::new();
        for k in 0..300u32 {
            let lane = k % 32;
            if let Some((ticket, offset, count)) = in_flight.remove(&lane) {
                transcript.push(check_read(&engine, &mut pump, &ticket, &data, offset, count, lane, &mut results));
            }
            let offset = rng.below(data.len() as u64 + 1000);
            let count = 1 + rng.below(8192) as u32;
            let ticket = request(
                &engine,
                &mut pump,
                ReadRequest {
                    source,
                    arena_offset: WINDOW + lane * 8192,
                    file_offset: offset,
                    byte_count: count,
                    tag: k,
                },
            );
            in_flight.insert(lane, (ticket, offset, count));
        }
        for (lane, (ticket, offset, count)) in std::mem::take(&mut in_flight) {
            transcript.push(check_read(&engine, &mut pump, &ticket, &data, offset, count, lane, &mut results));
        }
        let mut hits = vec![Hit::default(); 1 << 16];
        let mut buffer = vec![PumpResult::default(); 64];
        while results.iter().filter(|r| r.flags & VYRE_PUMP_RESULT_LAST != 0).count() < 8 {
            let (n, _) = pump.drain(&mut buffer, &mut hits, common::LONG).unwrap();
            results.extend_from_slice(&buffer[..n]);
        }
        for user_data in 0..8 {
            let mine: Vec<_> = results.iter().filter(|r| r.user_data == user_data).collect();
            assert!(mine.iter().all(|r| r.status == 0), "scan {user_data}: {mine:?}");
            assert_eq!(mine.iter().map(|r| r.hit_count).sum::<u64>(), expected_scan, "scan {user_data}");
        }
        transcripts.push(transcript);
    }
    assert!(transcripts.windows(2).all(|w| w[0] == w[1]), "the backends answered differently");
}

/// Wait for one read and compare the bytes that landed with the file.
#[allow(clippy::too_many_arguments)]
fn check_read(
    engine: &Engine,
    pump: &mut Pump,
    ticket: &ReadTicket,
    data: &[u8],
    offset: u64,
    count: u32,
    lane: u32,
    results: &mut Vec<PumpResult>,
) -> ReadOutcome {
    let outcome = wait_read(engine, pump, ticket, results);
    let start = (offset as usize).min(data.len());
    let end = (offset as usize + count as usize).min(data.len());
    assert_eq!(outcome, ReadOutcome::Done((end - start) as u32), "read of {count} at {offset}");
    assert!(arena_bytes(engine, WINDOW + lane * 8192, end - start) == data[start..end], "bytes of {count} at {offset}");
    outcome
}

/// A pipe: (read end, write end).
fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned by nothing else.
    unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
}

/// A pipe fed in small pieces: the pump resubmits short reads until the
/// request is whole, then one until the writer closes (fewer bytes than
/// asked: DONE with what came); an offset on a pipe is ESPIPE.
#[test]
fn short_reads_from_a_pipe_are_resubmitted_until_the_request_is_whole() {
    let stream = Rng(3).bytes(30_000, b"xyz");
    for engine in engines(engine_options()) {
        let mut pump = Pump::create(&engine, &pump_options()).unwrap();
        let (reader, writer) = pipe();
        let source = pump.register_fd(reader.as_raw_fd(), SHARE, ARENA - SHARE).unwrap();
        let feeder = {
            let stream = stream.clone();
            std::thread::spawn(move || {
                let mut writer = writer;
                for piece in stream.chunks(1000) {
                    writer.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_micros(300));
                }
            })
        };
        let mut results = Vec::new();
        let ask =
            |byte_count, file_offset| ReadRequest { source, arena_offset: WINDOW, file_offset, byte_count, tag: 0 };
        let seek = request(&engine, &mut pump, ask(10, 5));
        assert_eq!(wait_read(&engine, &mut pump, &seek, &mut results), ReadOutcome::Errno(libc::ESPIPE as u32));
        let first = request(&engine, &mut pump, ask(20_000, 0));
        assert_eq!(wait_read(&engine, &mut pump, &first, &mut results), ReadOutcome::Done(20_000));
        assert!(arena_bytes(&engine, WINDOW, 20_000) == stream[..20_000]);
        let rest = request(&engine, &mut pump, ask(50_000, 0));
        assert_eq!(wait_read(&engine, &mut pump, &rest, &mut results), ReadOutcome::Done(10_000), "up to EOF");
        assert!(arena_bytes(&engine, WINDOW, 10_000) == stream[20_000..]);
        feeder.join().unwrap();
        assert!(results.is_empty(), "device reads make no pump results");
        drop(pump);
    }
}

/// Every bad request faults only its own slot, with the errno that says
/// why, and the good reads between them land as asked. The pump never
/// trusts a device-written field.
#[test]
fn bad_requests_fault_only_their_own_slot_with_the_reason() {
    let data = Rng(4).bytes(10_000, b"0123456789");
    let file = TempFile::new("bad", &data);
    let dir = std::env::temp_dir();
    let write_only = std::fs::OpenOptions::new().append(true).open(&file.0).unwrap();
    let mut transcripts = Vec::new();
    for engine in engines(engine_options()) {
        let mut pump = Pump::create(&engine, &pump_options()).unwrap();
        let good = pump.register_path(&file.c_path(), SHARE, 4096).unwrap();
        let directory = pump.register_path(&CString::new(dir.as_os_str().as_bytes()).unwrap(), SHARE, 4096).unwrap();
        let unreadable = pump.register_fd(write_only.as_raw_fd(), SHARE, 4096).unwrap();
        let read = |source, arena_offset, file_offset, byte_count| ReadRequest {
            source,
            arena_offset,
            file_offset,
            byte_count,
            tag: 7,
        };
        let (ebadf, efault, einval) = (libc::EBADF as u32, libc::EFAULT as u32, libc::EINVAL as u32);
        let cases = [
            // The two good reads land in disjoint ranges: they complete in any order.
            ("a good read", read(good, WINDOW, 100, 64), ReadOutcome::Done(64)),
            ("an unknown source", read(99, WINDOW, 0, 10), ReadOutcome::Errno(ebadf)),
            ("source u32::MAX", read(u32::MAX, WINDOW, 0, 10), ReadOutcome::Errno(ebadf)),
            ("into the pump's share", read(good, 0, 0, 10), ReadOutcome::Errno(efault)),
            ("just before the window", read(good, WINDOW - 1, 0, 10), ReadOutcome::Errno(efault)),
            ("past the window's end", read(good, WINDOW + 4090, 0, 10), ReadOutcome::Errno(efault)),
            ("past the arena's end", read(good, u32::MAX - 4, 0, 10), ReadOutcome::Errno(efault)),
            ("a count of u32::MAX", read(good, WINDOW, 0, u32::MAX), ReadOutcome::Errno(efault)),
            ("offset -1 (current position)", read(good, WINDOW, u64::MAX, 10), ReadOutcome::Errno(einval)),
            ("an offset that overflows", read(good, WINDOW, i64::MAX as u64 - 4, 10), ReadOutcome::Errno(einval)),
            ("a directory", read(directory, WINDOW, 0, 10), ReadOutcome::Errno(libc::EISDIR as u32)),
            ("a write-only descriptor", read(unreadable, WINDOW, 0, 10), ReadOutcome::Errno(ebadf)),
            ("past the end of the file", read(good, WINDOW, 20_000, 10), ReadOutcome::Done(0)),
            ("another good read", read(good, WINDOW + 96, 0, 4000), ReadOutcome::Done(4000)),
        ];
        // All in flight at once: a failure must not disturb its neighbours.
        let tickets: Vec<_> = cases.iter().map(|(_, r, _)| request(&engine, &mut pump, *r)).collect();
        let mut results = Vec::new();
        let mut transcript = Vec::new();
        for ((name, _, expected), ticket) in cases.iter().zip(&tickets) {
            let outcome = wait_read(&engine, &mut pump, ticket, &mut results);
            assert_eq!(outcome, *expected, "{name} on {:?}", engine.info().backend);
            transcript.push(outcome);
        }
        assert!(arena_bytes(&engine, WINDOW, 64) == data[100..164]);
        assert!(arena_bytes(&engine, WINDOW + 96, 4000) == data[..4000]);
        assert!(arena_bytes(&engine, SHARE as u32 - 16, 16).iter().all(|&b| b == 0), "no byte landed in the share");
        transcripts.push(transcript);
    }
    assert!(transcripts.windows(2).all(|w| w[0] == w[1]), "the backends answered differently");
}

/// Registration refuses what it cannot serve: the call fails and nothing
/// is registered.
#[test]
fn registration_refuses_bad_sources_and_windows() {
    let file = TempFile::new("register", b"x");
    let engine =
        Engine::create(&EngineOptions { backend: vyre::backend::BackendChoice::Reference, ..engine_options() })
            .unwrap();
    let mut pump = Pump::create(&engine, &pump_options()).unwrap();
    let fd = std::fs::File::open(&file.0).unwrap();
    let bad_windows = [(0, 16), (SHARE - 1, 16), (SHARE, 0), (SHARE, ARENA), (u64::MAX, 2), (ARENA, 1)];
    for (offset, bytes) in bad_windows {
        let e = pump.register_fd(fd.as_raw_fd(), offset, bytes).unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange, "window ({offset}, {bytes}): {e}");
    }
    assert_eq!(pump.register_fd(-1, SHARE, 16).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(pump.register_fd(i32::MAX, SHARE, 16).unwrap_err().kind, ErrorKind::InvalidArgument);
    let (reader, _writer) = pipe();
    // SAFETY: F_SETFL on a descriptor this test owns.
    assert_eq!(unsafe { libc::fcntl(reader.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) }, 0);
    assert!(pump.register_fd(reader.as_raw_fd(), SHARE, 16).unwrap_err().message.contains("O_NONBLOCK"));
    let missing = CString::new("/nonexistent/vyre-io-source").unwrap();
    assert_eq!(pump.register_path(&missing, SHARE, 16).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(pump.register_fd(fd.as_raw_fd(), SHARE, 16).unwrap(), 0, "the first source registered is 0");
    assert_eq!(pump.register_path(&file.c_path(), ARENA - 16, 16).unwrap(), 1);
}

/// The C entry points check every pointer and argument.
#[test]
fn the_c_registration_calls_check_their_arguments() {
    use vyre::ffi::pump_io::{vyre_pump_register_fd, vyre_pump_register_path};
    let file = TempFile::new("c-api", b"x");
    let fd = std::fs::File::open(&file.0).unwrap();
    let mut source = 77u32;
    let path = file.c_path();
    // SAFETY: NULL handles and outputs are what these calls must refuse;
    // the strings are NUL-terminated.
    unsafe {
        let null_pump = std::ptr::null_mut();
        assert_eq!(vyre_pump_register_fd(null_pump, fd.as_raw_fd(), SHARE, 16, &mut source), VYRE_E_NULL_POINTER);
        assert_eq!(vyre_pump_register_path(null_pump, path.as_ptr(), SHARE, 16, &mut source), VYRE_E_NULL_POINTER);
    }
    assert_eq!(source, 77, "nothing written on failure");
}

/// This thread's last error message.
fn last_error() -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    // SAFETY: buf holds buf.len() writable bytes; `needed` is not wanted.
    unsafe { vyre::ffi::status::vyre_last_error_message(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()) };
    // SAFETY: vyre_last_error_message NUL-terminated buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// The C read calls on both backends: every IO slot taken while no drain
/// serves them, one more refused with QUEUE_FULL; then drained and each
/// answered DONE with the file's bytes in the arena (ERRNO EBADF for an
/// unknown source); bad pointers, struct sizes, flags and forged or stale
/// tickets refused with a message, nothing written.
#[test]
fn the_c_read_calls_publish_answer_and_refuse_bad_arguments() {
    use std::ptr::null_mut as null;
    use vyre::error::*;
    use vyre::ffi::engine::*;
    use vyre::ffi::engine_io::*;
    use vyre::ffi::megakernel::{VYRE_BACKEND_REFERENCE, VYRE_BACKEND_VULKAN};
    use vyre::ffi::pump::*;
    use vyre::ffi::pump_io::vyre_pump_register_path;
    use vyre::protocol::abi::VYRE_IO_SLOT_COUNT;

    let data = Rng(5).bytes(100_000, b"0123456789abcdef");
    let file = TempFile::new("c-reads", &data);
    for backend in [VYRE_BACKEND_REFERENCE, VYRE_BACKEND_VULKAN] {
        // SAFETY: every pointer passed is valid or a NULL the call must
        // refuse; handles are destroyed once, pump first; the arena range
        // read back lies inside the arena and its reads have completed.
        unsafe {
            let mut eo = std::mem::zeroed();
            assert_eq!(vyre_engine_options_init(&mut eo), VYRE_OK);
            eo = vyre_engine_options { backend, arena_bytes: ARENA, queue_depth: 64, ..eo };
            let mut engine = null();
            match vyre_engine_create(&eo, &mut engine) {
                VYRE_E_UNSUPPORTED if backend == VYRE_BACKEND_VULKAN => continue,
                status => assert_eq!(status, VYRE_OK, "{}", last_error()),
            }
            let mut po = std::mem::zeroed();
            assert_eq!(vyre_pump_options_init(&mut po), VYRE_OK);
            po = vyre_pump_options { arena_bytes: SHARE, chunk_bytes: 16 << 10, queue_depth: 32, ..po };
            let mut pump = null();
            assert_eq!(vyre_pump_create(engine, &po, &mut pump), VYRE_OK, "{}", last_error());
            let mut source = 0;
            assert_eq!(
                vyre_pump_register_path(pump, file.c_path().as_ptr(), SHARE, ARENA - SHARE, &mut source),
                VYRE_OK
            );

            let size = std::mem::size_of::<vyre_read_request>() as u32;
            let ask = |k: u32| vyre_read_request {
                struct_size: size,
                source,
                arena_offset: WINDOW + k * 4096,
                byte_count: 4096 - k,
                file_offset: u64::from(k) * 1500,
                tag: k,
                flags: 0,
            };
            let mut tickets = vec![vyre_read_ticket::default(); VYRE_IO_SLOT_COUNT as usize];
            for (k, ticket) in tickets.iter_mut().enumerate() {
                assert_eq!(vyre_engine_request_read(engine, &ask(k as u32), ticket), VYRE_OK, "{}", last_error());
            }
            let mut spare = vyre_read_ticket { slot: 7, generation: 7 };
            assert_eq!(vyre_engine_request_read(engine, &ask(0), &mut spare), VYRE_E_QUEUE_FULL);
            assert!(last_error().contains("IO slots"), "{}", last_error());
            let mut outcome = vyre_read_outcome { kind: 77, value: 77 };
            assert_eq!(
                vyre_engine_read_result(engine, &tickets[0], &mut outcome),
                VYRE_E_TIMEOUT,
                "nothing drained yet"
            );
            assert!(last_error().contains("vyre_pump_drain"), "{}", last_error());
            assert_eq!(
                (spare, outcome),
                (vyre_read_ticket { slot: 7, generation: 7 }, vyre_read_outcome { kind: 77, value: 77 })
            );

            let answer = |ticket: &vyre_read_ticket| {
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut results = vec![PumpResult::default(); 4];
                let mut hits = vec![Hit::default(); 4096];
                loop {
                    let mut outcome = vyre_read_outcome::default();
                    match vyre_engine_read_result(engine, ticket, &mut outcome) {
                        VYRE_OK => return outcome,
                        VYRE_E_TIMEOUT => assert!(Instant::now() < deadline, "the read was never answered"),
                        status => panic!("read_result: {status}: {}", last_error()),
                    }
                    let mut n = 0;
                    let status =
                        vyre_pump_drain(pump, results.as_mut_ptr(), 4, hits.as_mut_ptr(), 4096, &mut n, null(), 1);
                    assert!(status == VYRE_OK || status == VYRE_E_TIMEOUT, "drain: {}", last_error());
                    assert_eq!(n, 0, "device reads make no pump results");
                }
            };
            let (mut base, mut len) = (null(), 0u64);
            assert_eq!(vyre_engine_arena(engine, &mut base, &mut len), VYRE_OK);
            for (k, ticket) in tickets.iter().enumerate() {
                let (start, count) = (k * 1500, 4096 - k);
                let expected = &data[start.min(data.len())..(start + count).min(data.len())];
                let outcome = answer(ticket);
                assert_eq!(
                    outcome,
                    vyre_read_outcome { kind: VYRE_READ_DONE, value: expected.len() as u32 },
                    "read {k}"
                );
                let landed = std::slice::from_raw_parts(base.add(WINDOW as usize + k * 4096), expected.len());
                assert!(landed == expected, "bytes of read {k}");
            }
            assert_eq!(answer(&tickets[0]).kind, VYRE_READ_DONE, "asking again answers the same");
            let mut unknown = vyre_read_ticket::default();
            assert_eq!(
                vyre_engine_request_read(engine, &vyre_read_request { source: 99, ..ask(0) }, &mut unknown),
                VYRE_OK
            );
            assert_eq!(answer(&unknown), vyre_read_outcome { kind: VYRE_READ_ERRNO, value: libc::EBADF as u32 });

            let mut ticket = vyre_read_ticket { slot: 7, generation: 7 };
            let refused = [
                (vyre_engine_request_read(null(), &ask(0), &mut ticket), VYRE_E_NULL_POINTER, "engine"),
                (vyre_engine_request_read(engine, std::ptr::null(), &mut ticket), VYRE_E_NULL_POINTER, "req"),
                (vyre_engine_request_read(engine, &ask(0), null()), VYRE_E_NULL_POINTER, "out_ticket"),
                (
                    vyre_engine_request_read(engine, &vyre_read_request { struct_size: 0, ..ask(0) }, &mut ticket),
                    VYRE_E_INVALID_ARGUMENT,
                    "struct_size",
                ),
                (
                    vyre_engine_request_read(
                        engine,
                        &vyre_read_request { struct_size: size - 4, ..ask(0) },
                        &mut ticket,
                    ),
                    VYRE_E_INVALID_ARGUMENT,
                    "struct_size",
                ),
                (
                    vyre_engine_request_read(engine, &vyre_read_request { flags: 1, ..ask(0) }, &mut ticket),
                    VYRE_E_INVALID_ARGUMENT,
                    "flags",
                ),
            ];
            for (got, expected, named) in refused {
                assert_eq!(got, expected, "{named}: {}", last_error());
            }
            assert_eq!(ticket, vyre_read_ticket { slot: 7, generation: 7 }, "nothing written on failure");
            let last = tickets[VYRE_IO_SLOT_COUNT as usize - 1];
            let forged = [
                (null(), tickets[0], VYRE_E_NULL_POINTER, "engine"),
                (engine, vyre_read_ticket { slot: u32::MAX, ..last }, VYRE_E_OUT_OF_RANGE, "slot"),
                (
                    engine,
                    vyre_read_ticket { generation: last.generation + 1, ..last },
                    VYRE_E_TICKET_EXPIRED,
                    "moved on",
                ),
                // A ring slot never published: opcode 0.
                (
                    engine,
                    vyre_read_ticket { slot: unknown.slot + 100, generation: 0 },
                    VYRE_E_INVALID_ARGUMENT,
                    "not an IO_READ",
                ),
            ];
            let mut outcome = vyre_read_outcome { kind: 77, value: 77 };
            for (handle, forged, expected, named) in forged {
                assert_eq!(vyre_engine_read_result(handle, &forged, &mut outcome), expected, "{forged:?}");
                assert!(last_error().contains(named), "{forged:?}: {}", last_error());
            }
            assert_eq!(vyre_engine_read_result(engine, std::ptr::null(), &mut outcome), VYRE_E_NULL_POINTER);
            assert!(last_error().contains("ticket"), "{}", last_error());
            assert_eq!(vyre_engine_read_result(engine, &last, null()), VYRE_E_NULL_POINTER);
            assert!(last_error().contains("`out`"), "{}", last_error());
            assert_eq!(outcome, vyre_read_outcome { kind: 77, value: 77 }, "nothing written on failure");
            vyre_pump_destroy(pump);
            vyre_engine_destroy(engine);
        }
    }
}

/// A request published while pump A served the engine and still unclaimed
/// when A is destroyed names A's source; the next pump B must answer it
/// EBADF, never serve it from B's own file (source ids are unique over the
/// engine's life, so B's first source does not take A's id).
#[test]
fn a_request_left_by_a_destroyed_pump_is_never_served_from_the_next_pumps_file() {
    let x = TempFile::new("stale-x", &[b'X'; 4096]);
    let y = TempFile::new("stale-y", &[b'Y'; 4096]);
    for engine in engines(engine_options()) {
        let (ticket, source_x) = {
            let mut a = Pump::create(&engine, &pump_options()).unwrap();
            let source_x = a.register_path(&x.c_path(), SHARE, 4096).unwrap();
            let read = ReadRequest { source: source_x, arena_offset: WINDOW, file_offset: 0, byte_count: 16, tag: 1 };
            let ticket = request(&engine, &mut a, read);
            // A never drains again: the request stays REQUESTED past its destroy.
            (ticket, source_x)
        };
        let mut b = Pump::create(&engine, &pump_options()).unwrap();
        let source_y = b.register_path(&y.c_path(), SHARE, 4096).unwrap();
        assert_ne!(source_y, source_x, "a source id is never handed out twice by one engine");
        let mut results = Vec::new();
        let outcome = wait_read(&engine, &mut b, &ticket, &mut results);
        assert_eq!(outcome, ReadOutcome::Errno(libc::EBADF as u32), "on {:?}", engine.info().backend);
        assert!(arena_bytes(&engine, WINDOW, 16).iter().all(|&b| b != b'Y'), "B's file landed for A's request");
    }
}
