//! The pump against the CPU oracle (`RuleSet::matches`), on both backends:
//! every byte it reads (a rule set with one pattern per byte value turns
//! each byte into a hit) and every match of every file, split into chunks
//! or not, from regular files, pipes and FIFOs, with errors injected among
//! good requests, and 20 000 small files.

mod common;

use common::{engines, oracle, Rng, LONG};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;
use vyre::backend::BackendChoice;
use vyre::engine::{Engine, EngineOptions, Hit, WorkItem};
use vyre::error::ErrorKind;
use vyre::pump::{
    IngestPath, Pump, PumpOptions, PumpResult, VYRE_PUMP_RESULT_DIRECT, VYRE_PUMP_RESULT_LAST, VYRE_PUMP_TO_EOF,
};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

fn engine_options() -> EngineOptions {
    EngineOptions { queue_depth: 256, max_hits_per_job: 8192, arena_bytes: 4 << 20, ..EngineOptions::default() }
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vyre-pump-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pipe: (read end, write end). (std::io::pipe is newer than the crate's rust-version.)
fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned by nothing else.
    unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
}

/// A descriptor number no open can return: `i32::MAX` is above the kernel's
/// largest descriptor table (fs.nr_open). (A number merely closed can be
/// reused at once by another thread; on the GPU machine the NVIDIA driver's
/// own descriptors took it, and reading one through io_uring stole the
/// driver's events and hung every engine of the process. RLIMIT_NOFILE is no
/// safe choice either: valgrind keeps its own descriptors just above the
/// limit it reports.)
const NEVER_OPEN_FD: i32 = i32::MAX;

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// The bytes the test files are made of.
const ALPHABET: &[u8] = b"abc \n\x00\xff";

/// One pattern per byte of `ALPHABET`: every byte of a file is a hit whose
/// pattern is the byte, so the hits spell the bytes the pump read.
fn every_byte() -> RuleSet {
    let patterns: Vec<Pattern> = ALPHABET.iter().map(|&b| Pattern::literal(vec![b])).collect();
    RuleSet::compile(&patterns, &CompileOptions::default()).unwrap()
}

/// Literals and regexes whose look-around (`\b`, `^`, `$`) sees across
/// chunk boundaries.
fn mixed_rules() -> RuleSet {
    let patterns = [
        Pattern::literal("abcab"),
        Pattern::literal("ba"),
        Pattern::literal("c"),
        Pattern::regex(r"\bab[a-c]{0,6}\b"),
        Pattern::regex(r"^[abc]{3}"),
        Pattern::regex(r"[abc]{3}$"),
    ];
    RuleSet::compile(&patterns, &CompileOptions::default()).unwrap()
}

/// Patterns with few matches in text of `b"abc \n"` (a few hundred per
/// 512 KiB), some looking across chunk boundaries.
fn sparse_rules() -> RuleSet {
    let patterns = [
        Pattern::literal("abcab"),
        Pattern::regex(r"\bcab[a-c]{0,3}\b"),
        Pattern::regex(r"^[abc]{3}"),
        Pattern::regex(r"[abc]{3}$"),
        Pattern::regex(r"(?m)^ab{2}c"),
    ];
    RuleSet::compile(&patterns, &CompileOptions::default()).unwrap()
}

/// What a request ended with: its results (in arrival order) and matches.
#[derive(Default, Debug)]
struct Outcome {
    results: Vec<PumpResult>,
    /// (end, pattern), sorted.
    matches: Vec<(u64, u32)>,
}

impl Outcome {
    fn last(&self) -> &PumpResult {
        self.results.last().unwrap()
    }
    /// The final status: the last result's.
    fn status(&self) -> i32 {
        self.last().status
    }
    /// The chunk results' owned ranges, which must tile `[start, end)`; returns `end`.
    fn covered(&self, start: u64) -> u64 {
        let mut ranges: Vec<(u64, u64)> =
            self.results.iter().filter(|r| r.status == 0).map(|r| (r.file_offset, r.length)).collect();
        ranges.sort_unstable();
        let mut at = start;
        for (offset, length) in ranges {
            assert_eq!(offset, at, "the chunks' ranges must tile the file: {:?}", self.results);
            at += length;
        }
        at
    }
}

/// Drain until at least `pending` requests have their last result; returns
/// how many did.
fn drain_all(pump: &mut Pump, pending: usize, outcomes: &mut BTreeMap<u64, Outcome>) -> usize {
    let mut results = vec![PumpResult::default(); 64];
    let mut hits = vec![Hit::default(); 16384];
    let mut finished = 0;
    while finished < pending {
        let (n, stored) = pump.drain(&mut results, &mut hits, LONG).unwrap();
        assert!(n > 0, "drain returned nothing with {} requests pending", pending - finished);
        for r in &results[..n] {
            let outcome = outcomes.entry(r.user_data).or_default();
            assert!(
                outcome.results.last().map_or(true, |l| l.flags & VYRE_PUMP_RESULT_LAST == 0),
                "a result after the last"
            );
            assert!((r.first_hit + u64::from(r.hits_stored)) as usize <= stored);
            for h in &hits[r.first_hit as usize..(r.first_hit + u64::from(r.hits_stored)) as usize] {
                assert_eq!((h.user_data, h.reserved), (r.user_data, 0));
                assert!(
                    h.end_offset > r.file_offset && h.end_offset <= r.file_offset + r.length,
                    "{h:?} outside {r:?}"
                );
                outcome.matches.push((h.end_offset, h.pattern_id));
            }
            if r.flags & VYRE_PUMP_RESULT_LAST != 0 {
                outcome.matches.sort_unstable();
                finished += 1;
            }
            outcome.results.push(*r);
        }
    }
    finished
}

/// Submit with `submit`, draining while the pump says it is full.
fn submit_retrying(
    pump: &mut Pump,
    outcomes: &mut BTreeMap<u64, Outcome>,
    pending: &mut usize,
    mut submit: impl FnMut(&mut Pump) -> vyre::error::Result<()>,
) {
    loop {
        match submit(pump) {
            Ok(()) => {
                *pending += 1;
                return;
            }
            Err(e) if e.kind == ErrorKind::QueueFull => {
                *pending -= drain_all(pump, 1, outcomes);
            }
            Err(e) => panic!("submit: {e}"),
        }
    }
}

fn every_byte_of(bytes: &[u8]) -> Vec<(u64, u32)> {
    let pattern = |b: u8| ALPHABET.iter().position(|&a| a == b).expect("test bytes come from ALPHABET") as u32;
    bytes.iter().enumerate().map(|(i, &b)| (i as u64 + 1, pattern(b))).collect()
}

fn small_chunks(chunk_bytes: u64, path: IngestPath) -> PumpOptions {
    PumpOptions { path, chunk_bytes, queue_depth: 16, arena_bytes: 64 << 10, ..PumpOptions::default() }
}

/// Both ingest paths: every test of the pump's behaviour runs on each.
const PATHS: [IngestPath; 2] = [IngestPath::Direct, IngestPath::Staged];

/// Each of `engines` with each of `paths`, one pump at a time.
fn with_paths(engines: Vec<Engine>, paths: &[IngestPath]) -> impl Iterator<Item = (Rc<Engine>, IngestPath)> + '_ {
    engines.into_iter().map(Rc::new).flat_map(move |engine| paths.iter().map(move |&path| (Rc::clone(&engine), path)))
}

#[test]
fn files_of_mixed_sizes_straddling_chunks_match_byte_for_byte() {
    mixed_sizes_with(&PATHS, false);
}

/// The same with a kernel thread submitting the reads (and opening the
/// files submitted by path), where the kernel allows one.
#[test]
fn a_sqpoll_pump_matches_byte_for_byte_too() {
    if sqpoll_allowed() {
        mixed_sizes_with(&[IngestPath::Direct], true);
    }
}

/// Whether this kernel lets the test create a SQPOLL pump (it says so when not).
fn sqpoll_allowed() -> bool {
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let probe = Pump::create(&engine, &PumpOptions { sqpoll: true, ..small_chunks(4096, IngestPath::Direct) });
    let allowed = match &probe {
        Ok(pump) => {
            assert!(pump.info().sqpoll, "the pump reports its kernel thread");
            true
        }
        Err(e) if e.kind == ErrorKind::Unsupported => {
            eprintln!("SQPOLL refused here, not tested: {e}");
            false
        }
        Err(e) => panic!("{e}"),
    };
    drop(probe);
    allowed
}

