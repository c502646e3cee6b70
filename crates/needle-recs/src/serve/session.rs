//! DJ-style sessions: each `next` hands tracks alternating familiar favourites with
//! discoveries. The query is the listener's folded-in vector steered by the session itself:
//! towards what was played since the session started, away from what was skipped
//! (`recs.blend.session_played` and `session_skipped`), so a skip posted as an event changes
//! the very next answer.

use std::collections::HashSet;
use std::sync::Arc;

use needle_core::time::Clock;
use needle_core::{EntityType, EventType};
use serde::{Deserialize, Serialize};

use super::listener::Listener;
use super::model::is_unwanted;
use super::pick::Rules;
use super::store::{MemSessions, SessionState, SessionStore};
use super::surfaces::{Candidates, Reason, Recommendations, Scope, Scored, Surface};
use super::{Recs, Source};
use crate::dense::{dot, unit};
use crate::RecsError;

/// A started session as reported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SessionInfo {
    pub session_id: String,
    pub user_id: String,
    pub started_at_ms: i64,
    pub types: Vec<EntityType>,
}

/// Live sessions, in a [`SessionStore`] (in memory unless the service hands a shared one);
/// idle ones expire.
pub struct Sessions {
    idle_ms: i64,
    /// Most items one session serves.
    max_items: usize,
    store: Arc<dyn SessionStore>,
    /// What session start and idleness read the time from.
    pub(crate) clock: Arc<dyn Clock>,
}

impl Sessions {
    /// Sessions in memory, expiring after `idle_s` seconds without a `next`, each
    /// serving at most `max_items` items.
    pub fn new(idle_s: u64, max_items: usize) -> Self {
        Sessions {
            idle_ms: (idle_s as i64).saturating_mul(1000),
            max_items: max_items.max(1),
            store: Arc::new(MemSessions::default()),
            clock: needle_core::time::system(),
        }
    }

    /// Keep sessions in `store` instead (a store every replica shares).
    pub(crate) fn set_store(&mut self, store: Arc<dyn SessionStore>) {
        self.store = store;
    }

    /// The listener a session belongs to (for access checks); `None` when it does not
    /// exist or expired.
    pub fn owner(&self, sid: &str) -> Result<Option<String>, RecsError> {
        Ok(self.store.load(sid, self.clock.now_ms())?.map(|s| s.info.user_id))
    }
}

impl Recs {
    /// Start a session for `user` (types default to tracks). Fails only when a shared
    /// session store cannot be reached.
    pub fn start_session(
        &self,
        user: &str,
        types: Option<Vec<EntityType>>,
        market: Option<String>,
        explicit: bool,
    ) -> Result<SessionInfo, RecsError> {
        let now = self.sessions.clock.now_ms();
        let info = SessionInfo {
            session_id: format!("s-{:032x}", rand::random::<u128>()),
            user_id: user.to_string(),
            started_at_ms: now,
            types: types.unwrap_or_else(|| Surface::Session.default_types()),
        };
        let state = SessionState::start(info.clone(), market, explicit, now);
        self.sessions.store.save(&state, self.sessions.idle_ms)?;
        Ok(info)
    }

