//! The vyre engine's part of the benchmark (vyre::engine, docs/ENGINE.md).
//!
//! - Headline: the headline corpus (N jobs of 1 KiB) with the 1 000-literal
//!   set, written into the arena first, then timed from the first enqueue to
//!   the last completion: resident kernel (Persistent::Auto) and one
//!   dispatch per batch (Persistent::Disable), each on its own engine (a
//!   resident kernel occupies the whole GPU, so never both at once).
//! - "vyre (in GPU)": the corpus already in the arena (device-local memory
//!   where the device has a host-visible BAR), every file one job.
//! - "vyre (from host)": the corpus streamed from host memory through
//!   `Engine::write` into arena regions used in turn, each rewritten only
//!   once all its jobs have completed; the writes are inside the time.
//! - Host → GPU bandwidth: `Engine::write` of the corpus alone, the copy
//!   path the streaming measurement uses (CPU stores into the mapped arena;
//!   the engine has no DMA copy path).
//!
//! Every job's user_data is its file index, so hits fold into the same
//! checksum as the CPU engines' matches.

use super::corpus::{match_hash, Corpus};
use super::report::Row;
use super::{Config, Inputs, PatternSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vyre::engine::{Completion, Engine, EngineOptions, Hit, Persistent, WorkItem};
use vyre::error::ErrorKind;

/// What the GPU part measured.
pub struct GpuReport {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub device: String,
    /// Host → GPU copy bandwidth measured in this run, GB/s (best of the corpora).
    pub h2d_gbps: Option<f64>,
}

const MAX_HITS_PER_JOB: u32 = 4096;
/// How long the poller waits for one completion before calling the engine stuck.
const STUCK: Duration = Duration::from_secs(120);

/// Matches of a set of jobs, as the completions reported them.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    jobs: u64,
    matches: u64,
    checksum: u64,
    /// Jobs with more hits than max_hits_per_job: counted, not all returned.
    truncated: u64,
}

impl Tally {
    fn add(&mut self, c: &Completion, hits: &[Hit]) -> Result<(), String> {
        self.jobs += 1;
        self.matches += c.hit_count;
        if c.status == ErrorKind::HitsTruncated.code() {
            self.truncated += 1;
        } else if c.status != 0 {
            return Err(format!("job {} failed with status {} ({})", c.user_data, c.status, status_name(c.status)));
        }
        let first = c.first_hit as usize;
        for hit in &hits[first..first + c.hits_stored as usize] {
            if hit.user_data != c.user_data {
                return Err(format!("a hit of job {} carries user_data {}", c.user_data, hit.user_data));
            }
            self.checksum = self.checksum.wrapping_add(match_hash(c.user_data, hit.pattern_id, hit.end_offset));
        }
        Ok(())
    }

    fn checksum(&self) -> Option<u64> {
        (self.truncated == 0).then_some(self.checksum)
    }
}

fn status_name(status: i32) -> String {
    ErrorKind::from_code(status).map_or_else(|| "unknown".into(), |k| format!("{k:?}"))
}

/// A job: file `index` of a corpus at `offset` in the arena.
#[derive(Clone, Copy)]
struct Job {
    index: u64,
    offset: u64,
    len: u64,
}

fn item(job: &Job, rule_set_id: u32) -> WorkItem {
    WorkItem {
        input_offset: job.offset,
        input_len: job.len,
        rule_set_id,
        flags: 0,
        user_data: job.index,
        ..Default::default()
    }
}

/// Enqueue `item`, retrying while the queue is full (the poller frees it).
fn enqueue(engine: &Engine, item: &WorkItem, abort: &AtomicBool) -> Result<(), String> {
    let mut spins = 0u32;
    loop {
        match engine.enqueue(item) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind == ErrorKind::QueueFull => {
                if abort.load(Ordering::Relaxed) {
                    return Err("aborted".into());
                }
                spins += 1;
                if spins < 100 {
                    std::hint::spin_loop();
                } else {
                    // Leave the CPU to the poller (and to lavapipe's threads).
                    std::thread::yield_now();
                }
            }
            Err(e) => return Err(format!("enqueue of job {}: {e}", item.user_data)),
        }
    }
}