/// Write `file` back, then drop `len` bytes of it from `offset` on out of
/// the page cache (`len` 0 would mean to the end of the file to fadvise).
fn drop_from_page_cache(file: &std::fs::File, offset: usize, len: usize) {
    assert!(len > 0, "no bytes to drop");
    // Written back first: the kernel keeps dirty pages.
    file.sync_all().unwrap();
    // SAFETY: fadvise on an open descriptor; no memory is involved.
    let failed = unsafe { libc::posix_fadvise(file.as_raw_fd(), offset as i64, len as i64, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(failed, 0, "posix_fadvise(DONTNEED)");
}

/// A SQPOLL pump shares large reads of cached pages with the caller's
/// thread (every second one: `Pump::read_here`). Files of several chunks,
/// wholly cached, partly cached (the caller's read stops at the first page
/// not cached, or finds none, and the ring reads the rest) and not cached,
/// match the CPU byte for byte, and the caller did read some bytes itself.
#[test]
fn a_sqpoll_pump_shares_large_reads_with_the_callers_thread() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-shared");
    let mut rng = Rng(41);
    let files: Vec<(PathBuf, Vec<u8>)> = (0..3)
        .map(|i| {
            let bytes = rng.bytes((3 << 20) + i * 77_777, b"abc \n");
            let path = dir.file(&format!("f{i}"), &bytes);
            let file = std::fs::File::open(&path).unwrap();
            // File 0 stays cached; file 1 loses every other 384 KiB; file 2 all of it.
            match i {
                1 => (0..bytes.len()).step_by(768 << 10).for_each(|at| drop_from_page_cache(&file, at, 384 << 10)),
                2 => drop_from_page_cache(&file, 0, bytes.len()),
                _ => {}
            }
            (path, bytes)
        })
        .collect();
    let rs = sparse_rules();
    let options = EngineOptions { arena_bytes: 8 << 20, ..engine_options() };
    for engine in engines(options) {
        let id = engine.load_rule_set(&rs).unwrap();
        let pump_options =
            PumpOptions { sqpoll: true, chunk_bytes: 512 << 10, queue_depth: 8, ..PumpOptions::default() };
        let mut pump = Pump::create(&engine, &pump_options).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        for (i, (path, _)) in files.iter().enumerate() {
            let path = c_path(path);
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, i as u64)
            });
        }
        drain_all(&mut pump, pending, &mut outcomes);
        let backend = engine.info().backend;
        for (i, (_, bytes)) in files.iter().enumerate() {
            let outcome = &outcomes[&(i as u64)];
            assert_eq!(outcome.status(), 0, "file {i} on {backend:?}");
            assert_eq!(outcome.covered(0), bytes.len() as u64, "file {i} on {backend:?}");
            assert!(
                outcome.matches == oracle(&rs, bytes),
                "file {i} on {backend:?}: the matches differ from the CPU's"
            );
        }
        let info = pump.info();
        let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        assert!(
            info.caller_read_bytes > 0 && info.caller_read_bytes < total,
            "the caller's thread read {} of {total} bytes on {backend:?}",
            info.caller_read_bytes
        );
    }
}

/// A descriptor opened with O_DIRECT is left to the ring (found in review:
/// there RWF_NOWAIT reads the disk, so the caller's thread waited on it).
/// A warm file takes the ring's turn, then the O_DIRECT file, dropped from
/// the page cache, would have been the caller's: the caller reads nothing.
#[test]
fn a_sqpoll_pump_leaves_o_direct_descriptors_to_the_ring() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-odirect");
    let warm = Rng(4).bytes(1 << 20, b"abc \n");
    let warm_file = std::fs::File::open(dir.file("warm", &warm)).unwrap();
    let cold = Rng(5).bytes(1 << 20, b"abc \n");
    let cold_path = dir.file("cold", &cold);
    drop_from_page_cache(&std::fs::File::open(&cold_path).unwrap(), 0, cold.len());
    let path = c_path(&cold_path);
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let direct = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECT | libc::O_CLOEXEC) };
    if direct < 0 {
        eprintln!("O_DIRECT refused here, not tested: {}", std::io::Error::last_os_error());
        return;
    }
    // SAFETY: `direct` was just opened and is owned here alone.
    let direct = unsafe { std::fs::File::from_raw_fd(direct) };
    let rs = sparse_rules();
    // One read of each file, at offset 0 into the start of the arena: a
    // Vulkan engine's arena is aligned as O_DIRECT needs.
    let options = EngineOptions { arena_bytes: 8 << 20, ..engine_options() };
    let Some(engine) = engines(options).into_iter().find(|e| e.info().backend == BackendChoice::Vulkan) else {
        return;
    };
    let id = engine.load_rule_set(&rs).unwrap();
    let pump_options = PumpOptions { sqpoll: true, chunk_bytes: 2 << 20, queue_depth: 8, ..PumpOptions::default() };
    let mut pump = Pump::create(&engine, &pump_options).unwrap();
    let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
    for (i, fd) in [warm_file.as_raw_fd(), direct.as_raw_fd()].into_iter().enumerate() {
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| p.submit_fd(fd, 0, VYRE_PUMP_TO_EOF, id, i as u64));
    }
    drain_all(&mut pump, pending, &mut outcomes);
    assert_eq!(outcomes[&0].status(), 0);
    assert!(outcomes[&0].matches == oracle(&rs, &warm), "the warm file's matches differ from the CPU's");
    // Direct I/O into a GPU's BAR fails (EFAULT on an H200: the kernel
    // cannot pin device memory); into lavapipe's host memory it works.
    let direct_outcome = &outcomes[&1];
    match direct_outcome.status() {
        0 => assert!(direct_outcome.matches == oracle(&rs, &cold), "the O_DIRECT file's matches differ"),
        status => assert_eq!(status, -libc::EFAULT, "{:?}", direct_outcome.results),
    }
    assert_eq!(pump.info().caller_read_bytes, 0, "the caller's thread read a file by itself");
}

/// Destroy right after submits whose first reads the caller's thread did
/// inside the submit calls: those are over, and destroy must not wait for
/// ring completions that will never come for them.
#[test]
fn a_sqpoll_pump_destroyed_right_after_the_callers_own_reads() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-destroy-own");
    let files: Vec<std::fs::File> = (0..2)
        .map(|i| std::fs::File::open(dir.file(&format!("f{i}"), &Rng(9 + i).bytes(600 << 10, b"abc \n"))).unwrap())
        .collect();
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&sparse_rules()).unwrap();
    let options = PumpOptions { sqpoll: true, chunk_bytes: 512 << 10, queue_depth: 8, ..PumpOptions::default() };
    let mut pump = Pump::create(&engine, &options).unwrap();
    for (i, file) in files.iter().enumerate() {
        pump.submit_fd(file.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, i as u64).unwrap();
    }
    assert!(pump.info().caller_read_bytes > 0, "the second submit's read was the caller's: {:?}", pump.info());
    drop(pump);
}

/// Destroy right after a submit, with a queue of one entry: the kernel
/// thread may not have taken the read yet, so the cancel finds the queue
/// full; destroy must wait for room and send it, not drop it and wait for a
/// read that never ends (found in review: it hung).
#[test]
fn a_sqpoll_pump_destroyed_right_after_a_submit_returns() {
    if !sqpoll_allowed() {
        return;
    }
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&mixed_rules()).unwrap();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(LONG).is_err() {
            eprintln!("a SQPOLL pump's destroy hung");
            std::process::abort();
        }
    });
    for _ in 0..100 {
        let (reader, _writer) = pipe();
        let options = PumpOptions { queue_depth: 1, sqpoll: true, ..small_chunks(4096, IngestPath::Direct) };
        let mut pump = Pump::create(&engine, &options).unwrap();
        pump.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 0).unwrap();
        drop(pump);
    }
    done.send(()).unwrap();
    watchdog.join().unwrap();
}

