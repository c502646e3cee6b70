//! Every recommendation surface runs one pipeline, driven by its [`Surface`]:
//!
//! 1. **candidates**: the surface's own step ranks items (`listener.rs` for `for_you`,
//!    `discover`, `release_radar` and `podcasts`; `mix.rs` for `daily_mix`; `similar.rs` for
//!    `similar` and `continue`; `session.rs` for sessions) and says what must never be
//!    returned (`Candidates`);
//! 2. **rules**: the business rules, checked again on the live catalog, with the surface's
//!    per-creator cap ([`Surface::per_creator`], [`pick`]);
//! 3. **fallback**: a short list is filled with what is popular when the surface allows it
//!    ([`Surface::fallback`], [`fill`]).

use std::collections::HashSet;
use std::str::FromStr;

use needle_core::EntityType;
use serde::Serialize;

use super::listener::{days, Listener};
use super::model::{now_ms, ServingModel};
use super::pick::{fill, pick, Rules};
use super::{Recs, ServeConfig, Source};
use crate::RecsError;

pub use super::pick::{Reason, RecItem, Scored};

/// Which surface: the five a listener request names (`surface=`), and the item-seeded
/// `similar` and `continue` and DJ sessions, which have their own endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    ForYou,
    Discover,
    ReleaseRadar,
    Podcasts,
    DailyMix,
    Similar,
    Continue,
    Session,
}

impl Surface {
    /// The listener surfaces, the values `surface=` accepts.
    pub const ALL: [Surface; 5] = [
        Surface::ForYou,
        Surface::Discover,
        Surface::ReleaseRadar,
        Surface::Podcasts,
        Surface::DailyMix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Surface::ForYou => "for_you",
            Surface::Discover => "discover",
            Surface::ReleaseRadar => "release_radar",
            Surface::Podcasts => "podcasts",
            Surface::DailyMix => "daily_mix",
            Surface::Similar => "similar",
            Surface::Continue => "continue",
            Surface::Session => "session",
        }
    }

    /// Types returned when the request names none. `similar` and `continue` use their
    /// seeds' own types first; tracks are the last resort of `continue`.
    pub fn default_types(self) -> Vec<EntityType> {
        match self {
            Surface::ForYou => super::DEFAULT_TYPES.to_vec(),
            Surface::Discover | Surface::DailyMix | Surface::Similar | Surface::Continue | Surface::Session => {
                vec![EntityType::Track]
            }
            Surface::ReleaseRadar => vec![EntityType::Album, EntityType::Track],
            Surface::Podcasts => vec![EntityType::Episode, EntityType::Show],
        }
    }

    /// At most this many items per creator in a list of `limit` (`None`: no cap).
    pub fn per_creator(self, limit: usize, config: &ServeConfig) -> Option<usize> {
        match self {
            Surface::Discover => Some(config.discover_per_artist),
            Surface::DailyMix | Surface::Session => None,
            Surface::Similar | Surface::Continue => Some(limit.div_ceil(5).max(2)),
            Surface::ForYou | Surface::ReleaseRadar | Surface::Podcasts => Some(limit.div_ceil(4).max(2)),
        }
    }

    /// What fills a short list. A release radar or daily mix of a listener with history
    /// holds only what is theirs; without history, it is filled too.
    pub fn fallback(self, has_history: bool) -> Fallback {
        match self {
            Surface::ReleaseRadar | Surface::DailyMix if has_history => Fallback::None,
            Surface::ReleaseRadar => Fallback::PopularNewReleases,
            _ => Fallback::Popular,
        }
    }
}

/// How a surface fills a list its candidates leave short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Not at all.
    None,
    /// With the popular items of the requested types (in the market when given).
    Popular,
    /// With the popular items released within `recs.release_window_days`.
    PopularNewReleases,
}

impl FromStr for Surface {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Surface::ALL.iter().copied().find(|x| x.as_str() == s).ok_or_else(|| {
            format!("unknown surface `{s}`; expected for_you, discover, release_radar, podcasts or daily_mix")
        })
    }
}

/// A listener surface request.
#[derive(Clone, Debug)]
pub struct RecRequest {
    pub surface: Surface,
    /// `None`: the surface's defaults.
    pub types: Option<Vec<EntityType>>,
    pub limit: usize,
    pub market: Option<String>,
    /// Explicit items allowed (default true).
    pub explicit: bool,
    /// Evaluation time, epoch ms (now unless testing).
    pub now_ms: Option<i64>,
    /// `discover` only: how far to trade accuracy for less-listened items, 0 to 1
    /// (`None`: `recs.discover_discovery`). See [`Scope::discovery`].
    pub discovery: Option<f32>,
}

/// A daily mix: its name and the favourites it is built around.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Mix {
    pub mix: usize,
    pub name: String,
    pub seed_ids: Vec<String>,
}

/// The answer of every recommendation endpoint.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Recommendations {
    pub items: Vec<RecItem>,
    pub surface: String,
    pub model_version: u64,
    /// `daily_mix` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixes: Option<Vec<Mix>>,
}

/// What every step of the pipeline knows of the request.
pub(crate) struct Scope {
    pub surface: Surface,
    pub types: Vec<EntityType>,
    pub market: Option<String>,
    /// Explicit items allowed.
    pub explicit: bool,
    /// Items wanted, at least 1 (per mix for `daily_mix`).
    pub limit: usize,
    /// Evaluation time, epoch ms.
    pub now: i64,
    /// `discover`: 0 ranks by taste alone; above 0 the taste rank is fused with a rank by
    /// ascending listener count over a candidate pool widened by `1 + 2·discovery`, with
    /// weights `1 − w` and `w = (1 + discovery) / 4`. 0 for every other surface.
    pub discovery: f32,
}

