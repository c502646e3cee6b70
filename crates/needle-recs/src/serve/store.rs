//! Where DJ sessions live between two requests: the [`SessionStore`] the recommendation
//! service needs and its in-memory default, [`MemSessions`]. A cluster of replicas hands
//! [`super::Recs::with_session_store`] one that every replica shares (needle-service keeps
//! it on Redis Cluster), so a session started on one replica continues on any other.
//!
//! A store holds state that may be lost: a lost session answers `session_not_found` and
//! the listener starts a new one.

use std::collections::{HashMap, HashSet};

use needle_core::EntityType;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::session::SessionInfo;
use crate::RecsError;

/// Most sessions [`MemSessions`] keeps; past it the least recently used goes first.
pub const MAX_SESSIONS: usize = 100_000;

/// One DJ session between two `next`s: what it was started with and what it served.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionState {
    /// The session as reported to its listener.
    pub info: SessionInfo,
    /// The market items must be available in.
    pub market: Option<String>,
    /// Whether explicit items may be served.
    pub explicit: bool,
    /// When it was started or last advanced, epoch milliseconds.
    pub last_ms: i64,
    /// Items already handed out (never served twice).
    pub served: HashSet<String>,
    /// Items served so far (familiar and discovery picks alternate by it).
    pub turn: usize,
}

impl SessionState {
    /// A new session's state, started at `now_ms`.
    pub fn start(info: SessionInfo, market: Option<String>, explicit: bool, now_ms: i64) -> SessionState {
        SessionState {
            info,
            market,
            explicit,
            last_ms: now_ms,
            served: HashSet::new(),
            turn: 0,
        }
    }

    /// The types the session serves.
    pub fn types(&self) -> &[EntityType] {
        &self.info.types
    }
}

/// Keeps session states, each expiring once idle for its `idle_ms`.
///
/// Errors are [`RecsError::SharedUnavailable`] when the store cannot be reached (the
/// caller answers "retry later"); the in-memory store never fails.
pub trait SessionStore: Send + Sync {
    /// The session `sid` at `now_ms`; `None` when unknown or expired.
    fn load(&self, sid: &str, now_ms: i64) -> Result<Option<SessionState>, RecsError>;
    /// Store `state` under its session id, expiring `idle_ms` after `state.last_ms`.
    fn save(&self, state: &SessionState, idle_ms: i64) -> Result<(), RecsError>;
}

/// Sessions in this process's memory (the default; a standalone server): at most
/// [`MAX_SESSIONS`], expired ones dropped as new ones are saved.
#[derive(Default)]
pub struct MemSessions {
    /// Session id → (state, expiry in epoch ms).
    map: Mutex<HashMap<String, (SessionState, i64)>>,
}

impl MemSessions {
    /// Sessions held (live or not yet dropped).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemSessions {
    fn load(&self, sid: &str, now_ms: i64) -> Result<Option<SessionState>, RecsError> {
        let map = self.map.lock();
        Ok(map
            .get(sid)
            .filter(|(_, expires)| now_ms < *expires)
            .map(|(s, _)| s.clone()))
    }

    fn save(&self, state: &SessionState, idle_ms: i64) -> Result<(), RecsError> {
        let now = state.last_ms;
        let mut map = self.map.lock();
        let sid = &state.info.session_id;
        if !map.contains_key(sid) {
            map.retain(|_, (_, expires)| now < *expires);
            if map.len() >= MAX_SESSIONS {
                // Bounded memory: the least recently used session goes first.
                if let Some(k) = map.iter().min_by_key(|(_, (s, _))| s.last_ms).map(|(k, _)| k.clone()) {
                    map.remove(&k);
                }
            }
        }
        map.insert(sid.clone(), (state.clone(), now.saturating_add(idle_ms)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(sid: &str, now: i64) -> SessionState {
        SessionState::start(
            SessionInfo {
                session_id: sid.into(),
                user_id: "u1".into(),
                started_at_ms: now,
                types: vec![EntityType::Track],
            },
            Some("SE".into()),
            true,
            now,
        )
    }

    #[test]
    fn a_session_lives_until_idle_for_its_ttl() {
        let store = MemSessions::default();
        let mut s = state("s1", 1_000);
        store.save(&s, 60_000).unwrap();
        assert_eq!(store.load("s1", 60_999).unwrap().as_ref(), Some(&s));
        assert_eq!(store.load("s1", 61_000).unwrap(), None, "idle for the whole TTL");
        assert_eq!(store.load("nope", 1_000).unwrap(), None);
        // Saving again (a `next`) pushes the expiry out.
        s.last_ms = 50_000;
        s.served.insert("t1".into());
        s.turn = 1;
        store.save(&s, 60_000).unwrap();
        assert_eq!(store.load("s1", 109_999).unwrap().map(|s| s.turn), Some(1));
        assert_eq!(store.load("s1", 110_000).unwrap(), None);
    }

    #[test]
    fn expired_sessions_are_dropped_when_another_is_saved() {
        let store = MemSessions::default();
        store.save(&state("old", 0), 10).unwrap();
        store.save(&state("new", 5), 10).unwrap();
        assert_eq!(store.len(), 2, "old is still live at 5");
        store.save(&state("newer", 10), 10).unwrap();
        assert_eq!(store.len(), 2, "old expired at 10");
        assert!(store.load("old", 0).unwrap().is_none());
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut s = state("s1", 7);
        s.served.extend(["a".to_string(), "b".to_string()]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SessionState>(&json).unwrap(), s);
    }
}