/// A pipe's short reads are read again among thousands of small files whose
/// closes also go through a SQPOLL ring of two reads: a re-read must wait
/// for room, not fail its request with QUEUE_FULL (found in review: it did,
/// in 2 runs of about 12).
#[test]
fn a_sqpoll_pump_rereads_a_pipe_among_many_closes() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-reread");
    let rs = mixed_rules();
    let small = Rng(41).bytes(40, b"abc ");
    let paths: Vec<CString> = (0..1500).map(|i| c_path(&dir.file(&format!("{i}"), &small))).collect();
    let stream = Rng(42).bytes(8000, b"abc \n");
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&rs).unwrap();
    for _ in 0..2 {
        let options = PumpOptions { queue_depth: 2, sqpoll: true, ..small_chunks(4096, IngestPath::Direct) };
        let mut pump = Pump::create(&engine, &options).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        let (reader, mut writer) = pipe();
        let bytes = stream.clone();
        let feeder = std::thread::spawn(move || {
            for piece in bytes.chunks(4) {
                writer.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_micros(50));
            }
        });
        let pipe_tag = paths.len() as u64;
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, pipe_tag)
        });
        for (i, path) in paths.iter().enumerate() {
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(path, 0, VYRE_PUMP_TO_EOF, id, i as u64)
            });
        }
        drain_all(&mut pump, pending, &mut outcomes);
        feeder.join().unwrap();
        assert_eq!(outcomes[&pipe_tag].status(), 0, "the pipe's request");
        assert_eq!(outcomes[&pipe_tag].matches, oracle(&rs, &stream));
        assert!(outcomes.values().all(|o| o.status() == 0));
        drop(pump);
        assert_eq!(open_fds_under(&dir.0), 0);
    }
}

/// A SQPOLL pump holds no more files open than `queue_depth` allows: an
/// open that completes without room for its first chunk still counts
/// (found in review: 313 files were open at once with a queue of 16, and
/// files failed with EMFILE under a low RLIMIT_NOFILE).
#[test]
fn a_sqpoll_pump_keeps_few_files_open_while_its_share_is_full() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-fds");
    let bytes = Rng(51).bytes(4000, b"abc ");
    let paths: Vec<CString> = (0..600).map(|i| c_path(&dir.file(&format!("{i}"), &bytes))).collect();
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&mixed_rules()).unwrap();
    let queue_depth = 16;
    let options = PumpOptions { queue_depth, sqpoll: true, ..small_chunks(4096, IngestPath::Direct) };
    let mut pump = Pump::create(&engine, &options).unwrap();
    let (mut outcomes, mut pending, mut most_open) = (BTreeMap::new(), 0, 0);
    for (i, path) in paths.iter().enumerate() {
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_path(path, 0, VYRE_PUMP_TO_EOF, id, i as u64)
        });
        most_open = most_open.max(open_fds_under(&dir.0));
    }
    drain_all(&mut pump, pending, &mut outcomes);
    assert!(outcomes.values().all(|o| o.status() == 0));
    // Files being read, opened and waiting for room, and ended ones whose
    // closes are queued (at most queue_depth of each).
    assert!(most_open <= 3 * queue_depth as usize, "{most_open} files open at once with queue_depth {queue_depth}");
}

/// A SQPOLL pump opens files in the ring: a failed open is its request's
/// result, a FIFO waits for its writer (it is not read as empty), and
/// destroy cancels what waits for one and leaves no file open.
#[test]
fn a_sqpoll_pump_opens_in_the_ring() {
    if !sqpoll_allowed() {
        return;
    }
    let dir = TempDir::new("sqpoll-open");
    let bytes = Rng(31).bytes(5000, b"abc \n");
    let file = c_path(&dir.file("plain", &bytes));
    let fifo = dir.0.join("fifo");
    // SAFETY: the path is a valid NUL-terminated string.
    assert_eq!(unsafe { libc::mkfifo(c_path(&fifo).as_ptr(), 0o600) }, 0);
    let rs = mixed_rules();
    for engine in engines(engine_options()) {
        let id = engine.load_rule_set(&rs).unwrap();
        let options = PumpOptions { sqpoll: true, ..small_chunks(4096, IngestPath::Direct) };
        let mut pump = Pump::create(&engine, &options).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        let missing = c_path(&dir.0.join("missing"));
        for (ud, path) in [(0, &missing), (1, &c_path(&dir.0)), (2, &file), (3, &c_path(&fifo))] {
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(path, 0, VYRE_PUMP_TO_EOF, id, ud)
            });
        }
        // The FIFO waits for a writer (its open, or, where the kernel opens it
        // at once, its first read); everything else ends.
        pending -= drain_all(&mut pump, 3, &mut outcomes);
        assert_eq!(outcomes[&0].status(), -libc::ENOENT);
        assert_eq!(outcomes[&1].status(), -libc::EISDIR);
        assert_eq!((outcomes[&2].status(), &outcomes[&2].matches), (0, &oracle(&rs, &bytes)));
        assert!(!outcomes.contains_key(&3), "the FIFO has no writer yet");
        let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        writer.write_all(&bytes).unwrap();
        drop(writer);
        drain_all(&mut pump, pending, &mut outcomes);
        assert_eq!((outcomes[&3].status(), &outcomes[&3].matches), (0, &oracle(&rs, &bytes)));
        // A FIFO with no writer again: destroy cancels what waits for one.
        pump.submit_path(&c_path(&fifo), 0, VYRE_PUMP_TO_EOF, id, 4).unwrap();
        assert_eq!(pump.info().requests, 1);
        drop(pump);
        assert_eq!(open_fds_under(&dir.0), 0, "files left open on {:?}", engine.info().backend);
    }
}

fn mixed_sizes_with(paths: &[IngestPath], sqpoll: bool) {
    let dir = TempDir::new(if sqpoll { "mixed-sqpoll" } else { "mixed" });
    let mut rng = Rng(7);
    let sizes = [0usize, 1, 63, 64, 65, 1000, 4096, 4097, 10_000, 65_537, 200_000];
    let files: Vec<(PathBuf, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let bytes = rng.bytes(len, ALPHABET);
            (dir.file(&format!("f{i}"), &bytes), bytes)
        })
        .collect();
    for (rs, name) in [(every_byte(), "every byte"), (mixed_rules(), "mixed rules")] {
        for (engine, ingest) in with_paths(engines(engine_options()), paths) {
            let id = engine.load_rule_set(&rs).unwrap();
            let mut pump = Pump::create(&engine, &PumpOptions { sqpoll, ..small_chunks(4096, ingest) }).unwrap();
            assert_eq!(pump.info().sqpoll, sqpoll);
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let handles: Vec<std::fs::File> = files.iter().map(|(p, _)| std::fs::File::open(p).unwrap()).collect();
            for (i, file) in handles.iter().enumerate() {
                // Half by fd, half by path; all to EOF.
                submit_retrying(&mut pump, &mut outcomes, &mut pending, |pump| {
                    if i % 2 == 0 {
                        pump.submit_fd(file.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, i as u64)
                    } else {
                        pump.submit_path(&c_path(&files[i].0), 0, VYRE_PUMP_TO_EOF, id, i as u64)
                    }
                });
            }
            drain_all(&mut pump, pending, &mut outcomes);
            for (i, (_, bytes)) in files.iter().enumerate() {
                let outcome = &outcomes[&(i as u64)];
                let backend = engine.info().backend;
                assert_eq!(outcome.status(), 0, "{name}: file {i} on {backend:?}");
                assert_eq!(outcome.covered(0), bytes.len() as u64, "{name}: file {i} on {backend:?}");
                let expected = if name == "every byte" { every_byte_of(bytes) } else { oracle(&rs, bytes) };
                assert_eq!(outcome.matches, expected, "{name}: file {i} ({} bytes) on {backend:?}", bytes.len());
            }
            assert_eq!(pump.info().requests, 0);
            // Every file the pump opened is closed by the time it is
            // destroyed (closes go through the ring).
            drop((pump, handles));
            assert_eq!(open_fds_under(&dir.0), 0, "files left open on {:?}", engine.info().backend);
        }
    }
}