impl Scope {
    /// The rules of this request for a candidate step's filter inside the vector search
    /// (no per-creator cap there; the pipeline applies it).
    pub fn filter<'a>(&'a self, types: &'a [EntityType], exclude: &'a HashSet<String>) -> Rules<'a> {
        Rules {
            types,
            market: self.market.as_deref(),
            explicit: self.explicit,
            exclude,
            per_creator: None,
        }
    }
}

/// What a surface's candidate step hands to the rules.
pub(crate) struct Candidates {
    /// Ranked, best first.
    pub list: Vec<Scored>,
    /// Never returned (played, unwanted, seeds, served in the session).
    pub exclude: HashSet<String>,
    /// Also kept out of the popular fill (a session's: everything the listener touched).
    pub fill_exclude: HashSet<String>,
    /// `daily_mix`: the mixes.
    pub mixes: Option<Vec<Mix>>,
    /// The listener has usable history (see [`Surface::fallback`]).
    pub has_history: bool,
}

impl Candidates {
    /// Candidates of an item-seeded surface or a session: no mixes, no listener history
    /// that would hold back the fallback.
    pub fn seeded(list: Vec<Scored>, exclude: HashSet<String>, fill_exclude: HashSet<String>) -> Candidates {
        Candidates {
            list,
            exclude,
            fill_exclude,
            mixes: None,
            has_history: false,
        }
    }
}

impl Recs {
    /// A listener surface.
    pub fn recommend(&self, source: &dyn Source, user: &str, req: &RecRequest) -> Result<Recommendations, RecsError> {
        let model = self.require_model()?;
        if !Surface::ALL.contains(&req.surface) {
            return Err(RecsError::InvalidInput(format!(
                "`{}` is not a listener surface",
                req.surface.as_str()
            )));
        }
        let discovery = match (req.discovery, req.surface) {
            (None, Surface::Discover) => self.config.discover_discovery,
            (None, _) => 0.0,
            (Some(d), Surface::Discover) if (0.0..=1.0).contains(&d) => d,
            (Some(d), Surface::Discover) => {
                return Err(RecsError::InvalidInput(format!(
                    "`discovery` must be between 0 and 1, got {d}"
                )))
            }
            (Some(_), s) => {
                return Err(RecsError::InvalidInput(format!(
                    "`discovery` applies to surface=discover only, not `{}`",
                    s.as_str()
                )))
            }
        };
        let scope = Scope {
            surface: req.surface,
            types: req.types.clone().unwrap_or_else(|| req.surface.default_types()),
            market: req.market.clone(),
            explicit: req.explicit,
            limit: req.limit.max(1),
            now: req.now_ms.unwrap_or_else(now_ms),
            discovery,
        };
        let listener = source.profile(user).map(|p| Listener::of(&model, p));
        let candidates = self.listener_candidates(source, &model, user, listener.as_ref(), &scope)?;
        self.run_pipeline(source, &model, &scope, candidates)
    }

    /// Rules, then fallback, over a surface's candidates.
    pub(crate) fn run_pipeline(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        scope: &Scope,
        candidates: Candidates,
    ) -> Result<Recommendations, RecsError> {
        let rules = Rules {
            types: &scope.types,
            market: scope.market.as_deref(),
            explicit: scope.explicit,
            exclude: &candidates.exclude,
            per_creator: scope.surface.per_creator(scope.limit, &self.config),
        };
        let mut items = pick(source, candidates.list, &rules, scope.limit)?;
        let fallback = match scope.surface.fallback(candidates.has_history) {
            Fallback::None => None,
            Fallback::Popular => Some(popular(model, &scope.types, scope.market.as_deref())),
            Fallback::PopularNewReleases => {
                let mut list = popular(model, &scope.types, scope.market.as_deref());
                let (today, window) = (days(scope.now), self.config.release_window_days as i32);
                list.retain(|c| {
                    model
                        .items
                        .get(&c.id)
                        .and_then(|i| model.meta[i as usize].release_day)
                        .is_some_and(|d| (0..=window).contains(&(today - d)))
                });
                Some(list)
            }
        };
        if let Some(list) = fallback {
            fill(source, &mut items, list, &rules, &candidates.fill_exclude, scope.limit)?;
        }
        Ok(Recommendations {
            items,
            surface: scope.surface.as_str().into(),
            model_version: model.version,
            mixes: candidates.mixes,
        })
    }
}

/// Popular items of `types`, best first, interleaved across types.
pub(crate) fn popular(model: &ServingModel, types: &[EntityType], market: Option<&str>) -> Vec<Scored> {
    let mut out = Vec::new();
    let lists: Vec<&Vec<(u32, f32)>> = types.iter().filter_map(|t| model.popular.get(t)).collect();
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    for rank in 0..longest {
        for l in &lists {
            if let Some(&(i, s)) = l.get(rank) {
                if model.meta[i as usize].in_market(market) {
                    out.push(Scored {
                        id: model.items.id(i).to_string(),
                        score: s,
                        reason: Reason::Popular(market.map(str::to_uppercase)),
                        mix: None,
                    });
                }
            }
        }
    }
    out
}
