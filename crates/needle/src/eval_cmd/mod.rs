//! `needle eval`: the offline evaluation runner (RecBole protocol on HetRec Last.fm,
//! several seeds). Flags and defaults: [`EvalArgs`] (`needle eval --help`).
//!
//! needle eval --data ../shared/data/hetrec2011-lastfm-2k --seeds 3

mod configs;
mod hnsw;

use anyhow::{Context, Result};
use clap::builder::PossibleValuesParser;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

use needle_recs::datasets::{load_lastfm_artist_tags, load_lastfm_user_artists};
use needle_recs::eval::{
    markdown_table, paired_difference, recbole_split, run_holdout, run_recbole, standard_error, tune, Metric, SeedRun,
    PUBLISHED_LASTFM,
};
use needle_recs::ModelConfig;

use configs::{default_config, grid};
use hnsw::hnsw_report;

/// The models `--models` knows.
const KNOWN: [&str; 7] = ["als", "als_log", "ease", "rp3beta", "item_knn", "popularity", "auto"];

/// Options of `needle eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The hetrec2011-lastfm-2k folder (user_artists.dat, user_taggedartists.dat).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Number of split seeds (seeds 0..N).
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// Cut-off of the top-k metrics.
    #[arg(long, value_name = "K", default_value_t = 10)]
    k: usize,
    /// Rayon threads (0: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Models to evaluate, comma-separated, each with its best configuration from the
    /// validation grid (docs/EVALUATION.md).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "als,als_log,ease,rp3beta,item_knn,popularity,auto",
        value_parser = PossibleValuesParser::new(KNOWN)
    )]
    models: Vec<String>,
    /// Grid-search every model on the validation part of seed 0 first.
    #[arg(long)]
    tune: bool,
    /// Also run the listener-holdout protocol (10% unseen listeners, fold-in).
    #[arg(long)]
    holdout: bool,
    /// Measure HNSW recall@k against exact search on the ALS item vectors.
    #[arg(long)]
    hnsw: bool,
    /// Write the splits as DIR/split_seed{S}.tsv (for py/implicit_baseline.py and
    /// bench/recs_api_eval.py), and with --holdout the listener-holdout splits as
    /// DIR/holdout_seed{S}.tsv.
    #[arg(long, value_name = "DIR")]
    write_split: Option<PathBuf>,
    /// Write all runs as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Tune these model configs on the validation part of seed 0 and exit (a JSON array,
    /// e.g. '[{"model":"ease","lambda":300}]').
    #[arg(long, value_name = "JSON", value_parser = parse_configs)]
    candidates: Option<Configs>,
    /// Evaluate exactly these model configs (a JSON array) instead of --models.
    #[arg(long, value_name = "JSON", value_parser = parse_configs)]
    run: Option<Configs>,
}

/// Model configs given as JSON on the command line.
#[derive(Clone, Debug)]
pub struct Configs(Vec<ModelConfig>);

fn parse_configs(s: &str) -> std::result::Result<Configs, String> {
    serde_json::from_str(s)
        .map(Configs)
        .map_err(|e| format!("expected a JSON array of model configs: {e}"))
}