/// The process's file descriptors open on a file under `dir`.
fn open_fds_under(dir: &Path) -> usize {
    // The links name real paths: compare with the directory's own.
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[test]
fn a_range_of_a_file_is_scanned_as_if_it_were_the_whole_input() {
    let dir = TempDir::new("range");
    let bytes = Rng(3).bytes(50_000, b"abc ");
    let path = dir.file("f", &bytes);
    let rs = mixed_rules();
    for (engine, ingest) in with_paths(engines(engine_options()), &PATHS) {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut pump = Pump::create(&engine, &small_chunks(1024, ingest)).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        // [1000, 31000), [49000, EOF), and a length past the end of the file.
        for (ud, (offset, length)) in
            [(1000u64, 30_000u64), (49_000, VYRE_PUMP_TO_EOF), (45_000, 1 << 40)].into_iter().enumerate()
        {
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |pump| {
                pump.submit_path(&c_path(&path), offset, length, id, ud as u64)
            });
            drain_all(&mut pump, pending, &mut outcomes);
            pending = 0;
            let end = offset.saturating_add(length).min(bytes.len() as u64);
            let outcome = &outcomes[&(ud as u64)];
            assert_eq!(outcome.status(), 0);
            assert_eq!(outcome.covered(offset), end);
            let expected: Vec<(u64, u32)> =
                oracle(&rs, &bytes[offset as usize..end as usize]).into_iter().map(|(e, p)| (e + offset, p)).collect();
            assert_eq!(outcome.matches, expected, "[{offset}, {end}) on {:?}", engine.info().backend);
        }
    }
}

/// A pipe fed in small pieces by a thread: every read is short, and the
/// regular files submitted after it finish first.
#[test]
fn pipes_and_fifos_are_read_through_short_reads_while_files_finish_first() {
    let dir = TempDir::new("pipes");
    let stream = Rng(11).bytes(30_000, b"abc \n");
    let file_bytes = Rng(12).bytes(3000, b"abc \n");
    let file = dir.file("plain", &file_bytes);
    let fifo = dir.0.join("fifo");
    let fifo_c = c_path(&fifo);
    // SAFETY: fifo_c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
    for rs in [every_byte(), mixed_rules()] {
        for (engine, ingest) in with_paths(engines(engine_options()), &PATHS) {
            let id = engine.load_rule_set(&rs).unwrap();
            let mut pump = Pump::create(&engine, &small_chunks(2048, ingest)).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let (reader, writer) = pipe();
            let reader_fd = reader.into_raw_fd();
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_fd(reader_fd, 0, VYRE_PUMP_TO_EOF, id, 0)
            });
            // The FIFO is opened by path before any writer exists.
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(&fifo_c, 0, VYRE_PUMP_TO_EOF, id, 1)
            });
            let fifo_writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            for ud in 2..6 {
                submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                    p.submit_path(&c_path(&file), 0, VYRE_PUMP_TO_EOF, id, ud)
                });
            }
            // The files finish while the streams have not sent a byte yet.
            pending -= drain_all(&mut pump, 4, &mut outcomes);
            assert!(!outcomes.contains_key(&0) && !outcomes.contains_key(&1), "the streams cannot have finished");
            let feed = |mut out: Box<dyn Write + Send>, bytes: Vec<u8>| {
                std::thread::spawn(move || {
                    for piece in bytes.chunks(777) {
                        out.write_all(piece).unwrap();
                        std::thread::sleep(Duration::from_micros(200));
                    }
                })
            };
            let feeders = [feed(Box::new(writer), stream.clone()), feed(Box::new(fifo_writer), stream.clone())];
            drain_all(&mut pump, pending, &mut outcomes);
            feeders.into_iter().for_each(|f| f.join().unwrap());
            // SAFETY: the pump does not close fds it was given; the request is over.
            unsafe { libc::close(reader_fd) };
            let every = rs.pattern_count() as usize == ALPHABET.len();
            for ud in 0..6u64 {
                let bytes = if ud < 2 { &stream } else { &file_bytes };
                let outcome = &outcomes[&ud];
                assert_eq!(outcome.status(), 0, "request {ud}");
                assert_eq!(outcome.covered(0), bytes.len() as u64, "request {ud}");
                let expected = if every { every_byte_of(bytes) } else { oracle(&rs, bytes) };
                assert_eq!(outcome.matches, expected, "request {ud} on {:?}", engine.info().backend);
            }
        }
    }
}

/// One way of submitting a request.
type Submit<'a> = dyn Fn(&mut Pump) -> vyre::error::Result<()> + 'a;

/// Every failure ends its own request with its own status and offset; the
/// good requests around them are unaffected.
#[test]
fn injected_errors_end_only_their_own_request() {
    let dir = TempDir::new("errors");
    let good = Rng(5).bytes(20_000, b"abc ");
    let good_path = dir.file("good", &good);
    let big = Rng(6).bytes(64 * 1024, b"abc ");
    let big_path = dir.file("big", &big);
    let rs = every_byte();
    for (engine, ingest) in with_paths(engines(engine_options()), &PATHS) {
        let id = engine.load_rule_set(&rs).unwrap();
        // One read in flight at a time, so the truncation below lands
        // while the big file is being read.
        let mut pump =
            Pump::create(&engine, &PumpOptions { chunk_bytes: 4096, queue_depth: 1, ..small_chunks(0, ingest) })
                .unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        let good_file = std::fs::File::open(&good_path).unwrap();
        let closed = NEVER_OPEN_FD;
        let directory = std::fs::File::open(&dir.0).unwrap();
        let big_file = std::fs::OpenOptions::new().read(true).write(true).open(&big_path).unwrap();
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_fd(big_file.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 0)
        });
        big_file.set_len(10_000).unwrap();
        let missing = c_path(&dir.0.join("missing"));
        let cases: [&Submit; 5] = [
            &|p| p.submit_fd(closed, 0, VYRE_PUMP_TO_EOF, id, 1),
            &|p| p.submit_fd(directory.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 2),
            &|p| p.submit_path(&missing, 0, VYRE_PUMP_TO_EOF, id, 3),
            &|p| p.submit_path(&c_path(&dir.0), 0, VYRE_PUMP_TO_EOF, id, 4),
            &|p| p.submit_fd(good_file.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 5),
        ];
        for submit in cases {
            submit_retrying(&mut pump, &mut outcomes, &mut pending, submit);
        }
        drain_all(&mut pump, pending, &mut outcomes);
        let backend = engine.info().backend;
        let truncated = &outcomes[&0];
        assert_eq!(truncated.status(), -libc::ENODATA, "the shrunk file on {backend:?}: {:?}", truncated.results);
        let end = truncated.covered(0);
        assert!(end <= 10_000 && truncated.last().file_offset <= 10_000, "{:?}", truncated.results);
        assert_eq!(truncated.matches, every_byte_of(&big[..end as usize]), "the bytes before the cut");
        for (ud, errno) in [(1, libc::EBADF), (2, libc::EISDIR), (3, libc::ENOENT), (4, libc::EISDIR)] {
            let outcome = &outcomes[&ud];
            assert_eq!((outcome.status(), outcome.results.len()), (-errno, 1), "request {ud} on {backend:?}");
            assert_eq!(outcome.last().file_offset, 0);
        }
        assert_eq!(outcomes[&5].status(), 0);
        assert_eq!(outcomes[&5].matches, every_byte_of(&good));
        big_file.set_len(big.len() as u64).unwrap();
        std::fs::write(&big_path, &big).unwrap();
    }
}

#[test]
fn arguments_the_pump_cannot_serve_are_refused_by_the_call() {
    PATHS.into_iter().for_each(refused_on);
}

