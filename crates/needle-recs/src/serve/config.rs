//! The `[recs]` configuration section.

use serde::{Deserialize, Serialize};

use crate::index::IndexConfig;
use crate::models::{AlsConfig, Confidence};
use crate::select::SelectConfig;

/// The `[recs]` configuration section: model hyper-parameters and surface rules.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// ALS hyper-parameters (defaults: the best of the HetRec Last.fm grid).
    pub als: AlsConfig,
    /// Vector index settings.
    pub index: IndexConfig,
    /// Train a first model in the background at start when there is none and the catalog
    /// or listeners are not empty.
    pub train_on_start: bool,
    /// `discover`: at most this many items per artist.
    pub discover_per_artist: usize,
    /// `discover`: the default of its `discovery` parameter, 0 to 1. 0 ranks by taste
    /// alone; higher values fuse in a rank by ascending listener count, trading accuracy
    /// for less-listened items (measured in docs/recommendations.md).
    pub discover_discovery: f32,
    /// `release_radar`: releases this many days old at most.
    pub release_window_days: u32,
    /// `podcasts`: episodes this many days old at most.
    pub episode_window_days: u32,
    /// `daily_mix`: at most this many mixes.
    pub daily_mixes: usize,
    /// Sessions idle this long are forgotten, seconds.
    pub session_idle_s: u64,
    /// Most items one DJ session serves (it remembers each, never to serve it twice);
    /// then `next` answers `409 session_exhausted` and the listener starts a new one.
    pub session_max_items: usize,
    /// Readiness (`/health/ready`) waits while a saved model loads after a restart, so a
    /// replica joins a load balancer only once it serves recommendations. `false`: ready as
    /// soon as search is (recommendation routes answer `503 model_loading` meanwhile).
    pub ready_waits_for_model: bool,
    /// How signals are weighted against each other (`[recs.blend]`).
    pub blend: BlendWeights,
    /// Model selection by validation (`[recs.select]`): which models a training job fits,
    /// how long it may tune, what it holds out.
    pub select: SelectConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            als: AlsConfig {
                confidence: Confidence::Binary,
                ..AlsConfig::default()
            },
            index: IndexConfig::default(),
            train_on_start: true,
            discover_per_artist: 2,
            discover_discovery: 0.0,
            release_window_days: 28,
            episode_window_days: 30,
            daily_mixes: 4,
            session_idle_s: 4 * 3600,
            session_max_items: 10_000,
            ready_waits_for_model: true,
            blend: BlendWeights::default(),
            select: SelectConfig::default(),
        }
    }
}

impl ServeConfig {
    /// Problems with the values, one message per field (`recs.<field>: ...`).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=1024).contains(&self.als.factors) {
            out.push(format!("recs.als.factors: {} is outside 1..=1024", self.als.factors));
        }
        if !(1..=200).contains(&self.als.iterations) {
            out.push(format!(
                "recs.als.iterations: {} is outside 1..=200",
                self.als.iterations
            ));
        }
        if !(self.als.regularization.is_finite() && self.als.regularization >= 0.0) {
            out.push("recs.als.regularization: must be a finite number >= 0".into());
        }
        if !(self.als.alpha.is_finite() && self.als.alpha >= 0.0) {
            out.push("recs.als.alpha: must be a finite number >= 0".into());
        }
        if self.discover_per_artist == 0 {
            out.push("recs.discover_per_artist: must be >= 1".into());
        }
        if !(0.0..=1.0).contains(&self.discover_discovery) {
            out.push(format!(
                "recs.discover_discovery: must be between 0 and 1, got {}",
                self.discover_discovery
            ));
        }
        if !(1..=12).contains(&self.daily_mixes) {
            out.push(format!("recs.daily_mixes: {} is outside 1..=12", self.daily_mixes));
        }
        if !(1..=1_000_000).contains(&self.session_max_items) {
            out.push(format!(
                "recs.session_max_items: {} is outside 1..=1000000",
                self.session_max_items
            ));
        }
        out.extend(self.blend.problems());
        let s = &self.select;
        if !(s.valid_share > 0.0 && s.valid_share < 0.5) {
            out.push(format!(
                "recs.select.valid_share: {} is outside (0, 0.5)",
                s.valid_share
            ));
        }
        if !(s.budget_secs.is_finite() && s.budget_secs >= 0.0) {
            out.push("recs.select.budget_secs: must be a finite number >= 0".into());
        }
        if !(s.weight_step > 0.0 && s.weight_step <= 1.0) {
            out.push(format!("recs.select.weight_step: {} is outside (0, 1]", s.weight_step));
        }
        if !(1..=1000).contains(&s.k) {
            out.push(format!("recs.select.k: {} is outside 1..=1000", s.k));
        }
        if !(1..=200).contains(&s.warm_iterations) {
            out.push(format!(
                "recs.select.warm_iterations: {} is outside 1..=200",
                s.warm_iterations
            ));
        }
        if s.pool_depth < s.k {
            out.push(format!(
                "recs.select.pool_depth: {} is below recs.select.k",
                s.pool_depth
            ));
        }
        if s.ease_max_items > 20_000 {
            out.push(format!(
                "recs.select.ease_max_items: {} is above 20000 (the dense inverse would need {} GB)",
                s.ease_max_items,
                s.ease_max_items * s.ease_max_items * 4 / 1_000_000_000
            ));
        }
        out
    }
}

