//! Training a [`ServingModel`] from a [`Source`], one function per phase:
//!
//! 1. [`gather_interactions`]: every listener's liked items as a weighted matrix;
//! 2. [`CatalogPass::read`]: one pass over the catalog for metadata, tags and the catalog's
//!    own popularity;
//! 3. model selection ([`crate::select`]: ALS with the items' tags as side information,
//!    EASE^R, RP3beta, item-kNN and their blend, chosen on a validation slice), or
//!    [`fit`] (ALS alone) when `recs.select.enabled` is off;
//! 4. [`Centroids`] and [`content_vectors`]: vectors for catalog items without plays;
//! 5. [`popularity_lists`]: per type, for cold start and short lists;
//! 6. the vector index, built by `ServingModel::assemble` (shared with loading a file).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use needle_core::{Entity, EntityType};

use super::{interaction_weight, now_ms, ItemMeta, Parts, ServingModel, TrainStats, Vectors};
use crate::index::quantize_i8_into;
use crate::matrix::{Csr, IdMap, Interactions, InteractionsBuilder};
use crate::models::{Als, AlsConfig};
use crate::serve::{BlendWeights, ServeConfig, Source};
use crate::RecsError;

/// Entries kept per type in the popularity lists.
const POPULAR_PER_TYPE: usize = 2_000;

impl ServingModel {
    /// Train on every listener of `source`, then read the catalog for metadata, content
    /// vectors and popularity. `progress(fraction)` is called as work advances.
    pub fn train(
        source: &dyn Source,
        config: &ServeConfig,
        version: u64,
        progress: &mut dyn FnMut(f32),
    ) -> Result<ServingModel, RecsError> {
        Self::train_from(source, config, version, progress, None)
    }

    /// [`ServingModel::train`], incrementally when `previous` (the served model) is given
    /// and names what it chose: its blend refitted, ALS warm-started from its vectors for
    /// `recs.select.warm_iterations` (`select::refit`), no new selection. Otherwise (no
    /// previous model, or one without a selection) a full training.
    pub fn train_from(
        source: &dyn Source,
        config: &ServeConfig,
        version: u64,
        progress: &mut dyn FnMut(f32),
        previous: Option<&ServingModel>,
    ) -> Result<ServingModel, RecsError> {
        let mut stats = TrainStats::default();
        let t = Instant::now();
        let (data, recency, with_history) = gather_interactions(source);
        stats.listeners = with_history;
        stats.interactions = data.matrix.nnz();
        stats.snapshot_ms = elapsed_ms(t);
        progress(0.05);

        // The catalog first: the items' tags are side information for training.
        let t = Instant::now();
        let catalog = CatalogPass::read(source, &data.items)?;
        let catalog_ms = elapsed_ms(t);
        progress(0.1);
        let tags = crate::models::tag_matrix(&catalog.tags_of_trained, data.items.len());

        let t = Instant::now();
        let warm = match previous.and_then(|p| Some((p, p.mix.as_ref()?))) {
            Some((p, mix)) => {
                let init = |i: u32| -> Option<Vec<f32>> {
                    let j = p.items.get(data.items.id(i))?;
                    ((j as usize) < p.n_trained).then(|| p.vector(j).map(Cow::into_owned))?
                };
                let b = crate::select::refit(
                    &data.matrix,
                    Some(&tags),
                    &mix.selection,
                    p.version,
                    &init,
                    config.select.warm_iterations,
                )?;
                if b.is_none() {
                    tracing::warn!("the served model does not name its configurations; training from scratch");
                }
                b
            }
            None => None,
        };
        let (als, mix) = if let Some(b) = warm {
            tracing::info!(chosen = %b.mix.selection.summary(), "incremental training: the chosen blend refitted, warm-started");
            stats.selection = Some(b.mix.selection.clone());
            (b.als, Some(b.mix))
        } else if config.select.enabled {
            let b = crate::select::select(&data.matrix, Some(&recency), Some(&tags), &config.als, &config.select)?;
            tracing::info!(chosen = %b.mix.selection.summary(), ndcg = b.mix.selection.ndcg, "model selection");
            stats.selection = Some(b.mix.selection.clone());
            (b.als, Some(b.mix))
        } else {
            (fit(&data.matrix, Some(&tags), &config.als, progress), None)
        };
        progress(0.8);
        stats.train_ms = elapsed_ms(t);
        let mut items = data.items;
        let n_trained = items.len();
        stats.trained_items = n_trained;
        let listeners = data.matrix.col_counts();

        let t = Instant::now();
        progress(0.85);

        let centroids = Centroids::of(&als, &catalog.meta, &catalog.tags_of_trained, &config.blend);
        let mut meta: Vec<ItemMeta> = catalog.meta.into_iter().map(Option::unwrap_or_default).collect();
        let (vectors, vectorless) = content_vectors(catalog.pending, &centroids, &mut items, &mut meta);
        let n_vec = items.len();
        stats.content_items = n_vec - n_trained;

        let popular = popularity_lists(
            &listeners,
            catalog.catalog_pop,
            vectorless,
            &config.blend,
            &mut items,
            &mut meta,
        );
        stats.popular_items = items.len() - n_vec;
        stats.catalog_ms = catalog_ms + elapsed_ms(t);
        progress(0.9);

        let (model, _) = Self::assemble(
            Parts {
                version,
                created_ms: now_ms(),
                config: config.clone(),
                stats,
                items,
                meta,
                creators: catalog.creators,
                listeners,
                popular,
                n_trained,
                n_vec,
                als,
                vectors,
                mix,
            },
            None,
        )?;
        progress(1.0);
        Ok(model)
    }
}

