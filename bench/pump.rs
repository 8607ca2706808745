//! Pump benchmark: files read with io_uring straight into the engine's
//! arena (vyre::pump) against read() into a host buffer + a copy into the
//! arena (Engine::write), both scanning every chunk on the same engine.
//!
//! cargo run --release --example bench-pump -- [--quick] [--backend auto|vulkan|reference]
//!     [--dir DIR] [--small N] [--large N] [--large-mib N] [--chunk-kib N] [--reps N]
//!     [--staged] [--sqpoll] [--vyre-scan PATH] [--csv PATH] [--modes LIST]
//!
//! Corpora (written once under --dir, default /tmp/vyre-bench-pump, and reused):
//! N small files of 1-4 KiB (default 20 000) and N large files (default 4 of
//! 64 MiB), random text with a needle planted every 64 KiB.
//! For each corpus, page cache warm (files read once before) and cold
//! (posix_fadvise DONTNEED on every file before the run), each mode reports
//! GB/s (10^9 bytes) and files/s, the median of --reps runs (the modes take
//! turns within each repetition), the cores it kept busy (CPU time of every
//! thread of the process, kernel threads of io_uring included, over wall
//! time) and its rate as a share of the ceiling (below):
//!   pump       Pump::submit_path for every file, drain until all are done
//!              (the default ingest path: direct reads into the arena)
//!   pump (sqpoll)  with --sqpoll: the same with PumpOptions::sqpoll (a kernel
//!              thread submits the reads, and copies cached pages, on another core)
//!   pump (staged)  with --staged: the same on IngestPath::Staged (reads into
//!              registered staging buffers, copies into the arena)
//!   read+copy  open, read() a chunk into a host buffer, Engine::write it
//!              into a free arena chunk, enqueue; same chunk size and
//!              overlap as the pump, one thread
//!   read+copy, no scan  the read()+copy ingest without scanning
//!   read only  open and read() every chunk into one host buffer, nothing
//!              else, one thread: the page cache's read speed (warm) or the
//!              disk's (cold)
//! Host -> arena bandwidth: Engine::write of a host buffer, chunk by chunk
//! (1 GiB in all), from 1, 2 and 8 threads, best of three; the ceiling of a
//! corpus is min("read only", host -> arena from 8 threads), the target
//! (issue 5) 90 % of it with at most 2 cores busy.
//! All scanning modes must count the same matches (exit status 1 otherwise).
//! A second table breaks each pump row's median run down (Pump::info): the
//! time inside io_uring submit calls that sent reads, their number and the
//! KiB each asked for on average, those bytes over that time (a read of
//! cached pages is copied inside the call that submits it, so warm this is
//! the kernel's copy rate into the arena; cold reads return before their
//! data), the time drain slept waiting for reads or scan jobs, and the rest
//! (the pump's own work, engine polls, enqueues, the bench's loop).
//! A pump is created before its run's clock starts (a staged pump pins its
//! staging memory then, once per pump).
//! --modes LIST (comma-separated mode names) runs only those modes, to
//! profile one; the table's last column then needs "read only" among them.
//! --vyre-scan PATH also times examples/vyre-scan on each corpus: as it is
//! (the pump; SQPOLL with 4 or more CPUs), with --no-sqpoll and with
//! --no-pump (its own summary's seconds, warm cache, median of --reps), after
//! the benchmark's own engine is gone (two resident kernels share the GPU).

use std::collections::VecDeque;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vyre::backend::BackendChoice;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, WorkItem};
use vyre::error::ErrorKind;
use vyre::pump::{IngestPath, Pump, PumpInfo, PumpOptions, PumpResult, VYRE_PUMP_RESULT_LAST, VYRE_PUMP_TO_EOF};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

const NEEDLE: &[u8] = b"vyre-bench-needle";
const USAGE: &str = "bench-pump [--quick] [--backend auto|vulkan|reference] [--dir DIR] [--small N] [--large N] \
                     [--large-mib N] [--chunk-kib N] [--reps N] [--staged] [--sqpoll] [--vyre-scan PATH] \
                     [--csv PATH] [--modes LIST] \
                     (see bench/pump.rs)";
