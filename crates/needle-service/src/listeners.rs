//! Listeners: listening events in, profiles, history and erasure out, and the taste each
//! profile projects onto the catalog (cached per profile version and catalog state).

use crate::applier::{Op, Outcome};
use crate::error::Result;
use crate::{validate_batch, Service};
use needle_core::error::ValidationKind;
use needle_core::event::parse_event;
use needle_core::profile::RecentEvent;
use needle_core::search_event::{is_search_event, parse_search_event, SearchEvent};
use needle_core::validate::check_id;
use needle_core::{EntityType, Event, EventType, ValidationError};
use needle_search::taste::{Affinity, Taste};
use needle_search::{EventReport, ProfileView, TopAffinity};
use needle_store::Entry;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// A derived taste with the profile version and catalog sequence number it was built at.
type CachedTaste = (u64, u64, Arc<Taste>);

/// Derived tastes by listener.
#[derive(Default)]
pub(crate) struct Tastes(Mutex<HashMap<String, CachedTaste>>);

/// How far past the server's clock an event's `ts` may be.
pub const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

/// Most tastes cached before the cache starts over.
const MAX_TASTES: usize = 100_000;

impl Tastes {
    /// Forget a listener's taste (erasure).
    pub fn forget(&self, user: &str) {
        self.0.lock().remove(user);
    }

    /// Whether a taste of `user` is cached.
    #[cfg(test)]
    pub fn holds(&self, user: &str) -> bool {
        self.0.lock().contains_key(user)
    }
}

/// What erasing a listener removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Events removed.
    pub events: u64,
    /// The write-log sequence number of the erasure.
    pub seq: u64,
}

/// What revoking a listener's tokens did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    /// Tokens issued before this time (epoch ms) are refused.
    pub before_ms: i64,
    /// The write-log sequence number of the revocation.
    pub seq: u64,
}

impl Service {
    /// Validate listening events one by one and store the good ones durably (one log
    /// entry); bad ones are rejected with their index and field.
    pub fn ingest_events(&self, values: Vec<serde_json::Value>) -> Result<EventReport> {
        self.ingest_events_keyed(values, None)
    }

    /// [`Service::ingest_events`] with the caller's idempotency key (see
    /// [`Service::write_values_keyed`]).
    pub fn ingest_events_keyed(&self, values: Vec<serde_json::Value>, key: Option<String>) -> Result<EventReport> {
        // An event from the future would outweigh a listener's whole history in the decayed
        // profile (its weight grows with time); clocks drift, so a day of slack.
        let latest = self.clock_ms().saturating_add(MAX_FUTURE_MS);
        let future = |ts: i64| {
            (ts > latest).then(|| {
                ValidationError::new(
                    ValidationKind::InvalidField,
                    Some("ts".into()),
                    "field `ts` is more than a day in the future",
                )
            })
        };
        // Search and click events (`type` `search` or `click`) go to the search statistics
        // in an entry of their own; the others are listening events.
        let (mut searches, mut clicks) = (Vec::new(), Vec::new());
        let (events, mut rejected) = validate_batch(&values, |v| {
            if is_search_event(v) {
                return Ok(None);
            }
            let e = parse_event(v)?;
            match future(e.ts) {
                Some(err) => Err(err),
                None => Ok(Some(e)),
            }
        });
        let events: Vec<_> = events.into_iter().flatten().collect();
        for (index, v) in values.iter().enumerate().filter(|(_, v)| is_search_event(v)) {
            let parsed = parse_search_event(v).and_then(|e| {
                let ts = match &e {
                    SearchEvent::Click(c) => c.ts,
                    SearchEvent::Search(s) => s.ts,
                };
                future(ts).map_or(Ok(e), Err)
            });
            match parsed {
                Ok(SearchEvent::Click(c)) => clicks.push(c),
                Ok(SearchEvent::Search(s)) => searches.push(s),
                Err(e) => rejected.push(needle_search::Rejection {
                    index,
                    code: e.code.to_string(),
                    message: e.message,
                }),
            }
        }
        rejected.sort_by_key(|r| r.index);
        let mut report = EventReport {
            accepted: 0,
            duplicates: 0,
            rejected,
            seq: 0,
        };
        if !searches.is_empty() || !clicks.is_empty() {
            let key = key.as_ref().map(|k| format!("{k}.searches"));
            let (accepted, duplicates, seq) = self.write_search_events(searches, clicks, key)?;
            report.accepted += accepted;
            report.duplicates += duplicates;
            report.seq = seq;
        }
        if events.is_empty() {
            return Ok(report);
        }
        let events = self.canonical_items(events)?;
        let (seq, outcome) = self.applier.write(Op {
            entry: Entry::Events { events },
            analyses: None,
            key,
        })?;
        report.seq = report.seq.max(seq);
        if let Outcome::Events(got) = outcome {
            report.accepted += got.accepted;
            report.duplicates += got.duplicates;
        }
        Ok(report)
    }

    /// Events whose `item_id` is an alias id of a catalog entity (one listed in its
    /// `alias_ids`, e.g. the Last.fm id of an artist resolved into a Billboard one) name
    /// that entity instead, so they count for it in profiles and recommendations. Done
    /// here, before the log entry, so replaying the log gives the same profiles whatever
    /// the catalog holds by then. An entity's own id wins; unknown ids stay as they are.
    fn canonical_items(&self, mut events: Vec<Event>) -> Result<Vec<Event>> {
        let view = self.engine.view()?;
        let mut memo: HashMap<String, Option<String>> = HashMap::new();
        for e in &mut events {
            let canonical = match memo.get(&e.item_id) {
                Some(c) => c.clone(),
                None => {
                    let c = view.canonical_id(&e.item_id)?.filter(|c| *c != e.item_id);
                    memo.insert(e.item_id.clone(), c.clone());
                    c
                }
            };
            if let Some(c) = canonical {
                e.item_id = c;
            }
        }
        Ok(events)
    }