/// Run `needle eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    if args.threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global()
            .context("rayon pool")?;
    }
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let data = load_lastfm_user_artists(&args.data).context("load user_artists.dat")?;
    let tags = load_lastfm_artist_tags(&args.data, &data.items, 10).context("load user_taggedartists.dat")?;
    println!(
        "# Needle recs evaluation\n\ndata: {} users, {} artists, {} pairs (loaded in {:.2}s); threads: {threads}; k = {}\n",
        data.users.len(),
        data.items.len(),
        data.matrix.nnz(),
        t.elapsed().as_secs_f64(),
        args.k
    );
    let splits: Vec<_> = (0..args.seeds).map(|s| recbole_split(&data, s)).collect();
    if let Some(dir) = &args.write_split {
        fs_err::create_dir_all(dir).context("create split dir")?;
        for (s, split) in splits.iter().enumerate() {
            let p = dir.join(format!("split_seed{s}.tsv"));
            split.write_tsv(&p).context("write split")?;
            println!("wrote {}", p.display());
        }
        if args.holdout {
            for s in 0..args.seeds {
                let p = dir.join(format!("holdout_seed{s}.tsv"));
                needle_recs::split::user_holdout_split(&data, 0.1, s)
                    .write_tsv(&p)
                    .context("write split")?;
                println!("wrote {}", p.display());
            }
        }
    }
    let s0 = &splits[0];
    println!(
        "split seed 0: train {} / valid {} / test {} pairs; {} train items\n",
        s0.train.nnz(),
        s0.valid.nnz(),
        s0.test.nnz(),
        s0.train.col_counts().iter().filter(|&&c| c > 0).count()
    );

    if let Some(Configs(c)) = &args.candidates {
        let t = Instant::now();
        let ranked = tune(s0, c, args.k, Some(&tags)).context("tune")?;
        println!(
            "## validation (seed 0): {} configs in {:.1}s\n",
            c.len(),
            t.elapsed().as_secs_f64()
        );
        println!(
            "| config | valid Recall@{k} | valid NDCG@{k} | valid Hit@{k} | train s |\n|---|---|---|---|---|",
            k = args.k
        );
        for (c, r) in &ranked {
            println!(
                "| {} | {:.4} | {:.4} | {:.4} | {:.2} |",
                c.label(),
                r.valid.topk.recall,
                r.valid.topk.ndcg,
                r.valid.topk.hit,
                r.train_seconds
            );
        }
        return Ok(());
    }
    let mut chosen: Vec<(String, ModelConfig)> = Vec::new();
    if let Some(Configs(run)) = &args.run {
        chosen.extend(run.iter().map(|c| (c.label(), c.clone())));
    }
    for name in args.models.iter().filter(|_| args.run.is_none()) {
        if args.tune {
            let candidates = grid(name);
            let t = Instant::now();
            let ranked = tune(s0, &candidates, args.k, Some(&tags)).context("tune")?;
            println!(
                "## tuning {name} on validation (seed 0): {} configs in {:.1}s\n",
                candidates.len(),
                t.elapsed().as_secs_f64()
            );
            println!(
                "| config | valid Recall@{k} | valid NDCG@{k} | valid Hit@{k} | train s |\n|---|---|---|---|---|",
                k = args.k
            );
            for (c, r) in ranked.iter().take(8) {
                println!(
                    "| {} | {:.4} | {:.4} | {:.4} | {:.2} |",
                    c.label(),
                    r.valid.topk.recall,
                    r.valid.topk.ndcg,
                    r.valid.topk.hit,
                    r.train_seconds
                );
            }
            println!();
            chosen.push((name.clone(), ranked[0].0.clone()));
        } else {
            chosen.push((name.clone(), default_config(name)));
        }
    }

    let mut rows: Vec<(String, Vec<SeedRun>)> = Vec::new();
    for (name, config) in &chosen {
        let mut runs = Vec::new();
        for (s, split) in splits.iter().enumerate() {
            let r = run_recbole(split, config, s as u64, args.k, Some(&tags)).context("run")?;
            eprintln!(
                "{name} seed {s}: train {:.2}s, valid NDCG {:.4}, test Recall {:.4} NDCG {:.4}{}",
                r.train_seconds,
                r.valid.topk.ndcg,
                r.test.topk.recall,
                r.test.topk.ndcg,
                r.chosen.as_deref().map(|c| format!("; chose {c}")).unwrap_or_default()
            );
            runs.push(r);
        }
        rows.push((config.label(), runs));
    }
    println!(
        "## RecBole protocol, test part (mean ± std over {} seeds)\n",
        args.seeds
    );
    println!("{}", markdown_table(&rows, args.k, &PUBLISHED_LASTFM));
    println!("{}", comparisons(&rows, args.k));

    let mut holdout_rows = Vec::new();
    if args.holdout {
        for (_, config) in &chosen {
            let runs: Vec<SeedRun> = (0..args.seeds)
                .map(|s| run_holdout(&data, config, s, 0.1, args.k, Some(&tags)))
                .collect::<Result<_, _>>()
                .context("holdout")?;
            holdout_rows.push((config.label(), runs));
        }
        println!(
            "## Listener holdout (10% unseen listeners, half of each history known; mean ± std over {} seeds)\n",
            args.seeds
        );
        println!("{}", markdown_table(&holdout_rows, args.k, &[]));
        println!("{}", comparisons(&holdout_rows, args.k));
    }

    if args.hnsw {
        hnsw_report(s0, &chosen, args.k)?;
    }

    if let Some(p) = &args.json {
        let v = serde_json::json!({
            "recbole": rows.iter().map(|(l, r)| serde_json::json!({"model": l, "runs": r})).collect::<Vec<_>>(),
            "holdout": holdout_rows.iter().map(|(l, r)| serde_json::json!({"model": l, "runs": r})).collect::<Vec<_>>(),
            "configs": chosen.iter().map(|(n, c)| serde_json::json!({"name": n, "config": c})).collect::<Vec<_>>(),
        });
        fs_err::write(p, serde_json::to_string_pretty(&v)?).context("write json")?;
    }
    Ok(())
}