/// The weights that blend two signals into one score (`[recs.blend]`). The training weights
/// (`content_*`, `popular_*`) are stored with the model they trained; the others apply to
/// requests at once.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BlendWeights {
    /// Content vector of an item without plays: weight of the mean of its creators'
    /// centroids (when it also has tag centroids; alone, either mean is used as is).
    pub content_creators: f32,
    /// Content vector of an item without plays: weight of the mean of its tags' centroids.
    pub content_tags: f32,
    /// Popularity lists: weight of the number of training listeners (log-scaled to 0..1).
    pub popular_listeners: f32,
    /// Popularity lists: weight of the catalog's own `popularity` (log-scaled to 0..1).
    pub popular_catalog: f32,
    /// `discover`: weight of the collaborative list in the reciprocal-rank fusion.
    pub discover_collaborative: f32,
    /// `discover`: weight of the neighbours of recent favourites (shared among them).
    pub discover_recent: f32,
    /// Sessions: pull of the mean of what was played since the session started.
    pub session_played: f32,
    /// Sessions: push away from the mean of what was skipped since the session started.
    pub session_skipped: f32,
}

impl Default for BlendWeights {
    fn default() -> Self {
        BlendWeights {
            content_creators: 0.7,
            content_tags: 0.3,
            popular_listeners: 0.6,
            popular_catalog: 0.4,
            discover_collaborative: 0.6,
            discover_recent: 0.4,
            session_played: 0.5,
            session_skipped: 0.7,
        }
    }
}

impl BlendWeights {
    /// Problems with the weights, one message per key (`recs.blend.<key>: ...`): each must
    /// be a finite number >= 0, and of the pairs that make one score (content, popular,
    /// discover) at least one must be > 0.
    pub fn problems(&self) -> Vec<String> {
        let keys = [
            ("content_creators", self.content_creators),
            ("content_tags", self.content_tags),
            ("popular_listeners", self.popular_listeners),
            ("popular_catalog", self.popular_catalog),
            ("discover_collaborative", self.discover_collaborative),
            ("discover_recent", self.discover_recent),
            ("session_played", self.session_played),
            ("session_skipped", self.session_skipped),
        ];
        let mut out: Vec<String> = keys
            .iter()
            .filter(|(_, w)| !(w.is_finite() && *w >= 0.0))
            .map(|(k, w)| format!("recs.blend.{k}: must be a finite number >= 0, got {w}"))
            .collect();
        for pair in keys[..6].chunks(2) {
            let [(a, wa), (b, wb)] = [pair[0], pair[1]];
            if wa == 0.0 && wb == 0.0 {
                out.push(format!("recs.blend.{a}, recs.blend.{b}: at least one must be > 0"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_are_valid_and_bad_ones_name_their_key() {
        assert!(ServeConfig::default().problems().is_empty());
        let mut c = ServeConfig::default();
        c.blend.discover_recent = -0.1;
        c.blend.session_skipped = f32::NAN;
        c.blend.content_creators = 0.0;
        c.blend.content_tags = 0.0;
        assert_eq!(
            c.problems(),
            [
                "recs.blend.discover_recent: must be a finite number >= 0, got -0.1",
                "recs.blend.session_skipped: must be a finite number >= 0, got NaN",
                "recs.blend.content_creators, recs.blend.content_tags: at least one must be > 0",
            ]
        );
    }

    #[test]
    fn a_config_without_blend_weights_gets_todays_values() {
        // Model files written before `blend` existed carry a config without it.
        let c: ServeConfig = serde_json::from_str(r#"{"daily_mixes": 3}"#).unwrap();
        assert_eq!(c.blend, BlendWeights::default());
        let b: BlendWeights = serde_json::from_str(r#"{"discover_recent": 0.5}"#).unwrap();
        assert_eq!(b.discover_recent, 0.5);
        assert_eq!(b.discover_collaborative, 0.6);
    }
}