const WAIT: Duration = Duration::from_secs(600);

struct Config {
    backend: BackendChoice,
    dir: PathBuf,
    small: usize,
    large: usize,
    large_mib: usize,
    chunk_bytes: u64,
    reps: usize,
    /// Also time the pump's staged ingest path.
    staged: bool,
    /// Also time a pump whose reads a kernel thread submits (SQPOLL).
    sqpoll: bool,
    vyre_scan: Option<PathBuf>,
    csv: Option<PathBuf>,
    /// Only the modes named (--modes), e.g. to profile one.
    only: Option<Vec<String>>,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        backend: BackendChoice::Auto,
        dir: PathBuf::from("/tmp/vyre-bench-pump"),
        small: 20_000,
        large: 4,
        large_mib: 64,
        chunk_bytes: 4 << 20,
        reps: 3,
        staged: false,
        sqpoll: false,
        vyre_scan: None,
        csv: None,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|_| format!("{arg}: not a number: {v}"));
        match arg.as_str() {
            "--quick" => (config.small, config.large, config.large_mib, config.reps) = (2000, 2, 8, 1),
            "--backend" => {
                config.backend = value()?.parse().map_err(|e: vyre::error::Error| format!("--backend: {e}"))?
            }
            "--dir" => config.dir = PathBuf::from(value()?),
            "--small" => config.small = number(value()?)?,
            "--large" => config.large = number(value()?)?,
            "--large-mib" => config.large_mib = number(value()?)?,
            "--chunk-kib" => config.chunk_bytes = number(value()?)? as u64 * 1024,
            "--reps" => config.reps = number(value()?)?.max(1),
            "--staged" => config.staged = true,
            "--sqpoll" => config.sqpoll = true,
            "--vyre-scan" => config.vyre_scan = Some(PathBuf::from(value()?)),
            "--csv" => config.csv = Some(PathBuf::from(value()?)),
            "--modes" => config.only = Some(value()?.split(',').map(str::to_string).collect()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    Ok(config)
}

/// Random text with a needle every 64 KiB (xorshift, so runs are repeatable).
fn text(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"abcdefghij klmnop\n"[(state % 18) as usize]
        })
        .collect();
    for at in (100..len.saturating_sub(NEEDLE.len())).step_by(65_536) {
        bytes[at..at + NEEDLE.len()].copy_from_slice(NEEDLE);
    }
    bytes
}

/// The corpus's files, written (and synced, so DONTNEED can drop them) unless already there.
fn corpus(dir: &Path, count: usize, size: impl Fn(usize) -> usize) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    (0..count)
        .map(|i| {
            let path = dir.join(format!("{i:06}"));
            let len = size(i);
            if std::fs::metadata(&path).map_or(true, |m| m.len() as usize != len) {
                let mut file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                file.write_all(&text(len, i as u64 + 1)).and_then(|()| file.sync_all()).map_err(|e| e.to_string())?;
            }
            Ok(path)
        })
        .collect()
}

/// Drop the files from the page cache, or read them all once into it.
fn set_cache(files: &[PathBuf], cold: bool) -> Result<(), String> {
    let mut sink = vec![0u8; 1 << 20];
    for path in files {
        let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if cold {
            // SAFETY: fadvise on an open descriptor; no memory is involved.
            unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        } else {
            while file.read(&mut sink).map_err(|e| e.to_string())? > 0 {}
        }
    }
    Ok(())
}

/// Bytes and matches one run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    bytes: u64,
    matches: u64,
}

/// A pump for one timed run. Created outside the timing: a staged pump pins
/// all its staging memory at creation, a cost paid once per pump, not per file.
fn create_pump(engine: &Engine, chunk_bytes: u64, path: IngestPath, sqpoll: bool) -> Result<Pump<'_>, String> {
    Pump::create(engine, &PumpOptions { path, chunk_bytes, queue_depth: 256, sqpoll, ..PumpOptions::default() })
        .map_err(|e| e.to_string())
}

