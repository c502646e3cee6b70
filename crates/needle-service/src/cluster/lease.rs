//! Leases in a JetStream key-value bucket (`<stream>_LEASES`): one replica at a time
//! holds a named lease (e.g. `train`), until it releases it or the bucket's age limit
//! drops it (a crashed holder).

use super::jetstream::JetStreamLog;
use crate::error::{Error, Result};
use async_nats::jetstream::{kv, stream};
use std::time::Duration;

/// How long a lease lives when its holder never releases it (crashed).
pub const LEASE_TTL: Duration = Duration::from_secs(3600);

impl JetStreamLog {
    /// The lease bucket, created when missing. Creating a replicated bucket needs every
    /// peer it is placed on to be current, which a NATS node just back from a restart is
    /// not for a few seconds ("no suitable peers for placement"), so creation is retried
    /// until the write timeout.
    pub(crate) async fn leases(&self) -> Result<kv::Store> {
        let js = self.context();
        let bucket = format!("{}_LEASES", self.stream_name());
        let deadline = tokio::time::Instant::now() + self.write_timeout();
        loop {
            let err = match self.open_or_create_leases(&js, &bucket).await {
                Ok(store) => return Ok(store),
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "NATS JetStream: lease bucket {bucket}: {err}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Open the bucket, or create it once (no retry).
    async fn open_or_create_leases(
        &self,
        js: &async_nats::jetstream::Context,
        bucket: &str,
    ) -> std::result::Result<kv::Store, String> {
        if let Ok(store) = js.get_key_value(bucket).await {
            return Ok(store);
        }
        // The bucket's stream, created as `create_key_value` would: that call first asks
        // the account's info, whose clustered answer from nats-server 2.9 async-nats 0.52
        // cannot parse ("data did not match any variant of untagged enum Response").
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age: LEASE_TTL,
            storage: stream::StorageType::File,
            num_replicas: self.replicas(),
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        js.get_key_value(bucket).await.map_err(|e| e.to_string())
    }

    /// Take lease `name` for `holder`; `Ok(None)` when taken, `Ok(Some(other))` when
    /// `other` holds it.
    pub fn try_lease(&self, name: &str, holder: &str) -> Result<Option<String>> {
        self.block_on(async {
            let store = self.leases().await?;
            match store.create(name, holder.as_bytes().to_vec().into()).await {
                Ok(_) => Ok(None),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let other = store
                        .get(name)
                        .await
                        .ok()
                        .flatten()
                        .map(|b| String::from_utf8_lossy(&b).to_string())
                        .unwrap_or_else(|| "another replica".into());
                    Ok(Some(other))
                }
                Err(e) => Err(Error::Unavailable(format!("NATS JetStream: lease {name}: {e}"))),
            }
        })?
    }

    /// Give lease `name` back.
    pub fn release(&self, name: &str) -> Result<()> {
        self.block_on(async {
            let store = self.leases().await?;
            store
                .delete(name)
                .await
                .map_err(|e| Error::Unavailable(format!("NATS JetStream: releasing lease {name}: {e}")))
        })?
    }
}