fn elapsed_ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

/// Phase 1: every listener's liked items (those with an [`interaction_weight`]) as a
/// listener × item matrix, both numbered in id order so that the same listening gives the
/// same model. Also returns the same pattern with each pair's recency (seconds of its
/// newest event after the oldest listening, for the validation slice of model selection)
/// and how many listeners have at least one liked item.
fn gather_interactions(source: &dyn Source) -> (Interactions, Csr, usize) {
    let mut b = InteractionsBuilder::default();
    let mut when: Vec<(String, String, i64)> = Vec::new();
    let mut with_history = 0;
    source.for_each_listener(&mut |user, p| {
        let mut any = false;
        for (item, st) in &p.items {
            if let Some(w) = interaction_weight(st) {
                b.push(user, item, w);
                when.push((user.to_string(), item.clone(), st.last_ts));
                any = true;
            }
        }
        if any {
            with_history += 1;
        }
    });
    let data = b.build_sorted();
    let oldest = when.iter().map(|w| w.2).min().unwrap_or(0);
    let triples: Vec<(u32, u32, f32)> = when
        .iter()
        .filter_map(|(u, i, ts)| {
            Some((
                data.users.get(u)?,
                data.items.get(i)?,
                ((ts - oldest) as f64 / 1000.0) as f32 + 1.0,
            ))
        })
        .collect();
    let recency = Csr::from_triplets(data.matrix.nrows(), data.matrix.ncols(), &triples);
    (data, recency, with_history)
}

/// Phase 2 without selection: ALS on the interactions (with the items' tags as side
/// information when `config.tag_weight` asks); progress goes from 0.1 to 0.8 over the
/// iterations.
fn fit(matrix: &Csr, tags: Option<&Csr>, config: &AlsConfig, progress: &mut dyn FnMut(f32)) -> Als {
    let iterations = config.iterations.max(1);
    Als::train_with_side(matrix, tags, config, |it| {
        progress(0.1 + 0.7 * it as f32 / iterations as f32)
    })
}

/// A catalog item nobody has played yet.
struct Pending {
    id: String,
    meta: ItemMeta,
    /// Tag numbers (shared with the trained items' tags).
    tags: Vec<u32>,
}

/// Phase 3: what one pass over the catalog tells about the items.
struct CatalogPass {
    /// Creators (artists, shows, audiobooks), numbered as they are met.
    creators: IdMap,
    /// Metadata of the trained items; `None` for items played but not in the catalog.
    meta: Vec<Option<ItemMeta>>,
    /// Tag numbers of the trained items.
    tags_of_trained: Vec<Vec<u32>>,
    /// Catalog items without plays, in catalog order.
    pending: Vec<Pending>,
    /// Per type, the items with the highest catalog `popularity` (at least the top
    /// [`POPULAR_PER_TYPE`]; trimmed as the pass goes to bound memory).
    catalog_pop: HashMap<EntityType, Vec<(String, f64)>>,
}