/// The run's tally, and the pump's info at its end (its time accounting).
fn run_pump(engine: &Engine, mut pump: Pump, id: u32, files: &[PathBuf]) -> Result<(Tally, PumpInfo), String> {
    let paths: Vec<CString> = files.iter().map(|p| CString::new(p.as_os_str().as_bytes()).unwrap()).collect();
    let mut results = vec![PumpResult::default(); 256];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 4];
    let (mut tally, mut done) = (Tally::default(), 0);
    let mut collect = |pump: &mut Pump, tally: &mut Tally, done: &mut usize| -> Result<(), String> {
        let (n, _) = pump.drain(&mut results, &mut hits, WAIT).map_err(|e| e.to_string())?;
        for r in &results[..n] {
            if r.status != 0 {
                return Err(format!("file {} failed at {}: status {}", r.user_data, r.file_offset, r.status));
            }
            tally.bytes += r.length;
            tally.matches += r.hit_count;
            *done += usize::from(r.flags & VYRE_PUMP_RESULT_LAST != 0);
        }
        Ok(())
    };
    for (i, path) in paths.iter().enumerate() {
        loop {
            match pump.submit_path(path, 0, VYRE_PUMP_TO_EOF, id, i as u64) {
                Ok(()) => break,
                Err(e) if e.kind == ErrorKind::QueueFull => collect(&mut pump, &mut tally, &mut done)?,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    while done < files.len() {
        collect(&mut pump, &mut tally, &mut done)?;
    }
    Ok((tally, pump.info()))
}

/// What the read() modes do with each chunk they read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterRead {
    /// Engine::write it into the arena and enqueue its scan ("read+copy").
    CopyAndScan,
    /// Engine::write it only ("read+copy, no scan").
    Copy,
    /// Nothing ("read only").
    Nothing,
}

/// read() + Engine::write + enqueue, with the pump's chunk geometry: chunk
/// k of a file holds [s - L, s + C - L) and owns the match ends in (s, e].
fn run_read(engine: &Engine, id: u32, files: &[PathBuf], chunk_bytes: u64, after: AfterRead) -> Result<Tally, String> {
    let l = u64::from(engine.max_match_len(id).map_err(|e| e.to_string())?.ok_or("bounded patterns only")?);
    let slots = (engine.arena_len() / chunk_bytes).min(256) as usize;
    let mut free: VecDeque<usize> = (0..slots).collect();
    let mut buffer = vec![0u8; chunk_bytes as usize];
    let mut completions = vec![Completion::default(); 256];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 4];
    let mut tally = Tally::default();
    // A chunk's job counts only the matches ending in its own bytes (the
    // rest is context), as the pump's do.
    let mut reap = |free: &mut VecDeque<usize>, tally: &mut Tally| -> Result<(), String> {
        let (n, _) = engine.wait(&mut completions, &mut hits, WAIT).map_err(|e| e.to_string())?;
        for c in &completions[..n] {
            tally.matches += c.hit_count;
            free.push_back(c.user_data as usize);
        }
        Ok(())
    };
    for path in files {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let mut own_from = 0;
        loop {
            let file_pos = if own_from == 0 { 0 } else { own_from - l };
            let want = chunk_bytes.min(size - file_pos);
            let own_to = if file_pos + want == size { size } else { file_pos + want - 1 };
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut buffer[..want as usize], file_pos)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            tally.bytes += own_to - own_from;
            if after != AfterRead::Nothing {
                while free.is_empty() {
                    reap(&mut free, &mut tally)?;
                }
                let slot = free.pop_front().expect("checked");
                engine.write(slot as u64 * chunk_bytes, &buffer[..want as usize]).map_err(|e| e.to_string())?;
                if after == AfterRead::CopyAndScan {
                    let item = WorkItem {
                        input_offset: slot as u64 * chunk_bytes,
                        input_len: want,
                        rule_set_id: id,
                        flags: 0,
                        user_data: slot as u64,
                        context_before: (own_from - file_pos) as u32,
                        context_after: (file_pos + want - own_to) as u32,
                    };
                    while let Err(e) = engine.enqueue(&item) {
                        if e.kind != ErrorKind::QueueFull {
                            return Err(e.to_string());
                        }
                        reap(&mut free, &mut tally)?;
                    }
                } else {
                    free.push_back(slot);
                }
            }
            if own_to == size {
                break;
            }
            own_from = own_to;
        }
    }
    while free.len() < slots {
        reap(&mut free, &mut tally)?;
    }
    Ok(tally)
}

