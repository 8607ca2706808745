//! Where the time of a few large scan jobs goes: the host's enqueue (one
//! slot per part) against the device's walk, for data already in the arena.
//!
//! cargo run --release --example bench-large-jobs -- [--mib N] [--files N] [--part-kib N]
//!     [--queue-depth N] [--literals N] [--workers N] [--threads N] [--reps N]
//!
//! Each rep enqueues `files` jobs of `mib` MiB from `threads` threads (1 by
//! default), then waits for all of them, and prints how long the enqueue
//! calls took, when the
//! first and the last job finished, and GB/s (10^9 bytes/s) over the whole.
//! Every job's match count is checked against the aho-corasick crate on the
//! CPU before anything is printed. bench/RESULTS.md records runs.

use aho_corasick::AhoCorasick;
use std::time::{Duration, Instant};
use vyre::backend::BackendChoice;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, WorkItem};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

const USAGE: &str = "bench-large-jobs [--mib N] [--files N] [--part-kib N] [--queue-depth N] [--literals N] \
                     [--workers N] [--threads N] [--reps N]";

struct Config {
    mib: u64,
    files: u64,
    part_kib: u32,
    queue_depth: u32,
    literals: usize,
    workers: u32,
    threads: u64,
    reps: u32,
}

fn parse() -> Result<Config, String> {
    let mut config =
        Config { mib: 256, files: 4, part_kib: 16, queue_depth: 16384, literals: 10, workers: 0, threads: 1, reps: 4 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}\n{USAGE}"));
        match flag.as_str() {
            "--mib" => config.mib = number(&value)?,
            "--files" => config.files = number(&value)?,
            "--part-kib" => config.part_kib = number(&value)? as u32,
            "--queue-depth" => config.queue_depth = number(&value)? as u32,
            "--literals" => config.literals = number(&value)? as usize,
            "--workers" => config.workers = number(&value)? as u32,
            "--threads" => config.threads = number(&value)?.max(1),
            "--reps" => config.reps = number(&value)? as u32,
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(config)
}

/// xorshift64: the same bytes on every machine.
struct Rng(u64);

impl Rng {
    fn letter(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        b'a' + (self.0 % 26) as u8
    }
}

/// `count` literals of 8-16 lower-case letters; the first is planted in the data.
fn literals(count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(99);
    (0..count.max(1)).map(|i| (0..8 + i % 9).map(|_| rng.letter()).collect()).collect()
}

/// Random letters with the first literal planted 1000 times.
fn data(bytes: usize, planted: &[u8]) -> Vec<u8> {
    let mut rng = Rng(12345);
    let mut data: Vec<u8> = (0..bytes).map(|_| rng.letter()).collect();
    for k in 0..1000 {
        let at = (k * 7919 * 31) % (bytes - planted.len());
        data[at..at + planted.len()].copy_from_slice(planted);
    }
    data
}

fn main() {
    let config = parse().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let bytes = config.mib << 20;
    let literals = literals(config.literals);
    let data = data(bytes as usize, &literals[0]);
    let expected = AhoCorasick::new(&literals).expect("literals build").find_overlapping_iter(&data).count() as u64;
    let engine = Engine::create(&EngineOptions {
        backend: BackendChoice::Auto,
        queue_depth: config.queue_depth,
        arena_bytes: bytes * config.files,
        part_bytes: config.part_kib << 10,
        workers: config.workers,
        ..EngineOptions::default()
    })
    .unwrap_or_else(|e| panic!("engine: {e}"));
    let patterns: Vec<Pattern> = literals.iter().map(|l| Pattern::literal(l.clone())).collect();
    let rules = RuleSet::compile(&patterns, &CompileOptions::default()).expect("literals compile");
    let id = engine.load_rule_set(&rules).expect("rule set loads");
    for file in 0..config.files {
        engine.write(file * bytes, &data).expect("arena write");
    }
    println!(
        "{} x {} MiB, {} literals, part {} KiB, queue depth {}, workers {} (0: default), {} enqueue thread(s)",
        config.files,
        config.mib,
        literals.len(),
        config.part_kib,
        config.queue_depth,
        config.workers,
        config.threads
    );
    let mut completions = vec![Completion::default(); 64];
    let mut hits = vec![Hit::default(); 1 << 16];
    for rep in 0..config.reps {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for thread in 0..config.threads {
                let engine = &engine;
                scope.spawn(move || {
                    for file in (thread..config.files).step_by(config.threads as usize) {
                        let input_offset = file * bytes;
                        let item = WorkItem {
                            input_offset,
                            input_len: bytes,
                            rule_set_id: id,
                            flags: 0,
                            user_data: file,
                            ..Default::default()
                        };
                        engine.enqueue(&item).expect("enqueue");
                    }
                });
            }
        });
        let enqueued = start.elapsed();
        let (mut done, mut first) = (0, None);
        while done < config.files as usize {
            let (count, _) = engine.wait(&mut completions, &mut hits, Duration::from_secs(60)).expect("wait");
            for completion in &completions[..count] {
                assert_eq!(completion.status, 0, "job {} failed", completion.user_data);
                assert_eq!(completion.hit_count, expected, "job {}: matches against the CPU", completion.user_data);
            }
            first = first.or((count > 0).then(|| start.elapsed()));
            done += count;
        }
        let all = start.elapsed();
        println!(
            "rep {rep}: enqueue {:.2} ms, first job done {:.2} ms, all done {:.2} ms, {:.1} GB/s ({expected} matches a job)",
            enqueued.as_secs_f64() * 1e3,
            first.unwrap_or(all).as_secs_f64() * 1e3,
            all.as_secs_f64() * 1e3,
            (config.files * bytes) as f64 / all.as_secs_f64() / 1e9
        );
    }
}