    /// Erase a listener's events and profile for good.
    pub fn delete_user(&self, user: &str) -> Result<u64> {
        Ok(self.erase_listener(user)?.events)
    }

    /// Erase a listener's events and profile for good, with the erasure's log position.
    /// Their listener tokens issued until now are revoked too.
    pub fn erase_listener(&self, user: &str) -> Result<Erased> {
        check_id(user, "user_id")?;
        let (seq, outcome) = self.applier.write(Op::new(Entry::EraseListener {
            user_id: user.to_string(),
            tokens_before_ms: Some(self.clock_ms()),
        }))?;
        let events = match outcome {
            Outcome::Erased(n) => n,
            _ => 0,
        };
        Ok(Erased { events, seq })
    }

    /// Revoke every listener token of `user` issued until now (one log entry, so every
    /// replica refuses them once it has applied it); tokens minted from now on work.
    pub fn revoke_tokens(&self, user: &str) -> Result<Revoked> {
        check_id(user, "user_id")?;
        let before_ms = self.clock_ms();
        let (seq, _) = self.applier.write(Op::new(Entry::RevokeTokens {
            user_id: user.to_string(),
            before_ms,
        }))?;
        Ok(Revoked { before_ms, seq })
    }

    /// Tokens of `user` issued before this time (epoch ms) are revoked; `None` when none
    /// of theirs is. A map lookup: the access check calls it on every token request.
    pub fn tokens_not_before(&self, user: &str) -> Option<i64> {
        self.revocations.not_before(user)
    }

    /// A listener's most recent events, newest first; `None` without history.
    pub fn history(&self, user: &str, limit: usize) -> Result<Option<Vec<RecentEvent>>> {
        check_id(user, "user_id")?;
        Ok(self
            .events
            .with_profile(user, &mut |p| p.recent.iter().rev().take(limit).cloned().collect()))
    }

    /// Listeners with a profile.
    pub fn listeners(&self) -> usize {
        self.events.users()
    }

    /// A listener's derived taste, rebuilt when their profile or the catalog changed;
    /// `None` without history.
    pub(crate) fn taste(&self, user: &str) -> Result<Option<Arc<Taste>>> {
        let catalog_seq = self.engine.catalog_seq()?;
        let Some(version) = self.events.with_profile(user, &mut |p| p.version) else {
            return Ok(None);
        };
        if let Some((v, c, t)) = self.tastes.0.lock().get(user) {
            if *v == version && *c == catalog_seq {
                return Ok(Some(t.clone()));
            }
        }
        let cfg = self.events.config();
        let now = self.clock_ms();
        let derived = self
            .events
            .with_profile(user, &mut |p| self.engine.derive_taste(p, &cfg, now))
            .transpose()?;
        let Some(t) = derived.map(Arc::new) else {
            return Ok(None);
        };
        let mut cache = self.tastes.0.lock();
        if cache.len() > MAX_TASTES {
            cache.clear();
        }
        cache.insert(user.to_string(), (version, catalog_seq, t.clone()));
        Ok(Some(t))
    }

    /// A listener's profile: top affinities with scores and why; `None` without history.
    pub fn profile(&self, user: &str, top: usize) -> Result<Option<ProfileView>> {
        check_id(user, "user_id")?;
        let Some(t) = self.taste(user)? else {
            return Ok(None);
        };
        let Some((counts, last_ts)) = self.events.with_profile(user, &mut |p| (p.counts, p.last_ts)) else {
            return Ok(None);
        };
        let pick = |m: &HashMap<String, Affinity>, keep: &dyn Fn(&str) -> bool| {
            let mut v: Vec<&Affinity> = m.values().filter(|a| keep(&a.id)).collect();
            v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
            v.into_iter()
                .take(top)
                .map(|a| TopAffinity {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    score: (a.score * 1e4).round() / 1e4,
                    why: a.why(),
                })
                .collect::<Vec<_>>()
        };
        let kinds = &t.creator_kind;
        let kind_is = |k: EntityType| move |id: &str| kinds.get(id) == Some(&k);
        let mut saved: Vec<String> = t.saved.iter().cloned().collect();
        let mut followed: Vec<String> = t.followed.iter().cloned().collect();
        saved.sort();
        followed.sort();
        Ok(Some(ProfileView {
            user_id: user.to_string(),
            events: EventType::ALL
                .iter()
                .filter(|k| counts[k.code() as usize] > 0)
                .map(|k| (k.to_string(), counts[k.code() as usize]))
                .collect(),
            last_event_ts: last_ts,
            half_life_days: self.events.config().half_life_days,
            long_half_life_days: self.events.config().long_half_life_days,
            long_term_weight: self.events.config().long_term_weight,
            artists: pick(&t.creators, &kind_is(EntityType::Artist)),
            shows: pick(&t.creators, &kind_is(EntityType::Show)),
            audiobooks: pick(&t.creators, &kind_is(EntityType::Audiobook)),
            tags: pick(&t.tags, &|_| true),
            items: pick(&t.items, &|_| true),
            saved,
            followed,
        }))
    }
}