/// Host -> arena bandwidth in GB/s: Engine::write of a host buffer of
/// `chunk_bytes` from `threads` threads, each into its own part of the
/// arena, 1 GiB in all; the best of three.
fn host_to_arena(engine: &Engine, chunk_bytes: u64, threads: u64) -> Result<f64, String> {
    let source = &text(chunk_bytes as usize, 99);
    let slots_each = (engine.arena_len() / chunk_bytes / threads).max(1);
    let writes_each = (1u64 << 30) / chunk_bytes / threads;
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (0..writes_each).try_for_each(|k| {
                            let slot = t * slots_each + k % slots_each;
                            engine.write(slot * chunk_bytes, source).map_err(|e| e.to_string())
                        })
                    })
                })
                .collect();
            writers.into_iter().try_for_each(|w| w.join().expect("a writer thread panicked"))
        })?;
        let bytes = writes_each * threads * chunk_bytes;
        best = best.max(bytes as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    Ok(best)
}

/// `vyre-scan ARGS --json -e NEEDLE DIR`: the seconds its summary reports.
fn run_vyre_scan(binary: &Path, dir: &Path, args: &[&str], backend: BackendChoice) -> Result<f64, String> {
    let mut command = std::process::Command::new(binary);
    command.args(args);
    let backend = match backend {
        BackendChoice::Auto => "auto",
        BackendChoice::Vulkan => "vulkan",
        BackendChoice::Reference => "reference",
    };
    let output = command
        .args(["--json", "--count", "--backend", backend, "-e"])
        .arg(std::str::from_utf8(NEEDLE).unwrap())
        .arg(dir)
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().find(|l| l.contains("\"type\":\"summary\"")).ok_or("vyre-scan printed no summary")?;
    let seconds = summary.split("\"seconds\":").nth(1).and_then(|s| s.split(',').next()).ok_or("no seconds")?;
    seconds.parse().map_err(|_| format!("bad seconds in {summary}"))
}

struct Row {
    corpus: &'static str,
    cache: &'static str,
    mode: &'static str,
    files: usize,
    tally: Tally,
    seconds: f64,
    /// CPU time of the whole process (every thread: the engine's, io_uring's
    /// kernel threads and workers) over the wall time of the median run.
    cores: f64,
    /// Pump modes: the median run's pump info.
    pump: Option<PumpInfo>,
}

/// One timed run of a mode.
struct Timed {
    seconds: f64,
    cpu_seconds: f64,
    tally: Tally,
    info: Option<PumpInfo>,
}

/// The run of median time.
fn median(mut runs: Vec<Timed>) -> Timed {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    runs.swap_remove(runs.len() / 2)
}

