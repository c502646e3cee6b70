//! DJ sessions and training-job status on Redis Cluster.
//!
//! Keys (all under [`KEY_PREFIX`]):
//! - `needle:session:{<sid>}`: one session's state as JSON, expiring `recs.session_idle_s`
//!   after its last `next` (`SET … PX`). Two replicas advancing the same session at the
//!   same instant: the last write wins (an item may then be served twice).
//! - `needle:{jobs}:seq`: the job number counter (`INCR`); `needle:{jobs}:job:<id>`: a job as
//!   JSON, kept [`JOB_TTL_S`]; `needle:{jobs}:index`: job ids by queue time (a sorted set of
//!   the newest [`MAX_JOBS`]). The `{jobs}` hash tag keeps them in one slot, so one script
//!   updates a job and the index atomically and one `MGET` reads a page.

use std::sync::Arc;

use needle_recs::serve::{Job, JobBoard, SessionState, SessionStore};
use needle_recs::RecsError;
use redis::AsyncCommands;

use super::{RedisConn, KEY_PREFIX};

/// How long a published job is kept, seconds (7 days).
pub const JOB_TTL_S: u64 = 7 * 24 * 3600;

/// Jobs the index keeps (as many as a replica keeps in memory).
pub const MAX_JOBS: usize = 100;

/// Sessions in Redis: what every replica reads and advances.
pub struct RedisSessions {
    conn: Arc<RedisConn>,
}

impl RedisSessions {
    /// Sessions on `conn`.
    pub fn new(conn: Arc<RedisConn>) -> RedisSessions {
        RedisSessions { conn }
    }
}

/// The key of session `sid`.
pub fn session_key(sid: &str) -> String {
    format!("{KEY_PREFIX}session:{{{sid}}}")
}

impl SessionStore for RedisSessions {
    fn load(&self, sid: &str, _now_ms: i64) -> Result<Option<SessionState>, RecsError> {
        // Expiry is Redis's own TTL (one clock for every replica).
        let key = session_key(sid);
        let raw: Option<String> = self.conn.blocking(move |mut c| async move { c.get(key).await })?;
        Ok(raw.and_then(|json| match serde_json::from_str(&json) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!(sid, error = %e, "undecodable session state in Redis; treated as expired");
                None
            }
        }))
    }

    fn save(&self, state: &SessionState, idle_ms: i64) -> Result<(), RecsError> {
        let key = session_key(&state.info.session_id);
        let json = serde_json::to_string(state).map_err(|e| RecsError::Parse(e.to_string()))?;
        let ttl = idle_ms.max(1) as u64;
        self.conn
            .blocking(move |mut c| async move { c.pset_ex::<_, _, ()>(key, json, ttl).await })?;
        Ok(())
    }
}

/// Training jobs published to Redis, read by every replica.
pub struct RedisJobBoard {
    conn: Arc<RedisConn>,
}

impl RedisJobBoard {
    /// A board on `conn`.
    pub fn new(conn: Arc<RedisConn>) -> RedisJobBoard {
        RedisJobBoard { conn }
    }
}

fn job_key(id: &str) -> String {
    format!("{KEY_PREFIX}{{jobs}}:job:{id}")
}

fn index_key() -> String {
    format!("{KEY_PREFIX}{{jobs}}:index")
}

/// KEYS: job, index; ARGV: JSON, TTL s, id, queued_at_ms, jobs kept.
const PUBLISH: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
return 1
";

impl JobBoard for RedisJobBoard {
    fn next_number(&self) -> Result<u64, RecsError> {
        let key = format!("{KEY_PREFIX}{{jobs}}:seq");
        Ok(self
            .conn
            .blocking(move |mut c| async move { c.incr(key, 1u64).await })?)
    }

    fn publish(&self, job: &Job) -> Result<(), RecsError> {
        let json = serde_json::to_string(job).map_err(|e| RecsError::Parse(e.to_string()))?;
        let (id, queued) = (job.job_id.clone(), job.queued_at_ms);
        self.conn.blocking(move |mut c| async move {
            redis::cmd("EVAL")
                .arg(PUBLISH)
                .arg(2)
                .arg(job_key(&id))
                .arg(index_key())
                .arg(json)
                .arg(JOB_TTL_S)
                .arg(&id)
                .arg(queued)
                .arg(MAX_JOBS)
                .query_async::<i64>(&mut c)
                .await
        })?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Job>, RecsError> {
        let key = job_key(id);
        let raw: Option<String> = self.conn.blocking(move |mut c| async move { c.get(key).await })?;
        Ok(raw.and_then(|json| decode(&json)))
    }

    fn list(&self) -> Result<Vec<Job>, RecsError> {
        let raw: Vec<Option<String>> = self.conn.blocking(|mut c| async move {
            let ids: Vec<String> = c.zrevrange(index_key(), 0, MAX_JOBS as isize - 1).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = ids.iter().map(|id| job_key(id)).collect();
            // One slot ({jobs}): a single MGET.
            redis::cmd("MGET").arg(keys).query_async(&mut c).await
        })?;
        Ok(raw.into_iter().flatten().filter_map(|json| decode(&json)).collect())
    }
}

fn decode(json: &str) -> Option<Job> {
    serde_json::from_str(json)
        .inspect_err(|e| tracing::warn!(error = %e, "undecodable job in Redis; skipped"))
        .ok()
}
