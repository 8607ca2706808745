//! The benchmark's rows, and how they are shown: a table on stdout, the
//! targets, a CSV and an SVG chart (written by hand: grouped bars, log Y).

use std::fmt::Write as _;
use std::io::Write as _;

/// One measurement: an engine scanning a corpus with a pattern set.
#[derive(Clone, Debug)]
pub struct Row {
    /// "headline" (vyre resident vs one dispatch per batch) or "scan".
    pub section: &'static str,
    pub corpus: String,
    pub set: String,
    pub patterns: usize,
    pub engine: String,
    /// Host threads scanning (CPU engines) or submitting (vyre).
    pub threads: usize,
    pub bytes: u64,
    pub jobs: u64,
    pub seconds: f64,
    pub matches: u64,
    /// Sum of `match_hash` over every match; None where the engine did not
    /// return every match (vyre jobs with more hits than max_hits_per_job).
    pub checksum: Option<u64>,
    pub compile_s: Option<f64>,
    /// "ref", "ok", "ok (count)", "MISMATCH", or empty before checking.
    pub check: String,
    pub note: String,
}

impl Row {
    pub fn gb_per_s(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e9
    }

    pub fn jobs_per_s(&self) -> f64 {
        self.jobs as f64 / self.seconds
    }

    /// Compare with the reference; prints a MISMATCH line and returns false
    /// when they disagree.
    pub fn check_against(&mut self, matches: u64, checksum: u64, reference: &str) -> bool {
        let count_ok = self.matches == matches;
        let sum_ok = self.checksum.map_or(true, |c| c == checksum);
        self.check = match (count_ok && sum_ok, self.checksum.is_some()) {
            (true, true) => "ok".into(),
            (true, false) => "ok (count)".into(),
            (false, _) => "MISMATCH".into(),
        };
        if !(count_ok && sum_ok) {
            println!(
                "MISMATCH: {} on {}, {}: {} matches (checksum {}) but {} found {} (checksum {:016x})",
                self.engine,
                self.corpus,
                self.set,
                self.matches,
                self.checksum.map_or("not computed".into(), |c| format!("{c:016x}")),
                reference,
                matches,
                checksum
            );
        }
        count_ok && sum_ok
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn gb(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 0.1 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

pub fn print_table(rows: &[Row]) {
    let header = format!(
        "{:<9} {:<11} {:<13} {:<17} {:>4} {:>8} {:>7} {:>9} {:>8} {:>11} {:>11} {:<10} {:>8}",
        "section",
        "corpus",
        "set",
        "engine",
        "thr",
        "MiB",
        "jobs",
        "seconds",
        "GB/s",
        "jobs/s",
        "matches",
        "check",
        "build s"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut last = (String::new(), String::new());
    for r in rows {
        if (r.corpus.clone(), r.set.clone()) != last && !last.0.is_empty() && r.section == "scan" {
            println!();
        }
        last = (r.corpus.clone(), r.set.clone());
        println!(
            "{:<9} {:<11} {:<13} {:<17} {:>4} {:>8.1} {:>7} {:>9.4} {:>8} {:>11} {:>11} {:<10} {:>8}{}",
            r.section,
            r.corpus,
            r.set,
            r.engine,
            r.threads,
            r.bytes as f64 / (1u64 << 20) as f64,
            r.jobs,
            r.seconds,
            gb(r.gb_per_s()),
            thousands(r.jobs_per_s().round() as u64),
            thousands(r.matches),
            r.check,
            r.compile_s.map_or("-".into(), |s| format!("{s:.2}")),
            if r.note.is_empty() { String::new() } else { format!("  {}", r.note) }
        );
    }
}

fn find<'a>(rows: &'a [Row], corpus: &str, set: &str, engine: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.section == "scan" && r.corpus == corpus && r.set == set && r.engine == engine)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// The issue's targets, each next to what this run measured.
pub fn print_targets(rows: &[Row], h2d_gbps: Option<f64>, threads: usize) {
    let corpora: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for r in rows.iter().filter(|r| r.section == "scan") {
            if !v.contains(&r.corpus) {
                v.push(r.corpus.clone());
            }
        }
        v
    };
    // Resident vs one dispatch per batch, then the same one job at a time
    // (one dispatch per job).
    for suffix in ["", ", 1 by 1"] {
        let find = |name: &str| rows.iter().find(|r| r.section == "headline" && r.engine == format!("{name}{suffix}"));
        if let (Some(a), Some(b)) = (find("vyre resident"), find("vyre disable")) {
            println!(
                "headline: {} jobs x 1 KiB, {}: {} {:.4} s ({} jobs/s) vs {} {:.4} s ({} jobs/s): {:.1}x",
                a.jobs,
                a.set,
                a.engine,
                a.seconds,
                thousands(a.jobs_per_s() as u64),
                b.engine,
                b.seconds,
                thousands(b.jobs_per_s() as u64),
                b.seconds / a.seconds
            );
        }
    }
    println!("targets:");
    let in_gpu = "vyre (in GPU)";
    let from_host = "vyre (from host)";
    let mut any = false;
    for corpus in &corpora {
        if let Some(r) = find(rows, corpus, "1000 literals", in_gpu) {
            let v = r.gb_per_s();
            println!(
                "  data already in GPU memory >= 200 GB/s at 1 000 literals, {corpus}: {} GB/s ({})",
                gb(v),
                verdict(v >= 200.0)
            );
            any = true;
        }
    }
    for corpus in &corpora {
        for set in rows.iter().filter(|r| r.corpus == *corpus && r.engine == from_host).map(|r| r.set.clone()) {
            let (Some(r), Some(h2d)) = (find(rows, corpus, &set, from_host), h2d_gbps) else { continue };
            let v = r.gb_per_s();
            println!(
                "  data from host memory >= 80% of host->GPU bandwidth ({} GB/s in this run), {corpus}, {set}: {} GB/s = {:.0}% ({})",
                gb(h2d),
                gb(v),
                100.0 * v / h2d,
                verdict(v >= 0.8 * h2d)
            );
            any = true;
        }
    }
    for corpus in &corpora {
        let Some(hs) = find(rows, corpus, "5000 literals", "hyperscan") else { continue };
        for engine in [in_gpu, from_host] {
            if let Some(r) = find(rows, corpus, "5000 literals", engine) {
                let ratio = r.gb_per_s() / hs.gb_per_s();
                println!(
                    "  >= 10x Hyperscan on all cores ({threads} threads, {} GB/s) at 5 000 literals, {corpus}, {engine}: {} GB/s = {ratio:.1}x ({})",
                    gb(hs.gb_per_s()),
                    gb(r.gb_per_s()),
                    verdict(ratio >= 10.0)
                );
                any = true;
            }
        }
    }
    if !any {
        println!("  not measured: the targets need the vyre rows (and Hyperscan for the third)");
    }
}

fn csv_text(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn write_csv(path: &str, device: &str, rows: &[Row]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    writeln!(
        file,
        "device,section,corpus,set,patterns,engine,threads,bytes,jobs,seconds,gb_per_s,jobs_per_s,matches,checksum,build_s,check,note"
    )?;
    for r in rows {
        writeln!(
            file,
            "{},{},{},{},{},{},{},{},{},{:.6},{:.4},{:.1},{},{},{},{},{}",
            csv_text(device),
            r.section,
            csv_text(&r.corpus),
            csv_text(&r.set),
            r.patterns,
            csv_text(&r.engine),
            r.threads,
            r.bytes,
            r.jobs,
            r.seconds,
            r.gb_per_s(),
            r.jobs_per_s(),
            r.matches,
            r.checksum.map_or(String::new(), |c| format!("{c:016x}")),
            r.compile_s.map_or(String::new(), |s| format!("{s:.3}")),
            r.check,
            csv_text(&r.note)
        )?;
    }
    Ok(())
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Engines in the order of the table and the chart, with their colours.
pub const ENGINE_ORDER: [&str; 10] = [
    "vyre resident",
    "vyre disable",
    "vyre resident, 1 by 1",
    "vyre disable, 1 by 1",
    "vyre (in GPU)",
    "vyre (from host)",
    "hyperscan",
    "aho-corasick",
    "regex",
    "vyre-cpu",
];
const COLORS: [&str; 10] =
    ["#1b9e77", "#66c2a5", "#1b9e77", "#66c2a5", "#1b9e77", "#66c2a5", "#d95f02", "#7570b3", "#e7298a", "#a6761d"];

fn color(engine: &str) -> &'static str {
    ENGINE_ORDER.iter().position(|e| *e == engine).map_or("#999999", |i| COLORS[i])
}

/// Grouped bars, one panel per corpus: a group per pattern set, a bar per
/// engine, GB/s on a log scale; the 200 GB/s target as a dashed line.
pub fn write_svg(path: &str, device: &str, rows: &[Row]) -> std::io::Result<()> {
    let scan: Vec<&Row> = rows.iter().filter(|r| r.section == "scan" && r.seconds > 0.0).collect();
    let mut corpora: Vec<&str> = Vec::new();
    let mut sets: Vec<&str> = Vec::new();
    let mut engines: Vec<&str> = Vec::new();
    for r in &scan {
        for (list, v) in [(&mut corpora, &r.corpus), (&mut sets, &r.set), (&mut engines, &r.engine)] {
            if !list.contains(&v.as_str()) {
                list.push(v.as_str());
            }
        }
    }
    let values: Vec<f64> = scan.iter().map(|r| r.gb_per_s()).filter(|v| *v > 0.0).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max).max(200.0);
    let (lo_exp, hi_exp) =
        if values.is_empty() { (-1, 3) } else { (lo.log10().floor() as i32, hi.log10().ceil() as i32) };
    let hi_exp = hi_exp.max(lo_exp + 1);

    let (width, left, right, top, panel_h, gap) = (1000.0, 70.0, 20.0, 84.0, 320.0, 70.0);
    let plot_w = width - left - right;
    let height = top + corpora.len().max(1) as f64 * (panel_h + gap) + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" font-size="16" text-anchor="middle">Scan throughput, GB/s (log scale; 1 GB = 10^9 bytes)</text>"#,
        width / 2.0
    );
    let device: String = device.chars().take(160).collect();
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="40" font-size="11" fill="#444" text-anchor="middle">vyre device: {}</text>"##,
        width / 2.0,
        xml(&device)
    );
    // Legend.
    let mut x = left;
    for engine in &engines {
        let _ = writeln!(svg, r#"<rect x="{x}" y="50" width="14" height="14" fill="{}"/>"#, color(engine));
        let _ = writeln!(svg, r#"<text x="{}" y="62">{}</text>"#, x + 18.0, xml(engine));
        x += 26.0 + 7.5 * engine.len() as f64;
    }
    for (p, corpus) in corpora.iter().enumerate() {
        let y0 = top + p as f64 * (panel_h + gap) + 20.0;
        let y_of = |v: f64| {
            let t = (v.log10() - lo_exp as f64) / (hi_exp - lo_exp) as f64;
            y0 + panel_h * (1.0 - t.clamp(0.0, 1.0))
        };
        let _ = writeln!(
            svg,
            r#"<text x="{left}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            y0 - 8.0,
            xml(corpus)
        );
        for e in lo_exp..=hi_exp {
            let y = y_of(10f64.powi(e));
            let label = if e >= 0 { format!("{}", 10u64.pow(e as u32)) } else { format!("{}", 10f64.powi(e)) };
            let _ = writeln!(
                svg,
                r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
                left + plot_w,
                left - 6.0,
                y + 4.0
            );
        }
        let target = y_of(200.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{target:.1}" x2="{}" y2="{target:.1}" stroke="#c00" stroke-dasharray="6,4"/><text x="{}" y="{:.1}" fill="#c00" text-anchor="end">target 200 GB/s (1 000 literals, data in GPU memory)</text>"##,
            left + plot_w,
            left + plot_w,
            target - 4.0
        );
        let _ = writeln!(
            svg,
            r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">GB/s</text>"#,
            y0 + panel_h / 2.0
        );
        let group_w = plot_w / sets.len().max(1) as f64;
        let bar_w = group_w * 0.8 / engines.len().max(1) as f64;
        for (g, set) in sets.iter().enumerate() {
            let gx = left + g as f64 * group_w + group_w * 0.1;
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                left + (g as f64 + 0.5) * group_w,
                y0 + panel_h + 18.0,
                xml(set)
            );
            for (b, engine) in engines.iter().enumerate() {
                let Some(r) = scan.iter().find(|r| r.corpus == *corpus && r.set == *set && r.engine == *engine) else {
                    continue;
                };
                let v = r.gb_per_s();
                let (x, y) = (gx + b as f64 * bar_w, y_of(v));
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} GB/s, {} matches{}</title></rect>"#,
                    bar_w * 0.92,
                    (y0 + panel_h - y).max(0.5),
                    color(engine),
                    xml(engine),
                    gb(v),
                    r.matches,
                    if r.check == "MISMATCH" { " (MISMATCH)" } else { "" }
                );
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                    x + bar_w * 0.46,
                    y - 3.0,
                    gb(v)
                );
            }
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#333"/>"##,
            y0 + panel_h,
            left + plot_w,
            y0 + panel_h
        );
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}
