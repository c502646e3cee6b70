//! `needle import`: stream a JSON Lines file into the engine in durable batches.

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use needle_search::{Engine, Rejection, SearchResponse};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Instant;

/// What an import did.
pub struct ImportSummary {
    /// Lines read.
    pub lines: usize,
    /// Records stored.
    pub accepted: usize,
    /// Records refused (index = line number - 1).
    pub rejected: Vec<Rejection>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl ImportSummary {
    /// Print the summary and the first `show` rejections to stderr.
    pub fn print(&self, show: usize) {
        eprintln!(
            "imported {} of {} records in {:.1}s ({:.0} records/s); {} rejected",
            self.accepted,
            self.lines,
            self.seconds,
            self.accepted as f64 / self.seconds.max(1e-9),
            self.rejected.len()
        );
        for r in self.rejected.iter().take(show) {
            eprintln!("  line {}: [{}] {}", r.index + 1, r.code, r.message);
        }
        if self.rejected.len() > show {
            eprintln!("  … and {} more", self.rejected.len() - show);
        }
    }
}

fn open(path: &Path) -> Result<(Box<dyn BufRead>, u64)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let counted = CountingReader { inner: f, pb: None };
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    Ok((Box::new(BufReader::with_capacity(1 << 20, r)), size))
}

struct CountingReader<R> {
    inner: R,
    pb: Option<ProgressBar>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(pb) = &self.pb {
            pb.inc(n as u64);
        }
        Ok(n)
    }
}

/// Import a `.jsonl` or `.jsonl.gz` file; bad lines are rejected one by one.
pub fn import_file(engine: &Engine, path: &Path, batch: usize, progress: bool) -> Result<ImportSummary> {
    let started = Instant::now();
    let (reader, _size) = open(path)?;
    let pb = if progress {
        let pb = ProgressBar::new_spinner();
        pb.set_style(ProgressStyle::with_template(
            "{spinner} {pos} records {per_sec} {elapsed_precise} {msg}",
        )?);
        pb
    } else {
        ProgressBar::hidden()
    };
    let batch = batch.max(1);
    let mut summary = ImportSummary {
        lines: 0,
        accepted: 0,
        rejected: vec![],
        seconds: 0.0,
    };
    let mut values = Vec::with_capacity(batch);
    let mut line_of = Vec::with_capacity(batch);
    let flush = |values: &mut Vec<serde_json::Value>, line_of: &mut Vec<usize>, s: &mut ImportSummary| -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let report = engine.write_values(std::mem::take(values))?;
        s.accepted += report.accepted;
        s.rejected.extend(report.rejected.into_iter().map(|r| Rejection {
            index: line_of[r.index],
            ..r
        }));
        pb.inc(line_of.len() as u64);
        line_of.clear();
        Ok(())
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {} at line {}", path.display(), i + 1))?;
        summary.lines += 1;
        if line.trim().is_empty() {
            summary.lines -= 1;
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => {
                values.push(v);
                line_of.push(i);
            }
            Err(e) => summary.rejected.push(Rejection {
                index: i,
                code: "invalid_json".into(),
                message: format!("line {}: {e}", i + 1),
            }),
        }
        if values.len() >= batch {
            flush(&mut values, &mut line_of, &mut summary)?;
        }
    }
    flush(&mut values, &mut line_of, &mut summary)?;
    engine.refresh()?;
    pb.set_message("merging index segments");
    engine.optimize()?;
    pb.finish_and_clear();
    summary.rejected.sort_by_key(|r| r.index);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Print search hits as a table.
pub fn print_table(res: &SearchResponse) {
    println!("{} hits in {:.2} ms", res.total, res.took_ms);
    println!("{:>3}  {:<9} {:>7}  {:<50} by / in", "#", "type", "score", "name");
    for (i, h) in res.hits.iter().enumerate() {
        let by = if !h.artists.is_empty() {
            h.artists.join(", ")
        } else if let Some(s) = h.show.as_ref().or(h.audiobook.as_ref()).or(h.publisher.as_ref()) {
            s.clone()
        } else {
            h.authors.join(", ")
        };
        let name: String = h.name.chars().take(50).collect();
        println!(
            "{:>3}  {:<9} {:>7.3}  {:<50} {}",
            i + 1,
            h.kind.as_str(),
            h.score,
            name,
            by
        );
    }
}

/// One line of a query file for `needle bench-queries`.
#[derive(serde::Deserialize)]
struct BenchQuery {
    q: String,
    #[serde(default)]
    types: Vec<needle_core::EntityType>,
    limit: Option<usize>,
    user_id: Option<String>,
}

/// Run every query of a file in-process; write ids and latency per query.
pub fn bench_queries(engine: &Engine, file: &Path, out: Option<&Path>, repeat: usize) -> Result<()> {
    use std::io::Write;
    let (reader, _) = open(file)?;
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut lat = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let q: BenchQuery =
            serde_json::from_str(&line).with_context(|| format!("{} line {}", file.display(), i + 1))?;
        let req = needle_search::SearchRequest {
            q: q.q.clone(),
            types: q.types,
            limit: q.limit.or(Some(10)),
            user_id: q.user_id,
            ..Default::default()
        };
        let mut micros = 0u128;
        let mut res = None;
        for _ in 0..repeat {
            let t = Instant::now();
            res = Some(engine.search(&req)?);
            micros = t.elapsed().as_micros();
        }
        lat.push(micros);
        let ids: Vec<&str> = res
            .as_ref()
            .map(|r| r.hits.iter().map(|h| h.id.as_str()).collect())
            .unwrap_or_default();
        writeln!(sink, "{}", serde_json::json!({"q": q.q, "ids": ids, "micros": micros}))?;
    }
    sink.flush()?;
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    eprintln!(
        "{} queries: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(0.5),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