/// The poller: collect `total` completions, calling `on_done(user_data)` for
/// each; gives up when nothing completes for `STUCK`.
fn poll_all(engine: &Engine, total: u64, abort: &AtomicBool, on_done: &dyn Fn(u64)) -> Result<Tally, String> {
    let mut completions = vec![Completion::default(); engine.info().queue_depth as usize];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 16];
    let mut tally = Tally::default();
    while tally.jobs < total {
        if abort.load(Ordering::Relaxed) {
            return Err("aborted".into());
        }
        let (n, _) = match engine.wait(&mut completions, &mut hits, STUCK) {
            Ok(got) => got,
            Err(e) if e.kind == ErrorKind::Timeout => {
                return Err(format!(
                    "no job completed for {} s ({} of {total} completed): the engine looks stuck",
                    STUCK.as_secs(),
                    tally.jobs
                ))
            }
            Err(e) => return Err(format!("wait: {e}")),
        };
        for c in &completions[..n] {
            tally.add(c, &hits)?;
            on_done(c.user_data);
        }
    }
    Ok(tally)
}

/// Scan `jobs` (already in the arena) from `submitters` threads, polling on
/// this one. Returns the seconds from the first enqueue to the last
/// completion.
fn scan_in_arena(engine: &Engine, rule_set_id: u32, jobs: &[Job], submitters: usize) -> Result<(f64, Tally), String> {
    let abort = AtomicBool::new(false);
    let start = Instant::now();
    let result = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..submitters)
            .map(|t| {
                let abort = &abort;
                scope.spawn(move || {
                    for job in jobs.iter().skip(t).step_by(submitters) {
                        if let Err(e) = enqueue(engine, &item(job, rule_set_id), abort) {
                            abort.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let polled = poll_all(engine, jobs.len() as u64, &abort, &|_| {});
        if polled.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        let submitted = handles.into_iter().try_for_each(|h| h.join().expect("submitter"));
        submitted.and(polled)
    });
    let seconds = start.elapsed().as_secs_f64();
    result.map(|tally| (seconds, tally))
}

/// Each job enqueued only after the previous one completed: with
/// `Persistent::Disable` that is one dispatch (submit + fence) per job, the
/// cost a scanner that launches per file pays; resident, one round trip.
fn scan_one_at_a_time(engine: &Engine, rule_set_id: u32, jobs: &[Job]) -> Result<(f64, Tally), String> {
    let abort = AtomicBool::new(false);
    let mut completions = [Completion::default()];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize];
    let mut tally = Tally::default();
    let start = Instant::now();
    for job in jobs {
        enqueue(engine, &item(job, rule_set_id), &abort)?;
        let (n, _) = engine.wait(&mut completions, &mut hits, STUCK).map_err(|e| format!("wait: {e}"))?;
        if n != 1 {
            return Err(format!("waited for one completion, got {n}"));
        }
        tally.add(&completions[0], &hits)?;
    }
    Ok((start.elapsed().as_secs_f64(), tally))
}

/// Copy `bytes` to arena `offset` on up to `threads` threads (1 MiB pieces at least).
fn write_parallel(engine: &Engine, offset: u64, bytes: &[u8], threads: usize) -> Result<(), String> {
    let piece = bytes.len().div_ceil(threads.max(1)).max(1 << 20);
    std::thread::scope(|scope| {
        let handles: Vec<_> = bytes
            .chunks(piece)
            .enumerate()
            .map(|(i, chunk)| scope.spawn(move || engine.write(offset + (i * piece) as u64, chunk)))
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("writer").map_err(|e| format!("arena write: {e}")))
    })
}

/// Host → arena bandwidth: the best of three writes of (up to the arena's
/// size of) the corpus, GB/s.
fn host_to_gpu_bandwidth(engine: &Engine, corpus: &Corpus, writers: usize) -> Result<f64, String> {
    let len = corpus.data.len().min(engine.arena_len() as usize);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        write_parallel(engine, 0, &corpus.data[..len], writers)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(len as f64 / best / 1e9)
}

/// Stream the corpus from host memory: files in order are grouped into
/// batches that fit one arena region; a region is written (by `writers`
/// threads) once every job of its previous batch has completed, then its
/// jobs are enqueued, by another thread, so that writing the next batch
/// goes on meanwhile (enqueueing a 256 MiB file's 16 384 parts takes about
/// 1.5 ms). The time runs from the first write to the last completion.
fn scan_from_host(
    engine: &Engine,
    rule_set_id: u32,
    corpus: &Corpus,
    writers: usize,
) -> Result<(f64, Tally, usize), String> {
    // Regions of 16 MiB (or the largest file, if larger), at least two:
    // while the GPU scans one, the host fills the next.
    let arena = engine.arena_len() as usize;
    let largest = corpus.largest_file();
    let region_bytes = largest.max((arena / 4).min(16 << 20)).div_ceil(16) * 16;
    let regions = (arena / region_bytes).min(16);
    if regions < 2 {
        return Err(format!("the arena ({arena} bytes) cannot hold two copies of the largest file ({largest} bytes)"));
    }
    // Batches: (first file, end file, first byte in the corpus, bytes).
    let mut batches: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut first = 0;
    while first < corpus.files.len() {
        let begin = corpus.files[first].0;
        let mut end = first;
        while end < corpus.files.len() && corpus.files[end].0 + corpus.files[end].1 - begin <= region_bytes {
            end += 1;
        }
        let bytes = corpus.files[end - 1].0 + corpus.files[end - 1].1 - begin;
        batches.push((first, end, begin, bytes));
        first = end;
    }
    // The batch of each file, so the poller can count completions per batch.
    let mut batch_of = vec![0u32; corpus.files.len()];
    for (b, &(first, end, _, _)) in batches.iter().enumerate() {
        batch_of[first..end].fill(b as u32);
    }
    let completed: Vec<AtomicU64> = batches.iter().map(|_| AtomicU64::new(0)).collect();
    let abort = AtomicBool::new(false);
    let start = Instant::now();
    let result = std::thread::scope(|scope| {
        let (batches, completed, abort, batch_of) = (&batches, &completed, &abort, &batch_of);
        let (written, to_enqueue) = std::sync::mpsc::channel::<(usize, u64)>();
        let enqueuer = scope.spawn(move || -> Result<(), String> {
            for (b, base) in to_enqueue {
                let (first, end, begin, _) = batches[b];
                for index in first..end {
                    let (offset, len) = corpus.files[index];
                    let job = Job { index: index as u64, offset: base + (offset - begin) as u64, len: len as u64 };
                    if let Err(e) = enqueue(engine, &item(&job, rule_set_id), abort) {
                        abort.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok(())
        });
        let submitter = scope.spawn(move || -> Result<(), String> {
            for (b, &(_, _, begin, bytes)) in batches.iter().enumerate() {
                let region = b % regions;
                if b >= regions {
                    // The region's previous batch must be done before its bytes change.
                    let (pf, pe, _, _) = batches[b - regions];
                    while completed[b - regions].load(Ordering::Acquire) < (pe - pf) as u64 {
                        if abort.load(Ordering::Relaxed) {
                            return Err("aborted".into());
                        }
                        std::thread::yield_now();
                    }
                }
                let base = (region * region_bytes) as u64;
                write_parallel(engine, base, &corpus.data[begin..begin + bytes], writers)?;
                if written.send((b, base)).is_err() {
                    return Err("the enqueuer stopped".into());
                }
            }
            Ok(())
        });
        let polled = poll_all(engine, corpus.files.len() as u64, abort, &|user_data| {
            completed[batch_of[user_data as usize] as usize].fetch_add(1, Ordering::Release);
        });
        if polled.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        let submitted = submitter.join().expect("submitter");
        let enqueued = enqueuer.join().expect("enqueuer");
        submitted.and(enqueued).and(polled)
    });
    let seconds = start.elapsed().as_secs_f64();
    result.map(|tally| (seconds, tally, regions))
}

fn jobs_of(corpus: &Corpus) -> Vec<Job> {
    corpus
        .files
        .iter()
        .enumerate()
        .map(|(i, &(offset, len))| Job { index: i as u64, offset: offset as u64, len: len as u64 })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    section: &'static str,
    corpus: &Corpus,
    set: &PatternSet,
    engine: &str,
    threads: usize,
    seconds: f64,
    tally: &Tally,
    compile_s: Option<f64>,
    note: String,
) -> Row {
    let note = if tally.truncated > 0 {
        let t = format!("{} jobs over max_hits_per_job: counts only", tally.truncated);
        if note.is_empty() {
            t
        } else {
            format!("{note}; {t}")
        }
    } else {
        note
    };
    Row {
        section,
        corpus: corpus.name.to_string(),
        set: set.label.clone(),
        patterns: set.count(),
        engine: engine.to_string(),
        threads,
        bytes: corpus.bytes() as u64,
        jobs: corpus.files.len() as u64,
        seconds,
        matches: tally.matches,
        checksum: tally.checksum(),
        compile_s,
        check: String::new(),
        note,
    }
}

fn median_run<T>(reps: usize, mut f: impl FnMut() -> Result<(f64, T), String>) -> Result<(f64, T), String> {
    let mut runs = Vec::with_capacity(reps);
    for _ in 0..reps {
        runs.push(f()?);
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(runs.swap_remove(reps / 2))
}

fn describe(engine: &Engine) -> String {
    let info = engine.info();
    format!(
        "{} ({:?} backend, {}, {} lanes, part {} KiB, queue {}, max {} hits/job)",
        info.device_name,
        info.backend,
        if info.resident { "resident kernel" } else { "one dispatch per batch" },
        info.lane_count,
        info.part_bytes / 1024,
        info.queue_depth,
        info.max_hits_per_job
    )
}

/// An engine shaped as `config` says, with up to `MAX_HITS_PER_JOB` hits each;
/// fewer hits per job where the device's largest storage buffer cannot hold
/// them all (lavapipe: 128 MiB).
fn create(config: &Config, persistent: Persistent, arena_bytes: u64, rule_table_bytes: u64) -> Result<Engine, String> {
    let mut max_hits = MAX_HITS_PER_JOB;
    loop {
        match Engine::create(&EngineOptions {
            persistent,
            arena_bytes,
            rule_table_bytes,
            queue_depth: config.queue_depth,
            max_hits_per_job: max_hits,
            workers: config.workers,
            part_bytes: config.part_bytes,
            ..EngineOptions::default()
        }) {
            Ok(engine) => return Ok(engine),
            Err(e) if e.kind == ErrorKind::OutOfMemory && max_hits > 256 => {
                progress(&format!("{e}; retrying with max_hits_per_job {}", max_hits / 2));
                max_hits /= 2;
            }
            Err(e) => return Err(format!("Engine::create ({persistent:?}): {e}")),
        }
    }
}

fn progress(what: &str) {
    eprintln!("bench-scan: vyre: {what}");
}

pub fn run(config: &Config, inputs: &Inputs) -> Result<GpuReport, String> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let submitters = config.vyre_submitters;
    let writers = config.threads.min(8);
    let largest = inputs.corpora.iter().map(Corpus::bytes).max().unwrap_or(0).max(inputs.headline.bytes());
    let arena_bytes = (largest as u64).div_ceil(1 << 20) << 20;
    let rule_table_bytes = inputs.sets.iter().map(|s| s.rules.table_bytes() + 4096).sum::<u64>().max(1 << 20);

    progress("creating the engine (Persistent::Auto)");
    let engine = create(config, Persistent::Auto, arena_bytes, rule_table_bytes)?;
    let device = describe(&engine);
    progress(&device);
    let mut ids = Vec::new();
    for set in &inputs.sets {
        let start = Instant::now();
        let id = engine.load_rule_set(&set.rules).map_err(|e| format!("load_rule_set({}): {e}", set.label))?;
        ids.push((id, start.elapsed().as_secs_f64()));
    }

    // Headline, resident.
    let headline_jobs = jobs_of(&inputs.headline);
    let headline = |engine: &Engine, id: u32, name: &str| -> Result<[Row; 2], String> {
        let set = &inputs.sets[inputs.headline_set.expect("checked by the caller")];
        engine.write(0, &inputs.headline.data).map_err(|e| format!("arena write: {e}"))?;
        progress(&format!("headline, {name}"));
        let (seconds, tally) = median_run(config.reps, || scan_in_arena(engine, id, &headline_jobs, submitters))?;
        let mut r = row("headline", &inputs.headline, set, name, submitters, seconds, &tally, None, String::new());
        let one_name = format!("{name}, 1 by 1");
        progress(&format!("headline, {one_name}"));
        let (one_seconds, one_tally) = median_run(config.reps, || scan_one_at_a_time(engine, id, &headline_jobs))?;
        let mut one =
            row("headline", &inputs.headline, set, &one_name, 1, one_seconds, &one_tally, None, String::new());
        r.note = format!("data in the arena; {}", describe(engine));
        one.note = "each job enqueued after the previous one completed".into();
        Ok([r, one])
    };
    if let Some(index) = inputs.headline_set {
        rows.extend(headline(&engine, ids[index].0, "vyre resident")?);
    } else {
        notes.push("headline skipped: the 1000-literal set is not among --sets".into());
    }

    let mut h2d_best: Option<f64> = None;
    for corpus in &inputs.corpora {
        let h2d = host_to_gpu_bandwidth(&engine, corpus, writers)?;
        progress(&format!("host -> arena writes ({writers} threads), {}: {h2d:.2} GB/s", corpus.name));
        notes.push(format!(
            "host -> GPU bandwidth, {}: {h2d:.2} GB/s (Engine::write from {writers} threads into the mapped arena)",
            corpus.name
        ));
        h2d_best = Some(h2d_best.map_or(h2d, |b: f64| b.max(h2d)));
        let jobs = jobs_of(corpus);
        for (set, &(id, load_s)) in inputs.sets.iter().zip(&ids) {
            write_parallel(&engine, 0, &corpus.data, writers)?;
            progress(&format!("{} on {}, data in the arena", set.label, corpus.name));
            let (seconds, tally) = median_run(config.reps, || scan_in_arena(&engine, id, &jobs, submitters))?;
            rows.push(row(
                "scan",
                corpus,
                set,
                "vyre (in GPU)",
                submitters,
                seconds,
                &tally,
                Some(set.compile_seconds + load_s),
                String::new(),
            ));
            progress(&format!("{} on {}, streamed from host memory", set.label, corpus.name));
            let (seconds, (tally, regions)) =
                median_run(config.reps, || scan_from_host(&engine, id, corpus, writers).map(|(s, t, r)| (s, (t, r))))?;
            rows.push(row(
                "scan",
                corpus,
                set,
                "vyre (from host)",
                1,
                seconds,
                &tally,
                Some(set.compile_seconds + load_s),
                format!("{regions} arena regions, {writers} writer threads"),
            ));
        }
    }
    drop(engine);

    // Headline, one dispatch per batch: its own engine, after the resident one is gone.
    if let Some(index) = inputs.headline_set {
        progress("creating the engine (Persistent::Disable)");
        let set = &inputs.sets[index];
        let engine = create(
            config,
            Persistent::Disable,
            (inputs.headline.bytes() as u64).div_ceil(1 << 20) << 20,
            set.rules.table_bytes() + 4096,
        )?;
        let id = engine.load_rule_set(&set.rules).map_err(|e| format!("load_rule_set: {e}"))?;
        rows.extend(headline(&engine, id, "vyre disable")?);
    }
    Ok(GpuReport { rows, notes, device, h2d_gbps: h2d_best })
}