impl CatalogPass {
    /// Visit every catalog entity once; `items` are the trained items.
    fn read(source: &dyn Source, items: &IdMap) -> Result<CatalogPass, RecsError> {
        let n_trained = items.len();
        let mut creators = IdMap::new();
        let mut meta: Vec<Option<ItemMeta>> = vec![None; n_trained];
        let mut tags_of_trained: Vec<Vec<u32>> = vec![Vec::new(); n_trained];
        let mut tag_ids = IdMap::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut catalog_pop: HashMap<EntityType, Vec<(String, f64)>> = HashMap::new();
        source.for_each_entity(&mut |e: &Entity| {
            let m = ItemMeta::of(e, &mut creators);
            let tags: Vec<u32> = e
                .tags
                .iter()
                .map(|t| tag_ids.get_or_insert(&t.to_lowercase()))
                .collect();
            let pop = e.popularity.unwrap_or(0.0);
            let list = catalog_pop.entry(e.entity_type()).or_default();
            list.push((e.id.clone(), pop));
            if list.len() >= 4 * POPULAR_PER_TYPE {
                keep_top(list, POPULAR_PER_TYPE);
            }
            match items.get(&e.id) {
                Some(i) => {
                    meta[i as usize] = Some(m);
                    tags_of_trained[i as usize] = tags;
                }
                None => pending.push(Pending {
                    id: e.id.clone(),
                    meta: m,
                    tags,
                }),
            }
        })?;
        Ok(CatalogPass {
            creators,
            meta,
            tags_of_trained,
            pending,
            catalog_pop,
        })
    }
}

/// A running sum of vectors and their count.
type Sum = (Vec<f32>, u32);

/// Phase 4a: the centroid (mean vector) of the trained items of every creator and every tag.
struct Centroids {
    factors: usize,
    /// Weights of creators and tags in a content vector.
    creators_weight: f32,
    tags_weight: f32,
    by_creator: HashMap<u32, Sum>,
    by_tag: HashMap<u32, Sum>,
}

impl Centroids {
    fn of(als: &Als, meta: &[Option<ItemMeta>], tags_of_trained: &[Vec<u32>], blend: &BlendWeights) -> Centroids {
        let f = als.factors();
        let add = |groups: &mut HashMap<u32, Sum>, key: u32, v: &[f32]| {
            let (sum, n) = groups.entry(key).or_insert_with(|| (vec![0.0; f], 0));
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x;
            }
            *n += 1;
        };
        let mut by_creator: HashMap<u32, Sum> = HashMap::new();
        let mut by_tag: HashMap<u32, Sum> = HashMap::new();
        for i in 0..meta.len() {
            let Some(v) = als.item_vector(i) else { continue };
            if let Some(m) = &meta[i] {
                for &c in &m.creators {
                    add(&mut by_creator, c, v);
                }
            }
            for &t in &tags_of_trained[i] {
                add(&mut by_tag, t, v);
            }
        }
        Centroids {
            factors: f,
            creators_weight: blend.content_creators,
            tags_weight: blend.content_tags,
            by_creator,
            by_tag,
        }
    }

    /// The mean of the centroids of those `keys` that have one.
    fn mean(&self, groups: &HashMap<u32, Sum>, keys: &[u32]) -> Option<Vec<f32>> {
        let mut out = vec![0.0; self.factors];
        let mut n = 0;
        for k in keys {
            if let Some((sum, c)) = groups.get(k) {
                for (o, s) in out.iter_mut().zip(sum) {
                    *o += s / *c as f32;
                }
                n += 1;
            }
        }
        (n > 0).then(|| out.into_iter().map(|x| x / n as f32).collect())
    }

    /// The content vector of an item: `recs.blend.content_creators` (0.7) × the mean of its
    /// creators' centroids + `recs.blend.content_tags` (0.3) × the mean of its tags'
    /// centroids, either mean alone when the other is missing. An artist, show
    /// or audiobook is its own creator, so only its tags describe it.
    fn content_vector(&self, m: &ItemMeta, tags: &[u32]) -> Option<Vec<f32>> {
        let own = matches!(
            m.kind,
            Some(EntityType::Artist | EntityType::Show | EntityType::Audiobook)
        );
        let cv = if own {
            None
        } else {
            self.mean(&self.by_creator, &m.creators)
        };
        let tv = self.mean(&self.by_tag, tags);
        match (cv, tv) {
            (Some(c), Some(t)) => Some(
                c.iter()
                    .zip(&t)
                    .map(|(a, b)| self.creators_weight * a + self.tags_weight * b)
                    .collect(),
            ),
            (Some(c), None) => Some(c),
            (None, Some(t)) => Some(t),
            (None, None) => None,
        }
    }
}