fn refused_on(ingest: IngestPath) {
    let dir = TempDir::new("refused");
    let path = dir.file("f", &[b'a'; 10_000]);
    let bounded = mixed_rules();
    let unbounded = RuleSet::compile(&[Pattern::regex("a.*b")], &CompileOptions::default()).unwrap();
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let (bounded, unbounded) = (engine.load_rule_set(&bounded).unwrap(), engine.load_rule_set(&unbounded).unwrap());
    for options in [
        PumpOptions { arena_offset: 4 << 20, ..PumpOptions::default() },
        PumpOptions { arena_offset: 1 << 20, arena_bytes: 4 << 20, ..PumpOptions::default() },
        PumpOptions { queue_depth: 5000, ..PumpOptions::default() },
        PumpOptions { chunk_bytes: 8, ..PumpOptions::default() },
        PumpOptions { chunk_bytes: 64 << 10, arena_bytes: 64 << 10, ..PumpOptions::default() },
    ] {
        assert!(Pump::create(&engine, &options).is_err(), "{options:?}");
    }
    let mut pump = Pump::create(&engine, &small_chunks(4096, ingest)).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let fd = file.as_raw_fd();
    assert_eq!(pump.submit_fd(-1, 0, 10, bounded, 0).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(pump.submit_fd(fd, 0, 10, 99, 0).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(pump.submit_fd(fd, 2, u64::MAX - 1, bounded, 0).unwrap_err().kind, ErrorKind::InvalidArgument);
    let err = pump.submit_fd(fd, 0, VYRE_PUMP_TO_EOF, unbounded, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfRange);
    assert!(err.message.contains("unbounded"), "{err:?}");
    let (reader, _writer) = pipe();
    assert_eq!(pump.submit_fd(reader.as_raw_fd(), 5, 10, bounded, 0).unwrap_err().kind, ErrorKind::InvalidArgument);
    // A non-blocking descriptor would make io_uring answer EAGAIN at once, again and again.
    let (nonblocking, _other_writer) = pipe();
    // SAFETY: F_SETFL on a descriptor this test owns.
    assert_eq!(unsafe { libc::fcntl(nonblocking.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) }, 0);
    let err = pump.submit_fd(nonblocking.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, bounded, 0).unwrap_err();
    assert!(err.kind == ErrorKind::InvalidArgument && err.message.contains("O_NONBLOCK"), "{err:?}");
    // One pump per engine: a second would take the first one's completions.
    let err = Pump::create(&engine, &small_chunks(4096, ingest)).err().expect("a second pump is refused");
    assert!(err.kind == ErrorKind::InvalidArgument && err.message.contains("already has a pump"), "{err:?}");
    assert_eq!(pump.info().requests, 0, "refused requests leave nothing behind");
    // A file that fits one chunk is fine with unbounded matches.
    let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
    submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| p.submit_fd(fd, 0, 4000, unbounded, 7));
    drain_all(&mut pump, pending, &mut outcomes);
    assert_eq!((outcomes[&7].status(), outcomes[&7].covered(0)), (0, 4000));
}

/// A stream longer than a chunk with unbounded matches cannot be split:
/// its request fails, and one that fits succeeds.
#[test]
fn unbounded_streams_longer_than_a_chunk_fail_with_their_own_status() {
    PATHS.into_iter().for_each(unbounded_on);
}

fn unbounded_on(ingest: IngestPath) {
    let rs = RuleSet::compile(&[Pattern::regex("a[^z]*b")], &CompileOptions::default()).unwrap();
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&rs).unwrap();
    let mut pump = Pump::create(&engine, &small_chunks(4096, ingest)).unwrap();
    let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
    let mut keep = Vec::new();
    for (ud, len) in [(0u64, 4096usize), (1, 4097)] {
        let (reader, mut writer) = pipe();
        let bytes: Vec<u8> = (0..len).map(|i| if i % 100 == 0 { b'a' } else { b'b' }).collect();
        std::thread::spawn(move || writer.write_all(&bytes).unwrap());
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, ud)
        });
        keep.push(reader);
    }
    drain_all(&mut pump, pending, &mut outcomes);
    assert_eq!(outcomes[&0].status(), 0);
    let bytes: Vec<u8> = (0..4096).map(|i| if i % 100 == 0 { b'a' } else { b'b' }).collect();
    assert_eq!(outcomes[&0].matches, oracle(&rs, &bytes));
    assert_eq!(outcomes[&1].status(), ErrorKind::OutOfRange.code());
}

#[test]
fn twenty_thousand_small_files_each_complete_once_with_the_oracles_matches() {
    let dir = TempDir::new("many");
    let mut rng = Rng(99);
    let count = 20_000;
    let contents: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let len = rng.below(200) as usize;
            rng.bytes(len, b"abc ")
        })
        .collect();
    let paths: Vec<CString> = contents.iter().enumerate().map(|(i, b)| c_path(&dir.file(&format!("{i}"), b))).collect();
    let rs = mixed_rules();
    for (engine, ingest) in
        with_paths(engines(EngineOptions { queue_depth: 1024, max_hits_per_job: 1024, ..engine_options() }), &PATHS)
    {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut pump = Pump::create(
            &engine,
            &PumpOptions { path: ingest, chunk_bytes: 4096, queue_depth: 256, ..PumpOptions::default() },
        )
        .unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        for (i, path) in paths.iter().enumerate() {
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(path, 0, VYRE_PUMP_TO_EOF, id, i as u64)
            });
        }
        drain_all(&mut pump, pending, &mut outcomes);
        assert_eq!(outcomes.len(), count);
        for (i, bytes) in contents.iter().enumerate() {
            let outcome = &outcomes[&(i as u64)];
            assert_eq!((outcome.status(), outcome.results.len()), (0, 1), "file {i}");
            assert_eq!(outcome.matches, oracle(&rs, bytes), "file {i} on {:?}", engine.info().backend);
        }
        // The last files' closes may still wait in the ring: destroy sends them.
        drop(pump);
        assert_eq!(open_fds_under(&dir.0), 0, "files left open on {:?}", engine.info().backend);
    }
}

/// The caller's own jobs, in the arena outside the pump's share, come back
/// through drain unchanged.
#[test]
fn direct_jobs_share_the_engine_and_come_back_through_drain() {
    let dir = TempDir::new("direct");
    let bytes = Rng(21).bytes(9000, b"abc ");
    let path = dir.file("f", &bytes);
    let rs = mixed_rules();
    for (engine, ingest) in with_paths(engines(engine_options()), &PATHS) {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut pump = Pump::create(
            &engine,
            &PumpOptions {
                path: ingest,
                arena_offset: 1 << 20,
                arena_bytes: 1 << 20,
                chunk_bytes: 2048,
                ..PumpOptions::default()
            },
        )
        .unwrap();
        engine.write(0, &bytes).unwrap();
        engine
            .enqueue(&WorkItem {
                input_offset: 0,
                input_len: bytes.len() as u64,
                rule_set_id: id,
                flags: 0,
                user_data: 42,
                ..Default::default()
            })
            .unwrap();
        pump.submit_path(&c_path(&path), 0, VYRE_PUMP_TO_EOF, id, 42).unwrap();
        let (mut direct, mut pumped) = (None, BTreeMap::new());
        let mut results = vec![PumpResult::default(); 8];
        let mut hits = vec![Hit::default(); 16384];
        while direct.is_none() || pump.info().requests > 0 {
            let (n, _) = pump.drain(&mut results, &mut hits, LONG).unwrap();
            for r in &results[..n] {
                let mine: Vec<(u64, u32)> = hits[r.first_hit as usize..][..r.hits_stored as usize]
                    .iter()
                    .map(|h| (h.end_offset, h.pattern_id))
                    .collect();
                if r.flags & VYRE_PUMP_RESULT_DIRECT != 0 {
                    assert!(direct.replace((r.status, mine)).is_none(), "one direct completion");
                } else {
                    pumped.entry(r.file_offset).or_insert(mine);
                }
            }
        }
        let expected = oracle(&rs, &bytes);
        assert_eq!(direct, Some((0, expected.clone())));
        assert_eq!(pumped.into_values().flatten().collect::<Vec<_>>(), expected);
    }
}

/// A full share is backpressure: the submit says so, and after a drain the
/// same request is accepted.
#[test]
fn a_full_share_refuses_submits_until_drained() {
    PATHS.into_iter().for_each(full_share_on);
}

fn full_share_on(ingest: IngestPath) {
    let dir = TempDir::new("full");
    let bytes = Rng(8).bytes(4000, b"abc ");
    let path = c_path(&dir.file("f", &bytes));
    let engine = Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..engine_options() }).unwrap();
    let id = engine.load_rule_set(&mixed_rules()).unwrap();
    let mut pump = Pump::create(
        &engine,
        &PumpOptions { path: ingest, arena_bytes: 8192 + 64, chunk_bytes: 4096, ..PumpOptions::default() },
    )
    .unwrap();
    pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 0).unwrap();
    pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 1).unwrap();
    let err = pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 2).unwrap_err();
    assert_eq!(err.kind, ErrorKind::QueueFull, "{err:?}");
    let mut outcomes = BTreeMap::new();
    drain_all(&mut pump, 1, &mut outcomes);
    pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 2).unwrap();
    drain_all(&mut pump, 3 - outcomes.len(), &mut outcomes);
    assert!(outcomes.values().all(|o| o.status() == 0 && o.matches == oracle(&mixed_rules(), &bytes)));
}