    /// The next `limit` items of a session.
    pub fn session_next(&self, source: &dyn Source, sid: &str, limit: usize) -> Result<Recommendations, RecsError> {
        let model = self.require_model()?;
        let not_found = || RecsError::NotFound {
            what: "session",
            id: sid.to_string(),
        };
        let mut state = self
            .sessions
            .store
            .load(sid, self.sessions.clock.now_ms())?
            .ok_or_else(not_found)?;
        // What a session remembers is bounded: past its last item it is over.
        let left = self.sessions.max_items.saturating_sub(state.served.len());
        if left == 0 {
            return Err(RecsError::SessionExhausted {
                id: sid.to_string(),
                max: self.sessions.max_items,
            });
        }
        let (info, turn) = (state.info.clone(), state.turn);
        let scope = Scope {
            surface: Surface::Session,
            types: info.types.clone(),
            market: state.market.clone(),
            explicit: state.explicit,
            limit: limit.clamp(1, left),
            now: self.sessions.clock.now_ms(),
            discovery: 0.0,
        };
        let limit = scope.limit;
        let listener = source.profile(&info.user_id).map(|p| Listener::of(&model, p));
        let mut exclude: HashSet<String> = state.served.clone();
        // What happened in this session, from the listener's recent events.
        let (mut played, mut skipped) = (Vec::new(), Vec::new());
        if let Some(l) = &listener {
            for r in l.profile.recent.iter().filter(|r| r.ts >= info.started_at_ms) {
                let Some(v) = model.items.get(&r.item_id).and_then(|i| model.vector(i)) else {
                    continue;
                };
                match r.kind {
                    EventType::Play | EventType::Save => played.push((r.item_id.clone(), unit(&v))),
                    EventType::Skip => {
                        skipped.push(unit(&v));
                        exclude.insert(r.item_id.clone());
                    }
                    _ => {}
                }
            }
            for (id, st) in &l.profile.items {
                if is_unwanted(st) {
                    exclude.insert(id.clone());
                }
            }
        }
        let rules = scope.filter(&scope.types, &exclude);
        let mut candidates = Vec::new();
        if let Some(l) = &listener {
            let mut q = unit(&l.vector);
            for (_, v) in &played {
                for (x, y) in q.iter_mut().zip(v) {
                    *x += self.config.blend.session_played * y / played.len() as f32;
                }
            }
            for v in &skipped {
                for (x, y) in q.iter_mut().zip(v) {
                    *x -= self.config.blend.session_skipped * y / skipped.len() as f32;
                }
            }
            // Familiar: liked items closest to where the session is heading.
            let mut familiar: Vec<(u32, f32)> = l
                .top_items(200)
                .into_iter()
                .filter(|(i, _)| rules.admits(&model, *i))
                .filter_map(|(i, w)| Some((i, dot(&unit(&model.vector(i)?), &q) * w.sqrt())))
                .collect();
            familiar.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut new_to_them = exclude.clone();
            new_to_them.extend(l.seen.iter().cloned());
            let discover_rules = Rules {
                exclude: &new_to_them,
                ..rules
            };
            // Discoveries are explained by what was played: only vectors that carry
            // listening evidence make "because you (recently) played" true.
            let discoveries = model.search(&q, limit * 3 + 10, discover_rules.types, &|i| {
                discover_rules.admits(&model, i) && model.collaborative(i)
            });
            let (mut f, mut d) = (familiar.into_iter(), discoveries.into_iter());
            let mut rank = 0f32;
            let mut familiar_turn = turn % 2 == 0;
            loop {
                let next = if familiar_turn {
                    f.next().map(|(i, _)| (i, Reason::Favourite))
                } else {
                    d.next().map(|h| {
                        let v = model.vector(h.id).unwrap_or_default();
                        let why = played
                            .iter()
                            .max_by(|a, b| dot(&a.1, &v).total_cmp(&dot(&b.1, &v)))
                            .map(|p| Reason::BecauseYouRecentlyPlayed(p.0.clone()))
                            .or_else(|| {
                                l.explain(&model, h.id)
                                    .map(|x| Reason::BecauseYouPlay(model.items.id(x).to_string()))
                            })
                            .unwrap_or(Reason::Popular(None));
                        (h.id, why)
                    })
                };
                familiar_turn = !familiar_turn;
                match next {
                    Some((i, reason)) => {
                        candidates.push(Scored {
                            id: model.items.id(i).to_string(),
                            score: 1.0 / (1.0 + rank),
                            reason,
                            mix: None,
                        });
                        rank += 1.0;
                    }
                    None => {
                        // One side ran dry: take the rest from the other.
                        if f.len() == 0 && d.len() == 0 {
                            break;
                        }
                    }
                }
                if candidates.len() >= limit * 3 {
                    break;
                }
            }
        }
        let seen = listener.map(|l| l.seen).unwrap_or_default();
        let out = self.run_pipeline(source, &model, &scope, Candidates::seeded(candidates, exclude, seen))?;
        // Recorded before answering: an answered `next` is never served again.
        state.served.extend(out.items.iter().map(|i| i.id.clone()));
        state.turn += out.items.len();
        state.last_ms = self.sessions.clock.now_ms();
        self.sessions.store.save(&state, self.sessions.idle_ms)?;
        Ok(out)
    }
}