/// Phase 4b: vectors for the catalog items without plays. Those that get one are appended to
/// `items` and `meta` (the range `[n_trained, n_vec)`); their vectors are returned as `i8`
/// codes with one scale each (what the index serves and the file stores, so a model
/// answers the same before and after it is saved and read back); the items without one
/// are returned for the popularity lists.
fn content_vectors(
    pending: Vec<Pending>,
    centroids: &Centroids,
    items: &mut IdMap,
    meta: &mut Vec<ItemMeta>,
) -> (Vectors, Vec<Pending>) {
    let (mut codes, mut scales) = (Vec::new(), Vec::new());
    let mut vectorless = Vec::new();
    for p in pending {
        match centroids.content_vector(&p.meta, &p.tags) {
            Some(v) => {
                items.get_or_insert(&p.id);
                meta.push(p.meta);
                scales.push(quantize_i8_into(&v, &mut codes));
            }
            None => vectorless.push(p),
        }
    }
    codes.shrink_to_fit();
    scales.shrink_to_fit();
    (Vectors::Content { codes, scales }, vectorless)
}

/// Phase 5: per type, the top [`POPULAR_PER_TYPE`] items by `popular_listeners ·
/// ln(1+listeners) / ln(1+max listeners) + popular_catalog · ln(1+popularity) /
/// ln(1+max popularity)` (`recs.blend`, 0.6 and 0.4 by default), over the trained
/// items (`listeners` per item) and the catalog's most popular items (`catalog_pop`), best
/// first. Vectorless items that make a list are appended to `items` and `meta` (the range
/// `[n_vec, len)`).
fn popularity_lists(
    listeners: &[u32],
    mut catalog_pop: HashMap<EntityType, Vec<(String, f64)>>,
    vectorless: Vec<Pending>,
    blend: &BlendWeights,
    items: &mut IdMap,
    meta: &mut Vec<ItemMeta>,
) -> HashMap<EntityType, Vec<(u32, f32)>> {
    let mut popular: HashMap<EntityType, Vec<(u32, f32)>> = HashMap::new();
    let max_listeners = listeners.iter().copied().max().unwrap_or(0) as f32;
    // Per type: (id, training listeners, catalog popularity).
    let mut scored: HashMap<EntityType, Vec<(String, f64, f64)>> = HashMap::new();
    for (i, &l) in listeners.iter().enumerate() {
        if let Some(kind) = meta[i].kind {
            scored
                .entry(kind)
                .or_default()
                .push((items.id(i as u32).to_string(), l as f64, 0.0));
        }
    }
    for (kind, list) in &mut catalog_pop {
        keep_top(list, POPULAR_PER_TYPE);
        let s = scored.entry(*kind).or_default();
        let known: HashMap<&str, usize> = s.iter().enumerate().map(|(j, x)| (x.0.as_str(), j)).collect();
        let mut add = Vec::new();
        for (id, pop) in list.iter() {
            match known.get(id.as_str()) {
                Some(&j) => add.push((j, *pop)),
                None => add.push((usize::MAX, *pop)),
            }
        }
        let mut fresh = Vec::new();
        for ((j, pop), (id, _)) in add.into_iter().zip(list.iter()) {
            if j == usize::MAX {
                fresh.push((id.clone(), 0.0, pop));
            } else {
                s[j].2 = pop;
            }
        }
        s.extend(fresh);
    }
    let vectorless_ix: HashMap<String, ItemMeta> = vectorless.into_iter().map(|p| (p.id, p.meta)).collect();
    for (kind, list) in scored {
        let max_pop = list.iter().map(|x| x.2).fold(0.0f64, f64::max);
        let norm = |x: f64, max: f64| {
            if max > 0.0 {
                (x.ln_1p() / max.ln_1p()) as f32
            } else {
                0.0
            }
        };
        let mut ranked: Vec<(String, f32)> = list
            .into_iter()
            .map(|(id, l, p)| {
                let s =
                    blend.popular_listeners * norm(l, max_listeners as f64) + blend.popular_catalog * norm(p, max_pop);
                (id, s)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(POPULAR_PER_TYPE);
        let mut out = Vec::with_capacity(ranked.len());
        for (id, s) in ranked {
            let i = match items.get(&id) {
                Some(i) => i,
                None => {
                    let Some(m) = vectorless_ix.get(&id) else { continue };
                    meta.push(m.clone());
                    items.get_or_insert(&id)
                }
            };
            out.push((i, s));
        }
        popular.insert(kind, out);
    }
    popular
}

/// Sort best first (ties by id) and keep the first `n`.
fn keep_top(list: &mut Vec<(String, f64)>, n: usize) {
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    list.truncate(n);
}