/// Destroy with a read waiting on a silent pipe and scans in flight
/// returns: the read is cancelled.
#[test]
fn destroy_cancels_a_read_that_would_wait_forever() {
    let dir = TempDir::new("destroy");
    let path = c_path(&dir.file("f", &Rng(1).bytes(100_000, b"abc ")));
    for (engine, ingest) in with_paths(engines(engine_options()), &PATHS) {
        let id = engine.load_rule_set(&mixed_rules()).unwrap();
        let (reader, _writer) = pipe();
        let mut pump = Pump::create(&engine, &small_chunks(4096, ingest)).unwrap();
        pump.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 0).unwrap();
        pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 1).unwrap();
        let mut results = vec![PumpResult::default(); 4];
        let mut hits = vec![Hit::default(); 16384];
        // Start the reads (a drain that may or may not return a result yet).
        let _ = pump.drain(&mut results, &mut hits, Duration::ZERO);
        drop(pump);
        // The engine still works, and the share is free for a new pump.
        let mut pump = Pump::create(&engine, &small_chunks(4096, ingest)).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| p.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 2));
        drain_all(&mut pump, pending, &mut outcomes);
        assert_eq!(outcomes[&2].status(), 0);
    }
}

/// A file several times the pump's submit budget (4 MiB, docs/PUMP.md) in
/// a share that holds most of it: one drain reads it in rounds (submit a
/// budget's worth, take the completions, enqueue those chunks, read on),
/// the reads in flight and the staging buffers reused from round to round.
/// Every chunk is still scanned once: the ranges tile the file, and the
/// matches (sparse enough for no chunk to truncate them) are the CPU's,
/// look-around across chunk boundaries included. The reference backend
/// only: the rounds are the pump's, the same on every backend, and lavapipe
/// scans these 10 MiB in about 6 s per path.
#[test]
fn a_file_read_over_many_submits_matches_the_cpu_on_both_paths() {
    let dir = TempDir::new("rounds");
    let bytes = Rng(31).bytes((10 << 20) + 12_345, b"abc \n");
    let path = c_path(&dir.file("f", &bytes));
    let rs = sparse_rules();
    let expected = oracle(&rs, &bytes);
    let engine =
        Engine::create(&EngineOptions { backend: BackendChoice::Reference, arena_bytes: 16 << 20, ..engine_options() })
            .unwrap();
    let id = engine.load_rule_set(&rs).unwrap();
    for ingest in PATHS {
        // One read more than a budget's worth of chunks may be in flight, so
        // the budget ends each round, not the ring (4.3 MiB of staging).
        let options = PumpOptions { path: ingest, chunk_bytes: 128 << 10, queue_depth: 33, ..PumpOptions::default() };
        let mut pump = Pump::create(&engine, &options).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| p.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, 0));
        drain_all(&mut pump, pending, &mut outcomes);
        let outcome = &outcomes[&0];
        assert_eq!(outcome.status(), 0, "{ingest:?}");
        assert_eq!(outcome.covered(0), bytes.len() as u64, "{ingest:?}");
        assert_eq!(outcome.matches.len(), expected.len(), "{ingest:?}");
        assert!(outcome.matches == expected, "{ingest:?}: the matches differ from the CPU's");
        let info = pump.info();
        assert!(info.submitted_bytes >= info.bytes_read && info.bytes_read >= bytes.len() as u64, "{info:?}");
        assert_eq!(info.requests, 0);
    }
}

/// More matches in a chunk than the engine stores: the chunk's result says
/// so, its stored hits are the oracle's, and the request still ends once.
#[test]
fn a_chunk_with_too_many_matches_reports_truncation_with_its_exact_count_and_the_request_still_ends() {
    let dir = TempDir::new("truncated");
    let bytes = vec![b'c'; 5000];
    let path = dir.file("f", &bytes);
    let rs = mixed_rules();
    let expected = oracle(&rs, &bytes);
    for (engine, ingest) in with_paths(engines(EngineOptions { max_hits_per_job: 100, ..engine_options() }), &PATHS) {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut pump = Pump::create(&engine, &small_chunks(1024, ingest)).unwrap();
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_path(&c_path(&path), 0, VYRE_PUMP_TO_EOF, id, 0)
        });
        drain_all(&mut pump, pending, &mut outcomes);
        let outcome = &outcomes[&0];
        assert_eq!(outcome.covered(0), 0, "no chunk is complete: {:?}", outcome.results);
        assert!(outcome.results.iter().all(|r| r.status == ErrorKind::HitsTruncated.code() && r.hit_count >= 100));
        // Each count is the chunk's own matches, not those of the overlap
        // its job also read: together they are the file's.
        for r in &outcome.results {
            let own = expected.iter().filter(|&&(end, _)| end > r.file_offset && end <= r.file_offset + r.length);
            assert_eq!(r.hit_count, own.count() as u64, "chunk at {} on {ingest:?}", r.file_offset);
        }
        assert_eq!(outcome.last().flags, VYRE_PUMP_RESULT_LAST);
        assert!(outcome.matches.iter().all(|m| expected.binary_search(m).is_ok()), "stored hits are real matches");
        let lengths: u64 = outcome.results.iter().map(|r| r.length).sum();
        assert_eq!(lengths, bytes.len() as u64, "the chunks still tile the file");
    }
}

/// The pump feeding a bare megakernel (docs/PUMP.md, "Feeding a bare
/// megakernel"): chunks land in observables, and each chunk's slot copies
/// its words to where they belong in a mirror of its file, so reading the
/// mirror back proves every byte arrived, checked against the file itself.
mod megakernel_feed {
    use super::*;
    use vyre::megakernel::{Megakernel, Options};
    use vyre::protocol::abi::VYRE_OP_STORE_U32;
    use vyre::protocol::abi::{
        VYRE_FAULT_OUT_OF_WINDOW, VYRE_MEMCPY_MAX_WORDS, VYRE_OP_BATCH_FENCE, VYRE_OP_MEMCPY, VYRE_OP_NOP,
    };
    use vyre::pump::{SlotTemplate, VYRE_PUMP_ARG_KEEP, VYRE_PUMP_ARG_REQUEST_WORD, VYRE_PUMP_ARG_WORD};
    use vyre::pump::{VYRE_PUMP_ARG_BYTES, VYRE_PUMP_ARG_WORDS};

    /// Observables 0..SHARE_WORDS are the pump's; mirror `k` (one per
    /// template) is MIRROR_WORDS words from `SHARE_WORDS + k * MIRROR_WORDS`.
    const SHARE_WORDS: u32 = 4096;
    const MIRROR_WORDS: u32 = 2048;
    const MIRRORS: u32 = 6;
    const CHUNK: u64 = 1024;

    /// Both backends, as `common::engines` does for engines.
    fn megakernels(options: Options) -> Vec<Megakernel> {
        let mut out = vec![Megakernel::create(&Options { backend: BackendChoice::Reference, ..options }).unwrap()];
        match Megakernel::create(&Options { backend: BackendChoice::Vulkan, ..options }) {
            Ok(mk) => out.push(mk),
            Err(e)
                if e.kind == ErrorKind::Unsupported
                    && std::env::var_os("VYRE_CONFORMANCE_REQUIRE_VULKAN").is_none() =>
            {
                eprintln!("Vulkan skipped: {e}")
            }
            Err(e) => panic!("Vulkan megakernel: {e}"),
        }
        out
    }

    fn mk_options() -> Options {
        Options { observable_count: SHARE_WORDS + MIRRORS * MIRROR_WORDS, ..Options::default() }
    }

    fn share(chunk_bytes: u64) -> PumpOptions {
        PumpOptions { chunk_bytes, queue_depth: 16, arena_bytes: u64::from(SHARE_WORDS) * 4, ..PumpOptions::default() }
    }

    /// MEMCPY(chunk's words → mirror `k` at the chunk's place in its request).
    fn mirror(k: u32) -> SlotTemplate {
        let mut fill = [VYRE_PUMP_ARG_KEEP; 12];
        fill[..3].copy_from_slice(&[VYRE_PUMP_ARG_WORD, VYRE_PUMP_ARG_REQUEST_WORD, VYRE_PUMP_ARG_WORDS]);
        let mut args = [0; 12];
        args[1] = SHARE_WORDS + k * MIRROR_WORDS;
        SlotTemplate { opcode: VYRE_OP_MEMCPY, tenant: 0, arg_count: 3, args, fill }
    }

    fn mirrors() -> Vec<SlotTemplate> {
        (0..MIRRORS).map(mirror).collect()
    }

