//! The keys in use, swapped whole when `auth.keys_file` is reloaded.
//!
//! A reload reads and checks the whole file (and the inline `auth.keys`, which stay) as
//! at start; only a valid result replaces the keys, in one swap of an `Arc`. A request
//! takes the current `Arc` once when it arrives, so requests in flight finish with the
//! keys they started with. An invalid file — unreadable, bad TOML, a short key, a name
//! used twice, or no key left where there were keys (that would open the server) — keeps
//! the keys in use; the caller logs it and counts it.
//!
//! Two things trigger a reload: the poller of [`crate::serve`], every
//! `auth.keys_reload_ms`, when the file's modification time or size changed
//! ([`KeyRing::reload_if_changed`]), and SIGHUP ([`KeyRing::reload`]).

use super::*;
use parking_lot::{Mutex, RwLock};
use std::time::SystemTime;

/// What identifies a version of the keys file: modification time and size (`None`: the
/// file cannot be read).
type Stamp = Option<(Option<SystemTime>, u64)>;

/// The keys and token signer in use, reloadable.
#[derive(Debug)]
pub struct KeyRing {
    config: AuthConfig,
    current: RwLock<Arc<Access>>,
    /// The keys file as last read (or attempted).
    stamp: Mutex<Stamp>,
}

/// A reload that kept the keys in use, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct ReloadError {
    /// Each problem, naming the file and the key (by index and field), never a key.
    pub problems: Vec<String>,
}

impl KeyRing {
    /// The keys of `config`, read now. Keys that cannot be loaded lock every protected
    /// route (answered `500`, the cause logged) until a reload succeeds.
    pub fn new(config: &AuthConfig) -> KeyRing {
        let stamp = stamp_of(config);
        let access = match Access::from_config(config) {
            Ok(access) => access,
            Err(problem) => {
                tracing::error!(problem, "cannot load API keys; every protected route answers 500");
                Access::locked()
            }
        };
        KeyRing {
            config: config.clone(),
            current: RwLock::new(Arc::new(access)),
            stamp: Mutex::new(stamp),
        }
    }

    /// The keys in use (a request keeps this `Arc` until it is answered).
    pub fn current(&self) -> Arc<Access> {
        Arc::clone(&self.current.read())
    }

    /// The configured keys file, if any.
    pub fn keys_file(&self) -> Option<&Path> {
        self.config.keys_file.as_deref()
    }

    /// Read and check every key again; swap them in when valid. `Ok(n)`: `n` keys in use.
    pub fn reload(&self) -> Result<usize, ReloadError> {
        *self.stamp.lock() = stamp_of(&self.config);
        let keys = self.config.load_keys().map_err(|problems| ReloadError { problems })?;
        let before = self.current();
        if keys.is_empty() && (before.key_count() > 0 || before.is_locked()) {
            return Err(ReloadError {
                problems: vec![format!(
                    "auth.keys_file: `{}` holds no key and no key is configured inline: that would \
                     turn access control off; keeping the keys in use",
                    self.keys_file()
                        .map(Path::display)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                )],
            });
        }
        let n = keys.len();
        *self.current.write() = Arc::new(Access::with_keys(&self.config, keys));
        Ok(n)
    }

    /// [`KeyRing::reload`] when the keys file's modification time or size changed since
    /// it was last read (`None`: unchanged, or no keys file).
    pub fn reload_if_changed(&self) -> Option<Result<usize, ReloadError>> {
        self.config.keys_file.as_ref()?;
        let now = stamp_of(&self.config);
        if *self.stamp.lock() == now {
            return None;
        }
        Some(self.reload())
    }
}

fn stamp_of(config: &AuthConfig) -> Stamp {
    let meta = fs_err::metadata(config.keys_file.as_ref()?).ok()?;
    Some((meta.modified().ok(), meta.len()))
}