/// User + system CPU seconds of every thread of this process so far
/// (io_uring's SQPOLL thread and io-wq workers are threads of the process).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn run(config: &Config) -> Result<bool, String> {
    let rs = RuleSet::compile(&[Pattern::literal(NEEDLE)], &CompileOptions::default()).map_err(|e| e.to_string())?;
    let engine = Engine::create(&EngineOptions {
        backend: config.backend,
        arena_bytes: 256 << 20,
        queue_depth: 1024,
        max_hits_per_job: 1024,
        ..EngineOptions::default()
    })
    .or_else(|_| {
        // lavapipe's storage buffers stop at 128 MiB.
        Engine::create(&EngineOptions {
            backend: config.backend,
            arena_bytes: 96 << 20,
            queue_depth: 1024,
            max_hits_per_job: 1024,
            ..EngineOptions::default()
        })
    })
    .map_err(|e| e.to_string())?;
    let id = engine.load_rule_set(&rs).map_err(|e| e.to_string())?;
    let info = engine.info();
    eprintln!(
        "bench-pump: {:?} on {}, arena {} MiB, chunks of {} KiB",
        info.backend,
        info.device_name,
        info.arena_bytes >> 20,
        config.chunk_bytes >> 10
    );
    let mut bandwidths = Vec::new();
    for threads in [1, 2, 8] {
        let rate = host_to_arena(&engine, config.chunk_bytes, threads)?;
        println!("host -> arena, Engine::write from {threads} thread(s): {rate:.2} GB/s");
        bandwidths.push((threads, rate));
    }
    let host_to_arena_8 = bandwidths[2].1;
    let small_dir = config.dir.join("small");
    let large_dir = config.dir.join("large");
    let small = corpus(&small_dir, config.small, |i| 1024 + (i * 7919) % 3072)?;
    let large = corpus(&large_dir, config.large, |_| config.large_mib << 20)?;
    let mut rows = Vec::new();
    let mut agree = true;
    let mut modes = vec!["pump"];
    modes.extend(config.sqpoll.then_some("pump (sqpoll)"));
    modes.extend(config.staged.then_some("pump (staged)"));
    modes.extend(["read+copy", "read+copy, no scan", "read only"]);
    if let Some(only) = &config.only {
        modes.retain(|mode| only.iter().any(|o| o == mode));
    }
    for (name, files) in [("small files", &small), ("large files", &large)] {
        for (cache, cold) in [("warm", false), ("cold", true)] {
            // The modes take turns within each repetition, so that a drift
            // of the machine (other tenants, the clock) reaches them all.
            let mut runs: Vec<Vec<Timed>> = modes.iter().map(|_| Vec::new()).collect();
            for _ in 0..config.reps {
                for (&mode, runs) in modes.iter().zip(&mut runs) {
                    set_cache(files, cold)?;
                    let pump = match mode {
                        "pump" => Some(create_pump(&engine, config.chunk_bytes, IngestPath::Auto, false)?),
                        "pump (sqpoll)" => Some(create_pump(&engine, config.chunk_bytes, IngestPath::Auto, true)?),
                        "pump (staged)" => Some(create_pump(&engine, config.chunk_bytes, IngestPath::Staged, false)?),
                        _ => None,
                    };
                    let (start, cpu_start) = (Instant::now(), cpu_seconds());
                    let (tally, info) = match pump {
                        Some(pump) => run_pump(&engine, pump, id, files).map(|(t, info)| (t, Some(info)))?,
                        None => {
                            let after = match mode {
                                "read+copy" => AfterRead::CopyAndScan,
                                "read+copy, no scan" => AfterRead::Copy,
                                _ => AfterRead::Nothing,
                            };
                            (run_read(&engine, id, files, config.chunk_bytes, after)?, None)
                        }
                    };
                    let seconds = start.elapsed().as_secs_f64();
                    runs.push(Timed { seconds, cpu_seconds: cpu_seconds() - cpu_start, tally, info });
                }
            }
            let mut counts = Vec::new();
            for (&mode, runs) in modes.iter().zip(runs) {
                let Timed { seconds, cpu_seconds, tally, info } = median(runs);
                if mode == "read+copy" || mode.starts_with("pump") {
                    counts.push((mode, tally));
                }
                let cores = cpu_seconds / seconds;
                rows.push(Row { corpus: name, cache, mode, files: files.len(), tally, seconds, cores, pump: info });
            }
            if counts.windows(2).any(|pair| pair[0].1 != pair[1].1) {
                let each: Vec<String> = counts.iter().map(|(mode, count)| format!("{mode} {count:?}")).collect();
                eprintln!("MISMATCH on {name} ({cache}): {}", each.join(", "));
                agree = false;
            }
        }
    }
    // vyre-scan runs with this process's engine gone: two resident kernels
    // would share the GPU.
    drop(engine);
    if let Some(binary) = &config.vyre_scan {
        let variants: [(&str, &[&str]); 3] = [
            ("vyre-scan (pump)", &[]),
            ("vyre-scan --no-sqpoll", &["--no-sqpoll"]),
            ("vyre-scan --no-pump", &["--no-pump"]),
        ];
        for (name, files, dir) in [("small files", &small, &small_dir), ("large files", &large, &large_dir)] {
            set_cache(files, false)?;
            let mut seconds: Vec<Vec<f64>> = variants.iter().map(|_| Vec::new()).collect();
            for _ in 0..config.reps {
                for ((_, args), seconds) in variants.iter().zip(&mut seconds) {
                    seconds.push(run_vyre_scan(binary, dir, args, config.backend)?);
                }
            }
            let bytes = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
            for ((mode, _), mut seconds) in variants.into_iter().zip(seconds) {
                seconds.sort_by(f64::total_cmp);
                rows.push(Row {
                    corpus: name,
                    cache: "warm",
                    mode,
                    files: files.len(),
                    tally: Tally { bytes, matches: 0 },
                    seconds: seconds[seconds.len() / 2],
                    cores: f64::NAN,
                    pump: None,
                });
            }
        }
    }
    println!("| corpus | cache | mode | files | MB | matches | s | GB/s | files/s | cores busy | of the ceiling |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let rate = |r: &Row| r.tally.bytes as f64 / r.seconds / 1e9;
    for r in &rows {
        let read_only = rows.iter().find(|o| o.corpus == r.corpus && o.cache == r.cache && o.mode == "read only");
        let ceiling = read_only.map(|o| rate(o).min(host_to_arena_8));
        let share = ceiling.map_or(String::new(), |c| format!("{:.0} %", 100.0 * rate(r) / c));
        let cores = if r.cores.is_nan() { String::new() } else { format!("{:.2}", r.cores) };
        println!(
            "| {} | {} | {} | {} | {:.1} | {} | {:.3} | {:.3} | {:.0} | {} | {} |",
            r.corpus,
            r.cache,
            r.mode,
            r.files,
            r.tally.bytes as f64 / 1e6,
            r.tally.matches,
            r.seconds,
            rate(r),
            r.files as f64 / r.seconds,
            cores,
            share
        );
    }
    println!();
    println!(
        "| corpus | cache | mode | s | in submit s | submits | KiB/submit | GB/s in submit | waiting s | rest s | MB read by the caller |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let Some(info) = r.pump else { continue };
        let (submit, wait) = (info.submit_time.as_secs_f64(), info.wait_time.as_secs_f64());
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.1} |",
            r.corpus,
            r.cache,
            r.mode,
            r.seconds,
            submit,
            info.submits,
            info.submitted_bytes as f64 / info.submits.max(1) as f64 / 1024.0,
            info.submitted_bytes as f64 / submit.max(1e-9) / 1e9,
            wait,
            r.seconds - submit - wait,
            info.caller_read_bytes as f64 / 1e6
        );
    }
    if let Some(path) = &config.csv {
        let mut csv = String::from("corpus,cache,mode,files,bytes,matches,seconds,cores\n");
        for r in &rows {
            csv += &format!(
                "{},{},{},{},{},{},{:.6},{:.3}\n",
                r.corpus, r.cache, r.mode, r.files, r.tally.bytes, r.tally.matches, r.seconds, r.cores
            );
        }
        for (threads, rate) in &bandwidths {
            // One GB at the measured rate.
            csv += &format!("host -> arena,,Engine::write from {threads} threads,0,1000000000,0,{:.6},\n", 1.0 / rate);
        }
        std::fs::write(path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(agree)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench-pump: error: {e}");
            ExitCode::FAILURE
        }
    }
}