    /// Mirror `k` must hold `bytes` (little-endian words, the last one
    /// padded with zeros) and nothing after them.
    fn assert_mirrored(mk: &Megakernel, k: u32, bytes: &[u8], what: &str) {
        let mut words = vec![0u32; MIRROR_WORDS as usize];
        mk.read_observables(SHARE_WORDS + k * MIRROR_WORDS, &mut words).unwrap();
        let got: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut expected = bytes.to_vec();
        expected.resize(got.len(), 0);
        let differ: Vec<usize> = (0..got.len()).filter(|&i| got[i] != expected[i]).collect();
        assert!(
            differ.is_empty(),
            "{what} on {:?}: mirror {k} differs from the file in {} bytes, the first at {:?}: {:?}, not {:?}",
            mk.backend(),
            differ.len(),
            differ.first(),
            differ.first().map(|&i| &got[i..(i + 16).min(got.len())]),
            differ.first().map(|&i| &expected[i..(i + 16).min(got.len())]),
        );
    }

    /// The request whose slots wrote mirror `k` ended well: every result
    /// OK, their ranges tile `bytes`, and the mirror holds them.
    fn assert_delivered(mk: &Megakernel, outcome: &Outcome, k: u32, bytes: &[u8], what: &str) {
        assert!(outcome.results.iter().all(|r| r.status == 0 && r.fault_reason == 0), "{what}: {:?}", outcome.results);
        assert_eq!(outcome.covered(0), bytes.len() as u64, "{what}");
        assert_mirrored(mk, k, bytes, what);
    }