/// Standard errors, and each model's paired difference from the selected model (`auto`),
/// when it ran: Markdown.
fn comparisons(rows: &[(String, Vec<SeedRun>)], k: usize) -> String {
    let mut s = format!(
        "Standard error of the mean (per seed sd over users / √users, combined over seeds):\n\n| model | SE NDCG@{k} | SE Recall@{k} |\n|---|---|---|\n"
    );
    for (label, runs) in rows {
        s += &format!(
            "| {label} | {:.4} | {:.4} |\n",
            standard_error(runs, Metric::Ndcg),
            standard_error(runs, Metric::Recall)
        );
    }
    let Some((auto_label, auto)) = rows.iter().find(|(_, r)| r.iter().any(|x| x.chosen.is_some())) else {
        return s;
    };
    s += &format!(
        "\nPaired differences, `{auto_label}` minus each model, same users and splits (mean ± SE; z = mean / SE):\n\n| model | Δ NDCG@{k} | z | Δ Recall@{k} | z |\n|---|---|---|---|---|\n"
    );
    for (label, runs) in rows {
        if std::ptr::eq(runs, auto) {
            continue;
        }
        let (Some(n), Some(r)) = (
            paired_difference(auto, runs, Metric::Ndcg),
            paired_difference(auto, runs, Metric::Recall),
        ) else {
            continue;
        };
        let z = |d: (f64, f64)| if d.1 > 0.0 { d.0 / d.1 } else { f64::NAN };
        s += &format!(
            "| {label} | {:+.4} ± {:.4} | {:.1} | {:+.4} ± {:.4} | {:.1} |\n",
            n.0,
            n.1,
            z(n),
            r.0,
            r.1,
            z(r)
        );
    }
    s += "\nChosen per split:\n";
    for r in auto {
        s += &format!("- seed {}: {}\n", r.seed, r.chosen.as_deref().unwrap_or(""));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        eval: EvalArgs,
    }

    fn parse(args: &[&str]) -> Result<EvalArgs, clap::Error> {
        Cmd::try_parse_from(std::iter::once("eval").chain(args.iter().copied())).map(|c| c.eval)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let a = parse(&["--data", "d"]).unwrap();
        assert_eq!(a.data, PathBuf::from("d"));
        assert_eq!((a.seeds, a.k, a.threads), (3, 10, 0));
        assert_eq!(a.models, KNOWN.map(String::from));
        assert!(!a.tune && !a.holdout && !a.hnsw);
        assert!(a.write_split.is_none() && a.json.is_none() && a.candidates.is_none() && a.run.is_none());
    }

    #[test]
    fn every_flag_parses() {
        let a = parse(&[
            "--data",
            "d",
            "--seeds",
            "1",
            "--k",
            "20",
            "--threads",
            "2",
            "--models",
            "ease,als",
            "--tune",
            "--holdout",
            "--hnsw",
            "--write-split",
            "s",
            "--json",
            "out.json",
            "--run",
            r#"[{"model":"ease","lambda":300}]"#,
        ])
        .unwrap();
        assert_eq!((a.seeds, a.k, a.threads), (1, 20, 2));
        assert_eq!(a.models, ["ease", "als"]);
        assert!(a.tune && a.holdout && a.hnsw);
        assert_eq!(a.write_split, Some(PathBuf::from("s")));
        assert_eq!(a.json, Some(PathBuf::from("out.json")));
        assert!(matches!(&a.run, Some(Configs(c)) if matches!(c[..], [ModelConfig::Ease(_)])));
    }

    #[test]
    fn bad_values_are_clap_errors_naming_the_flag() {
        let e = parse(&["--data", "d", "--models", "als,nope"]).unwrap_err().to_string();
        assert!(
            e.contains("'nope'") && e.contains("--models") && e.contains("item_knn"),
            "{e}"
        );
        let e = parse(&["--data", "d", "--candidates", "[{"]).unwrap_err().to_string();
        assert!(
            e.contains("--candidates") && e.contains("JSON array of model configs"),
            "{e}"
        );
        let e = parse(&["--data", "d", "--seeds", "three"]).unwrap_err().to_string();
        assert!(e.contains("--seeds"), "{e}");
        let e = parse(&[]).unwrap_err().to_string();
        assert!(e.contains("--data <DIR>"), "{e}");
    }
}
