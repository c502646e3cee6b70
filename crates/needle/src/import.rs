//! `needle import` and `needle import-events`: stream a JSON Lines file into the engine
//! in durable batches, with a progress bar over the file's bytes.

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use fs_err::File;
use indicatif::{ProgressBar, ProgressStyle};
use needle_search::{Rejection, SearchResponse};
use needle_service::Service;
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
        print_rejections(&self.rejected, show);
    }
}

/// What an events import did.
pub struct EventImportSummary {
    /// Lines read (blank lines excluded).
    pub lines: usize,
    /// Events stored.
    pub accepted: usize,
    /// Events whose `event_id` was already stored (not counted again).
    pub duplicates: usize,
    /// Events refused (index = line number - 1).
    pub rejected: Vec<Rejection>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl EventImportSummary {
    /// Print the summary and the first `show` rejections to stderr.
    pub fn print(&self, show: usize) {
        eprintln!(
            "imported {} of {} events in {:.1}s ({:.0} events/s); {} duplicates, {} rejected",
            self.accepted,
            self.lines,
            self.seconds,
            self.accepted as f64 / self.seconds.max(1e-9),
            self.duplicates,
            self.rejected.len()
        );
        print_rejections(&self.rejected, show);
    }
}

fn print_rejections(rejected: &[Rejection], show: usize) {
    for r in rejected.iter().take(show) {
        eprintln!("  line {}: [{}] {}", r.index + 1, r.code, r.message);
    }
    if rejected.len() > show {
        eprintln!("  … and {} more", rejected.len() - show);
    }
}

/// Open a `.jsonl` or `.jsonl.gz` file; the returned reader counts the file's (compressed)
/// bytes into `pb`, so a bar of the file's size shows the progress through it.
fn open(path: &Path, pb: Option<ProgressBar>) -> Result<Box<dyn BufRead + Send>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let counted = CountingReader { inner: f, pb };
    let r: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, r)))
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

/// A progress bar over the bytes of `path` (hidden without `progress`).
fn file_bar(path: &Path, progress: bool) -> Result<ProgressBar> {
    if !progress {
        return Ok(ProgressBar::hidden());
    }
    let size = fs_err::metadata(path).map(|m| m.len()).unwrap_or(0);
    let pb = ProgressBar::new(size);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {percent:>3}% {binary_bytes}/{binary_total_bytes} eta {eta} {msg}",
        )?
        .progress_chars("=> "),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    Ok(pb)
}

/// What [`stream_batches`] saw: non-blank lines and every rejection, by line.
struct Streamed {
    lines: usize,
    rejected: Vec<Rejection>,
}

/// Stream a JSON Lines file in batches of `batch` values to `sink`, which returns the
/// rejections of its batch (indexes into the batch). Lines that are not JSON are rejected
/// as `invalid_json`; every rejection's index is mapped to its line number - 1. `after`
/// runs after each batch with the total of lines read so far.
fn stream_batches(
    reader: Box<dyn BufRead + Send>,
    path: &Path,
    batch: usize,
    mut sink: impl FnMut(Vec<serde_json::Value>) -> Result<Vec<Rejection>>,
    mut after: impl FnMut(usize),
) -> Result<Streamed> {
    let batch = batch.max(1);
    let mut out = Streamed {
        lines: 0,
        rejected: Vec::new(),
    };
    // Reading, gunzipping and parsing run on their own thread, one batch ahead of the
    // sink, so the next batch is ready when the engine has stored the last one.
    std::thread::scope(|scope| -> Result<()> {
        // Created in the scope so that an early return drops the receiver, which stops the
        // reader thread before the scope waits for it.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Parsed>>(2);
        let reader_thread = scope.spawn(move || parse_batches(reader, path, batch, &tx));
        for parsed in rx.iter() {
            let parsed = parsed?;
            out.lines += parsed.lines;
            out.rejected.extend(parsed.invalid);
            if parsed.values.is_empty() {
                continue;
            }
            let line_of = parsed.line_of;
            let rejected = sink(parsed.values)?;
            out.rejected.extend(rejected.into_iter().map(|r| Rejection {
                index: line_of.get(r.index).copied().unwrap_or(r.index),
                ..r
            }));
            after(out.lines);
        }
        // The reader stops early only when the sink side hung up (after an error above).
        let _ = reader_thread.join();
        Ok(())
    })?;
    out.rejected.sort_by_key(|r| r.index);
    Ok(out)
}

/// One parsed batch: values with their line indexes, lines that were not JSON, and the
/// count of non-blank lines read for it.
struct Parsed {
    values: Vec<serde_json::Value>,
    line_of: Vec<usize>,
    invalid: Vec<Rejection>,
    lines: usize,
}

impl Parsed {
    fn with_capacity(n: usize) -> Self {
        Parsed {
            values: Vec::with_capacity(n),
            line_of: Vec::with_capacity(n),
            invalid: Vec::new(),
            lines: 0,
        }
    }
}