    #[test]
    fn files_of_several_sizes_land_in_observables_and_their_slots_see_every_byte() {
        let dir = TempDir::new("mk-sizes");
        let mut rng = Rng(21);
        let sizes = [1usize, 3, 1024, 1025, 4097, 8192];
        let files: Vec<(PathBuf, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let bytes = rng.bytes(len, ALPHABET);
                (dir.file(&format!("f{i}"), &bytes), bytes)
            })
            .collect();
        let empty = dir.file("empty", b"");
        for mk in megakernels(mk_options()) {
            let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &mirrors()).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let handles: Vec<std::fs::File> = files.iter().map(|(p, _)| std::fs::File::open(p).unwrap()).collect();
            for (i, file) in handles.iter().enumerate() {
                submit_retrying(&mut pump, &mut outcomes, &mut pending, |pump| {
                    if i % 2 == 0 {
                        pump.submit_fd(file.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, i as u32, i as u64)
                    } else {
                        pump.submit_path(&c_path(&files[i].0), 0, VYRE_PUMP_TO_EOF, i as u32, i as u64)
                    }
                });
            }
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(&c_path(&empty), 0, VYRE_PUMP_TO_EOF, 0, 99)
            });
            drain_all(&mut pump, pending, &mut outcomes);
            for (i, (_, bytes)) in files.iter().enumerate() {
                let what = format!("file {i} ({} bytes)", bytes.len());
                assert_delivered(&mk, &outcomes[&(i as u64)], i as u32, bytes, &what);
                assert_eq!(outcomes[&(i as u64)].results.len(), bytes.len().div_ceil(CHUNK as usize), "{what}");
            }
            assert_eq!(outcomes[&99].results.len(), 1, "an empty file publishes nothing and ends once");
            assert_eq!(mk.stats().done as usize, files.iter().map(|f| f.1.len().div_ceil(CHUNK as usize)).sum());
            assert_eq!(pump.info().requests, 0);
        }
    }

    /// A pipe fed in pieces while regular files behind it finish first; the
    /// slots of both are matched to their requests by tag, not by order.
    #[test]
    fn a_pipe_and_files_complete_out_of_order_each_into_its_own_mirror() {
        let dir = TempDir::new("mk-pipe");
        let stream = Rng(22).bytes(7000, ALPHABET);
        let file_bytes = Rng(23).bytes(3000, ALPHABET);
        let file = c_path(&dir.file("plain", &file_bytes));
        for mk in megakernels(mk_options()) {
            let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &mirrors()).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let (reader, mut writer) = pipe();
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, 0, 0)
            });
            writer.write_all(&stream[..1500]).unwrap();
            for k in 1..4u32 {
                submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                    p.submit_path(&file, 0, VYRE_PUMP_TO_EOF, k, u64::from(k))
                });
            }
            pending -= drain_all(&mut pump, 3, &mut outcomes);
            assert!(outcomes.get(&0).map_or(true, |o| o.last().flags & VYRE_PUMP_RESULT_LAST == 0));
            let rest = stream[1500..].to_vec();
            let feeder = std::thread::spawn(move || {
                for piece in rest.chunks(333) {
                    writer.write_all(piece).unwrap();
                    std::thread::sleep(Duration::from_micros(200));
                }
            });
            drain_all(&mut pump, pending, &mut outcomes);
            feeder.join().unwrap();
            assert_delivered(&mk, &outcomes[&0], 0, &stream, "the pipe");
            for k in 1..4u32 {
                assert_delivered(&mk, &outcomes[&u64::from(k)], k, &file_bytes, "a file");
            }
        }
    }

    /// A closed descriptor and a missing path end their own requests with
    /// their errno; a slot that faults reports FAULT with its reason for its
    /// own request; the good request among them is mirrored exactly.
    #[test]
    fn errors_and_faulting_slots_end_only_their_own_request() {
        let dir = TempDir::new("mk-errors");
        let good = Rng(24).bytes(5000, ALPHABET);
        let good_path = c_path(&dir.file("good", &good));
        let missing = c_path(&dir.0.join("missing"));
        // STORE_U32 far outside tenant 0's window: every slot faults.
        let mut outside =
            SlotTemplate { opcode: VYRE_OP_STORE_U32, tenant: 0, arg_count: 2, ..SlotTemplate::default() };
        outside.args[0] = 1 << 30;
        outside.fill[1] = VYRE_PUMP_ARG_BYTES;
        for mk in megakernels(mk_options()) {
            let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &[mirror(0), outside]).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let submits: [&Submit; 4] = [
                &|p| p.submit_fd(NEVER_OPEN_FD, 0, VYRE_PUMP_TO_EOF, 0, 10),
                &|p| p.submit_path(&missing, 0, VYRE_PUMP_TO_EOF, 0, 11),
                &|p| p.submit_path(&good_path, 0, VYRE_PUMP_TO_EOF, 1, 12),
                &|p| p.submit_path(&good_path, 0, VYRE_PUMP_TO_EOF, 0, 13),
            ];
            for submit in submits {
                submit_retrying(&mut pump, &mut outcomes, &mut pending, submit);
            }
            drain_all(&mut pump, pending, &mut outcomes);
            assert_eq!((outcomes[&10].status(), outcomes[&10].results.len()), (-libc::EBADF, 1));
            assert_eq!((outcomes[&11].status(), outcomes[&11].results.len()), (-libc::ENOENT, 1));
            let faulted = &outcomes[&12];
            assert_eq!(faulted.results.len(), good.len().div_ceil(CHUNK as usize), "one result per chunk");
            for r in &faulted.results {
                assert_eq!((r.status, r.fault_reason), (ErrorKind::SlotFault.code(), VYRE_FAULT_OUT_OF_WINDOW));
            }
            assert_delivered(&mk, &outcomes[&13], 0, &good, "the good file");
        }
    }

    /// A ring of 2 slots and a share of 4 chunks: slots wait for room
    /// (published on later drains), submits are refused until drained, and
    /// every byte still arrives.
    #[test]
    fn a_small_ring_and_share_are_backpressure_not_errors() {
        let dir = TempDir::new("mk-small");
        let bytes = Rng(25).bytes(8192, ALPHABET);
        let path = c_path(&dir.file("f", &bytes));
        for mk in megakernels(Options { slot_count: 2, worker_count: 1, ..mk_options() }) {
            let options = PumpOptions { arena_bytes: 4 * CHUNK, ..share(CHUNK) };
            let mut pump = Pump::create_for_megakernel(&mk, &options, &mirrors()).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            let mut refused = 0;
            for k in 0..MIRRORS {
                while let Err(e) = pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, k, u64::from(k)) {
                    assert_eq!(e.kind, ErrorKind::QueueFull, "{e}");
                    refused += 1;
                    pending -= drain_all(&mut pump, 1, &mut outcomes);
                }
                pending += 1;
            }
            drain_all(&mut pump, pending, &mut outcomes);
            assert!(refused > 0, "a share of 4 chunks cannot take 6 files of 8 at once");
            for k in 0..MIRRORS {
                assert_delivered(&mk, &outcomes[&u64::from(k)], k, &bytes, "a file");
            }
        }
    }

    /// Destroy with a read parked on a silent pipe and slots in flight
    /// returns; every slot it published is final, and the megakernel and
    /// the share serve a new pump.
    #[test]
    fn destroy_with_work_in_flight_leaves_every_slot_final() {
        let dir = TempDir::new("mk-destroy");
        let bytes = Rng(26).bytes(16_000, ALPHABET);
        let path = c_path(&dir.file("f", &bytes));
        for mk in megakernels(mk_options()) {
            let (reader, _writer) = pipe();
            let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &mirrors()).unwrap();
            pump.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, 0, 0).unwrap();
            pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, 1, 1).unwrap();
            let mut results = vec![PumpResult::default(); 2];
            let _ = pump.drain(&mut results, &mut [], Duration::ZERO);
            drop(pump);
            let published = mk.stats().published;
            mk.wait_idle(Duration::ZERO).unwrap();
            assert_eq!(u64::from(mk.stats().done), published, "every published slot ran to DONE");
            let ticket = mk.publish(VYRE_OP_NOP, 0, &[]).unwrap();
            mk.wait(ticket, LONG).unwrap();
            let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &mirrors()).unwrap();
            let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| p.submit_path(&path, 0, 8192, 2, 2));
            drain_all(&mut pump, pending, &mut outcomes);
            assert_delivered(&mk, &outcomes[&2], 2, &bytes[..8192], "after destroy");
        }
    }

    /// Everything create and submit refuse, each with its status.
    #[test]
    fn shares_and_templates_it_cannot_serve_are_refused() {
        let mk = Megakernel::create(&Options { backend: BackendChoice::Reference, tenant_count: 2, ..mk_options() })
            .unwrap();
        let create = |options: PumpOptions, templates: &[SlotTemplate]| {
            Pump::create_for_megakernel(&mk, &options, templates).map(|_| ()).unwrap_err().kind
        };
        let observables_bytes = u64::from(mk_options().observable_count) * 4;
        for (options, kind) in [
            (PumpOptions { arena_offset: 2, ..share(CHUNK) }, ErrorKind::InvalidArgument),
            (PumpOptions { arena_bytes: 4098, ..share(CHUNK) }, ErrorKind::InvalidArgument),
            (PumpOptions { chunk_bytes: 1022, ..share(0) }, ErrorKind::InvalidArgument),
            (PumpOptions { arena_offset: observables_bytes, ..share(CHUNK) }, ErrorKind::OutOfRange),
            (PumpOptions { arena_offset: 4, arena_bytes: observables_bytes, ..share(CHUNK) }, ErrorKind::OutOfRange),
            (PumpOptions { chunk_bytes: 8, ..share(0) }, ErrorKind::InvalidArgument),
            // A MEMCPY of a whole chunk's words longer than one MEMCPY may copy.
            (
                PumpOptions { chunk_bytes: 4 * u64::from(VYRE_MEMCPY_MAX_WORDS) + 4, ..share(0) },
                ErrorKind::InvalidArgument,
            ),
        ] {
            assert_eq!(create(options, &[mirror(0)]), kind, "{options:?}");
        }
        let bad = |edit: &dyn Fn(&mut SlotTemplate)| {
            let mut t = mirror(0);
            edit(&mut t);
            t
        };
        // Tenant 1's window is the upper half of the observables: the share is not in it.
        for (template, kind) in [
            (bad(&|t| t.arg_count = 13), ErrorKind::InvalidArgument),
            (bad(&|t| t.fill[0] = VYRE_PUMP_ARG_REQUEST_WORD + 1), ErrorKind::InvalidArgument),
            (bad(&|t| t.fill[5] = VYRE_PUMP_ARG_BYTES), ErrorKind::InvalidArgument),
            (bad(&|t| t.opcode = VYRE_OP_BATCH_FENCE), ErrorKind::InvalidArgument),
            (bad(&|t| t.opcode = 0x1234), ErrorKind::InvalidArgument),
            (bad(&|t| t.tenant = 2), ErrorKind::OutOfRange),
            (bad(&|t| t.tenant = 1), ErrorKind::OutOfRange),
        ] {
            assert_eq!(create(share(CHUNK), &[mirror(1), template]), kind, "{template:?}");
        }
        assert_eq!(create(share(CHUNK), &[]), ErrorKind::InvalidArgument);
        assert_eq!(create(share(CHUNK), &vec![mirror(0); 257]), ErrorKind::InvalidArgument);
        let mut pump = Pump::create_for_megakernel(&mk, &share(CHUNK), &mirrors()).unwrap();
        let dir = TempDir::new("mk-refused");
        let path = c_path(&dir.file("f", b"abc"));
        assert_eq!(pump.submit_path(&path, 0, VYRE_PUMP_TO_EOF, MIRRORS, 0).unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(pump.submit_fd(-1, 0, VYRE_PUMP_TO_EOF, 0, 0).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(pump.info().requests, 0, "nothing was accepted");
    }
}

/// The staged path with one staging buffer and far more chunks than that
/// (files and a pipe): each chunk's read waits for the previous chunk's
/// copy into the arena to complete, so a buffer reused too early (bytes of
/// the next chunk over those of one still being copied) shows up as a
/// wrong byte against the file.
#[test]
fn one_staging_buffer_serves_many_chunks_byte_for_byte() {
    let dir = TempDir::new("staged");
    let mut rng = Rng(12);
    let files: Vec<Vec<u8>> = (0..3).map(|_| rng.bytes(30_000, ALPHABET)).collect();
    let streamed = rng.bytes(20_000, ALPHABET);
    let rs = every_byte();
    for engine in engines(engine_options()) {
        let id = engine.load_rule_set(&rs).unwrap();
        let options = PumpOptions { queue_depth: 1, ..small_chunks(1024, IngestPath::Staged) };
        let mut pump = Pump::create(&engine, &options).unwrap();
        assert_eq!(pump.info().path, IngestPath::Staged);
        let (mut outcomes, mut pending) = (BTreeMap::new(), 0);
        for (i, bytes) in files.iter().enumerate() {
            let path = c_path(&dir.file(&format!("f{i}"), bytes));
            submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
                p.submit_path(&path, 0, VYRE_PUMP_TO_EOF, id, i as u64)
            });
        }
        let (reader, mut writer) = pipe();
        let to_write = streamed.clone();
        let writing = std::thread::spawn(move || writer.write_all(&to_write).unwrap());
        submit_retrying(&mut pump, &mut outcomes, &mut pending, |p| {
            p.submit_fd(reader.as_raw_fd(), 0, VYRE_PUMP_TO_EOF, id, 9)
        });
        drain_all(&mut pump, pending, &mut outcomes);
        writing.join().unwrap();
        for (i, bytes) in files.iter().enumerate() {
            let outcome = &outcomes[&(i as u64)];
            assert_eq!((outcome.status(), outcome.covered(0)), (0, bytes.len() as u64));
            assert!(outcome.matches == every_byte_of(bytes), "file {i} on {:?}", engine.info().backend);
        }
        assert_eq!(outcomes[&9].status(), 0);
        assert!(outcomes[&9].matches == every_byte_of(&streamed), "the pipe on {:?}", engine.info().backend);
    }
}

/// Staging buffers io_uring cannot register (here: a chunk over its 1 GiB
/// limit for one buffer) make creation fail as unsupported, with a message
/// naming the direct path; the engine then takes a direct pump.
#[test]
fn a_staged_pump_that_cannot_register_its_buffers_is_unsupported() {
    let engine =
        Engine::create(&EngineOptions { backend: BackendChoice::Reference, arena_bytes: 3 << 29, ..engine_options() })
            .unwrap();
    let options =
        PumpOptions { path: IngestPath::Staged, chunk_bytes: (1 << 30) + 64, queue_depth: 1, ..Default::default() };
    let err = Pump::create(&engine, &options).err().expect("a buffer over 1 GiB cannot be registered");
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err:?}");
    assert!(err.message.contains("VYRE_PUMP_PATH_DIRECT"), "{err:?}");
    let direct = Pump::create(&engine, &PumpOptions { path: IngestPath::Direct, ..options }).unwrap();
    assert_eq!(direct.info().path, IngestPath::Direct);
}
