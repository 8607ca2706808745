//! The host's cost of `Engine::enqueue` for small jobs: what a scanner of
//! many small files pays per file before the device sees it.
//!
//! cargo run --release --example bench-enqueue -- [reference|vulkan] [JOBS] [REPS]
//!
//! Each rep enqueues JOBS (default 1 000, at most the queue depth of 1 024)
//! jobs of 1 KiB from one thread, timing the run of enqueue calls, then
//! waits for them all; it prints the enqueue time per job. One worker
//! (reference backend) scans meanwhile, as a device would.
//! bench/RESULTS.md records runs.

use std::time::{Duration, Instant};
use vyre::backend::BackendChoice;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, WorkItem};
use vyre::rules::{CompileOptions, Pattern, RuleSet};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match args.first().map(String::as_str) {
        None | Some("reference") => BackendChoice::Reference,
        Some("vulkan") => BackendChoice::Vulkan,
        Some(other) => {
            eprintln!("bench-enqueue: backend {other}? reference or vulkan");
            std::process::exit(2);
        }
    };
    let number = |at: usize, default: u64| {
        args.get(at).map_or(default, |v| {
            v.parse().unwrap_or_else(|e| {
                eprintln!("bench-enqueue: {v}: {e}");
                std::process::exit(2)
            })
        })
    };
    let (jobs, reps) = (number(1, 1000).min(1024), number(2, 5));
    let options = EngineOptions { backend, queue_depth: 1024, arena_bytes: 1 << 20, workers: 1, ..Default::default() };
    let engine = Engine::create(&options).unwrap_or_else(|e| panic!("engine: {e}"));
    let rules = RuleSet::compile(&[Pattern::literal(&b"needle"[..])], &CompileOptions::default()).expect("compiles");
    let id = engine.load_rule_set(&rules).expect("rule set loads");
    engine.write(0, &[b'x'; 1024]).expect("arena write");
    let mut completions = vec![Completion::default(); 1024];
    let mut hits = vec![Hit::default(); 1 << 16];
    println!("{:?} backend, {jobs} jobs of 1 KiB a rep, queue depth 1 024", engine.info().backend);
    for rep in 0..reps {
        let start = Instant::now();
        for k in 0..jobs {
            let item =
                WorkItem { input_offset: 0, input_len: 1024, rule_set_id: id, user_data: k, ..Default::default() };
            engine.enqueue(&item).unwrap_or_else(|e| panic!("enqueue: {e}"));
        }
        let spent = start.elapsed();
        let mut done = 0;
        while done < jobs {
            done += engine.wait(&mut completions, &mut hits, Duration::from_secs(60)).expect("wait").0 as u64;
        }
        println!("rep {rep}: enqueue {:.0} ns a job", spent.as_nanos() as f64 / jobs as f64);
    }
}