/// The reader thread of [`stream_batches`]: sends batches until the file ends, an IO
/// error (sent on), or the receiver is gone.
fn parse_batches(
    reader: Box<dyn BufRead + Send>,
    path: &Path,
    batch: usize,
    tx: &std::sync::mpsc::SyncSender<Result<Parsed>>,
) {
    let mut cur = Parsed::with_capacity(batch);
    for (i, line) in reader.lines().enumerate() {
        let line = match line.with_context(|| format!("reading {} at line {}", path.display(), i + 1)) {
            Ok(l) => l,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        cur.lines += 1;
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => {
                cur.values.push(v);
                cur.line_of.push(i);
            }
            Err(e) => cur.invalid.push(Rejection {
                index: i,
                code: "invalid_json".into(),
                message: format!("line {}: {e}", i + 1),
            }),
        }
        if cur.values.len() >= batch
            && tx
                .send(Ok(std::mem::replace(&mut cur, Parsed::with_capacity(batch))))
                .is_err()
        {
            return;
        }
    }
    let _ = tx.send(Ok(cur));
}

/// Import a `.jsonl` or `.jsonl.gz` catalog file; bad lines are rejected one by one.
pub fn import_file(engine: &Service, path: &Path, batch: usize, progress: bool, merge: bool) -> Result<ImportSummary> {
    let started = Instant::now();
    let pb = file_bar(path, progress)?;
    let reader = open(path, Some(pb.clone()))?;
    let mut accepted = 0usize;
    // One batch stays queued behind the one being written: validation of the next batch
    // and the writer's work overlap. Rejections are known at submission.
    let mut pending: Option<needle_service::PendingWrite> = None;
    let streamed = stream_batches(
        reader,
        path,
        batch,
        |values| {
            let mut next = engine.submit_values(values)?;
            accepted += next.accepted();
            let rejected = next.take_rejected();
            if let Some(p) = pending.replace(next) {
                p.wait()?;
            }
            Ok(rejected)
        },
        |lines| pb.set_message(format!("{lines} records")),
    )?;
    if let Some(p) = pending.take() {
        p.wait()?;
    }
    engine.refresh()?;
    if merge {
        pb.set_message("merging index segments");
        engine.optimize()?;
    }
    pb.finish_and_clear();
    Ok(ImportSummary {
        lines: streamed.lines,
        accepted,
        rejected: streamed.rejected,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Import a `.jsonl` or `.jsonl.gz` file of listening events (the `POST /v1/events`
/// format) in durable batches; bad lines are rejected one by one, events whose
/// `event_id` is already stored are counted as duplicates.
pub fn import_events(engine: &Service, path: &Path, batch: usize, progress: bool) -> Result<EventImportSummary> {
    let started = Instant::now();
    let pb = file_bar(path, progress)?;
    let reader = open(path, Some(pb.clone()))?;
    let (mut accepted, mut duplicates) = (0usize, 0usize);
    let streamed = stream_batches(
        reader,
        path,
        batch,
        |values| {
            let report = engine.ingest_events(values)?;
            accepted += report.accepted;
            duplicates += report.duplicates;
            Ok(report.rejected)
        },
        |lines| {
            let rate = lines as f64 / started.elapsed().as_secs_f64().max(1e-9);
            pb.set_message(format!("{lines} events ({rate:.0}/s)"));
        },
    )?;
    pb.finish_and_clear();
    Ok(EventImportSummary {
        lines: streamed.lines,
        accepted,
        duplicates,
        rejected: streamed.rejected,
        seconds: started.elapsed().as_secs_f64(),
    })
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
    for (facet, counts) in res.facets.iter().flatten() {
        let values: Vec<String> = counts.0.iter().map(|(v, n)| format!("{v} ({n})")).collect();
        println!("{facet}: {}", values.join(", "));
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
pub fn bench_queries(engine: &Service, file: &Path, out: Option<&Path>, repeat: usize) -> Result<()> {
    use std::io::Write;
    let reader = open(file, None)?;
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

/// Embed every spoken-word entity whose vector is missing or stale (semantic search), with
/// progress; nothing without an installed model.
pub fn embed_all(service: &Service, progress: bool) -> Result<()> {
    let st = match service.semantic_status() {
        Ok(st) => st,
        Err(why) => {
            eprintln!("semantic search: {why}");
            return Ok(());
        }
    };
    let started = std::time::Instant::now();
    let types: Vec<&str> = st.types.iter().map(|t| t.as_str()).collect();
    eprintln!(
        "embedding {} with {} ({} vectors stored)",
        types.join(", "),
        st.model.unwrap_or_default(),
        st.vectors
    );
    while !service.wait_semantic_idle(std::time::Duration::from_secs(10)) {
        if progress {
            if let Ok(st) = service.semantic_status() {
                eprintln!(
                    "  {} embedded, {} waiting, {:.0}/s{}",
                    st.embedded,
                    st.pending,
                    st.embedded_per_s,
                    if st.reconciling { " (checking the catalog)" } else { "" }
                );
            }
        }
    }
    if let Ok(st) = service.semantic_status() {
        eprintln!(
            "embedded {} entities in {:.1} s ({:.0}/s of embedding); {} vectors, {:.1} MiB in memory",
            st.embedded,
            started.elapsed().as_secs_f64(),
            st.embedded_per_s,
            st.vectors,
            st.vector_bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}
