//! Completion lookup over the sorted suffixes of a [`Table`]: a Levenshtein prefix DFA is
//! walked over the sorted keys as over a trie (each child range found by binary search),
//! giving disjoint ranges of entries that complete the typed text at a known edit
//! distance; the best entries of those ranges are then read block by block in the order
//! of their popularity bound, stopping once no unread block can beat the current top.

use super::table::{Entry, Item, Table, BLOCK};
use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA, SINK_STATE};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Quality of a completion by edit distance of the typed text to the name's beginning.
pub const QUALITY: [f32; 3] = [1.0, 0.6, 0.45];
/// Quality factor of a completion that starts at an inner word of the name.
pub const INNER: f32 = 0.8;
/// Largest taste lift: below the smallest gap between an exact-prefix completion and a
/// one-typo one of equal popularity (`(1 - 0.6) * 0.5`), so taste reorders among equals
/// but never lets a typo match overtake an exact one as popular.
pub const PERSONAL: f32 = 0.15;
const _: () = assert!(PERSONAL < (1.0 - 0.6) * 0.5);

/// Typos allowed for the typed text: none under 4 characters, one from 4 (never in the
/// first letter).
pub fn budget(typed: &str) -> u8 {
    crate::plan::max_typos(typed.trim_end()).min(1)
}

fn builder(d: u8) -> &'static LevenshteinAutomatonBuilder {
    static B: [OnceLock<LevenshteinAutomatonBuilder>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    B[d.min(2) as usize].get_or_init(|| LevenshteinAutomatonBuilder::new(d.min(2), true))
}

/// A range of `base` (or of `delta`) whose entries complete the text at distance `d`.
#[derive(Debug, Clone, Copy)]
struct Hit {
    delta: bool,
    lo: usize,
    hi: usize,
    d: u8,
}

struct Walk<'a> {
    t: &'a Table,
    dfa: DFA,
    max_depth: usize,
    /// The typed text's first byte.
    first: u8,
    out: Vec<Hit>,
}

impl Walk<'_> {
    fn entries(&self, delta: bool) -> &[Entry] {
        if delta {
            &self.t.delta
        } else {
            &self.t.base
        }
    }

    /// Entries `lo..hi` share their first `depth` bytes and reach `state`.
    fn visit(&mut self, delta: bool, lo: usize, hi: usize, depth: usize, state: u32) {
        let matched = match self.dfa.distance(state) {
            Distance::Exact(d) => Some(d),
            Distance::AtLeast(_) => None,
        };
        if let Some(d) = matched {
            if d == 0 || depth >= self.max_depth {
                self.out.push(Hit { delta, lo, hi, d });
                return;
            }
        }
        let mut i = lo;
        // Keys that end here sort first.
        while i < hi && self.t.key(self.entries(delta)[i]).len() == depth {
            i += 1;
        }
        if let (Some(d), true) = (matched, i > lo) {
            self.out.push(Hit { delta, lo, hi: i, d });
        }
        // Few bytes keep the text within its budget (always at the first letter, which is
        // never a typo, and wherever the budget is spent): seek each one's range directly.
        let allowed: Vec<u8> = if depth == 0 {
            vec![self.first]
        } else {
            (0..=255u8)
                .filter(|b| self.dfa.transition(state, *b) != SINK_STATE)
                .take(5)
                .collect()
        };
        if allowed.len() <= 4 {
            for b in allowed {
                let es = self.entries(delta);
                let from = i + es[i..hi].partition_point(|e| self.t.key(*e)[depth] < b);
                let to = from + es[from..hi].partition_point(|e| self.t.key(*e)[depth] <= b);
                if from < to {
                    self.visit(delta, from, to, depth + 1, self.dfa.transition(state, b));
                }
            }
            return;
        }
        while i < hi {
            let es = self.entries(delta);
            let b = self.t.key(es[i])[depth];
            let j = i + es[i..hi].partition_point(|e| self.t.key(*e)[depth] <= b);
            let next = self.dfa.transition(state, b);
            if next != SINK_STATE {
                self.visit(delta, i, j, depth + 1, next);
            }
            i = j;
        }
    }
}

/// A scored entity completion.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub ord: u32,
    pub score: f32,
    /// Edit distance of the typed text to the completed name's beginning.
    pub d: u8,
}

/// The lookup's inputs besides the table.
pub(crate) struct Lookup<'a> {
    /// The typed text, as a key ([`super::table::key_of`]).
    pub typed: &'a str,
    pub market: Option<u16>,
    pub limit: usize,
    /// Taste affinities by feature hash (empty: no lift).
    pub taste: &'a HashMap<u64, f32>,
    /// One completion per entity instead of one per distinct name key (the deep lookup
    /// a taste re-ranks: two tracks named `Song` may be lifted differently).
    pub per_entity: bool,
    /// Stop at entries that only tie the current floor (the deep lookup: which of
    /// thousands of equal `Chapter 1`s fill it does not matter to the taste re-ranking).
    pub ties_stop: bool,
}

fn lift(item: &Item<'_>, taste: &HashMap<u64, f32>) -> f32 {
    if taste.is_empty() {
        return 0.0;
    }
    let own = super::table::feature(b'i', item.id());
    let mut best = f32::NEG_INFINITY;
    let mut worst = 0.0f32;
    for a in std::iter::once(own)
        .chain(item.features())
        .filter_map(|f| taste.get(&f))
    {
        best = best.max(*a);
        worst = worst.min(*a);
    }
    let a = if best > 0.0 { best } else { worst };
    PERSONAL * a.clamp(-1.0, 1.0)
}

/// The score of one completion: `quality * (0.5 + 0.5 * popularity) + lift`, where
/// popularity is `ln(1 + p) / ln(1 + max p)`.
pub(crate) fn score(q: f32, pop: f32, max_pop: f32, lift: f32) -> f32 {
    let p = if max_pop > 0.0 {
        (pop / max_pop).clamp(0.0, 1.0)
    } else {
        0.0
    };
    q * (0.5 + 0.5 * p) + lift
}

/// How many times `limit` completions are looked up before a listener's taste re-ranks
/// them.
pub const LIFT_DEPTH: usize = 8;

/// The best completions of `l.typed`, one per distinct name key, best first.
///
/// Exact completions are looked up first: when they fill the list with scores no typo
/// completion can reach (`QUALITY[1]`), the typo walk is skipped. With a taste, the best
/// `LIFT_DEPTH × limit` completions without it are lifted and re-ranked: bounding the
/// walk by the largest lift instead tripled the p99 on the 1.1M catalog (every block of
/// unpopular names came within reach, and the typo walk ran on most long prefixes), while
/// the lift, smaller than the gap between an exact and a typo completion, only reorders
/// near-equals anyway.
pub(crate) fn lookup(t: &Table, l: &Lookup<'_>) -> Vec<Found> {
    if l.typed.is_empty() || l.limit == 0 {
        return Vec::new();
    }
    if l.taste.is_empty() {
        return lookup_plain(t, l);
    }
    let none = HashMap::new();
    let deep = Lookup {
        limit: l.limit.saturating_mul(LIFT_DEPTH),
        taste: &none,
        ..*l
    };
    // The best distinct names, and the best entities (names shared by many entities,
    // `Chapter 1`, would otherwise crowd out the other names). Typos only when exact
    // completions cannot fill the list asked for (not the deep one).
    let d = budget(l.typed);
    let run = |per_entity: bool| {
        let lk = Lookup {
            per_entity,
            ties_stop: true,
            ..deep
        };
        let exact = lookup_within(t, &lk, 0);
        if d == 0 || exact.iter().filter(|f| f.score >= QUALITY[1]).count() >= l.limit {
            exact
        } else {
            lookup_within(t, &lk, d)
        }
    };
    let mut found = run(false);
    let mut seen: std::collections::HashSet<u32> = found.iter().map(|f| f.ord).collect();
    found.extend(run(true).into_iter().filter(|f| seen.insert(f.ord)));
    for f in &mut found {
        if let Some(it) = t.item(f.ord) {
            f.score += lift(&it, l.taste);
        }
    }
    found.sort_by(|a, b| order(a, b, t));
    let mut keys = std::collections::HashSet::new();
    found.retain(|f| t.item(f.ord).is_some_and(|it| keys.insert(it.key())));
    found.truncate(l.limit);
    found
}

/// [`lookup`] without a taste (the taste lifts only what this found: see [`lookup`]).
fn lookup_plain(t: &Table, l: &Lookup<'_>) -> Vec<Found> {
    let d = budget(l.typed);
    if d == 0 {
        return lookup_within(t, l, 0);
    }
    let exact = lookup_within(t, l, 0);
    if exact.len() == l.limit && exact.last().is_some_and(|f| f.score >= QUALITY[1]) {
        return exact;
    }
    lookup_within(t, l, d)
}

/// [`lookup`] with `d` typos allowed.
fn lookup_within(t: &Table, l: &Lookup<'_>, d: u8) -> Vec<Found> {
    let dfa = builder(d).build_prefix_dfa(l.typed);
    let mut w = Walk {
        t,
        dfa,
        max_depth: l.typed.len() + d as usize,
        first: l.typed.as_bytes()[0],
        out: Vec::new(),
    };
    let start = w.dfa.initial_state();
    w.visit(false, 0, t.base.len(), 0, start);
    w.visit(true, 0, t.delta.len(), 0, start);
    // Blocks (or delta ranges, read whole) with their bound, best bound first.
    let mut parts: Vec<(f32, Hit)> = Vec::new();
    for h in &w.out {
        let q = QUALITY[h.d.min(2) as usize];
        if h.delta {
            parts.push((score(q, t.max_pop, t.max_pop, 0.0), *h));
            continue;
        }
        let mut lo = h.lo;
        while lo < h.hi {
            let blk = lo / BLOCK;
            let hi = ((blk + 1) * BLOCK).min(h.hi);
            parts.push((score(q, t.block_max[blk], t.max_pop, 0.0), Hit { lo, hi, ..*h }));
            lo = hi;
        }
    }
    parts.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut best: HashMap<&str, Found> = HashMap::new();
    let mut floor = f32::NEG_INFINITY;
    // Insertions since the floor was last raised: the floor is recomputed (and `best`
    // pruned to what can still make the top) once per `limit` insertions, so the work
    // stays linear in the entries read.
    let mut fresh = 0usize;
    for (bound, h) in parts {
        if best.len() >= l.limit && (bound < floor || (l.ties_stop && bound <= floor)) {
            break;
        }
        let es = if h.delta { &t.delta } else { &t.base };
        for e in &es[h.lo..h.hi] {
            let Some(it) = t.item(e.ord) else {
                continue;
            };
            if it.dead || !it.in_market(l.market) {
                continue;
            }
            let q = QUALITY[h.d.min(2) as usize] * if e.off > 0 { INNER } else { 1.0 };
            let s = score(q, it.pop, t.max_pop, 0.0);
            if s < floor || (l.ties_stop && s <= floor) {
                continue;
            }
            let f = Found {
                ord: e.ord,
                score: s,
                d: h.d,
            };
            let key = if l.per_entity { it.id() } else { it.key() };
            match best.get_mut(key) {
                Some(cur) if better(cur, &f, t) => {}
                Some(cur) => *cur = f,
                None => {
                    best.insert(key, f);
                    fresh += 1;
                }
            }
            if best.len() >= l.limit && fresh >= l.limit {
                let mut scores: Vec<f32> = best.values().map(|f| f.score).collect();
                let k = l.limit - 1;
                scores.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
                floor = scores[k];
                best.retain(|_, f| f.score >= floor);
                fresh = 0;
            }
        }
        if best.len() >= l.limit {
            let mut scores: Vec<f32> = best.values().map(|f| f.score).collect();
            let k = l.limit - 1;
            scores.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
            floor = scores[k];
        }
    }
    let mut out: Vec<Found> = best.into_values().collect();
    out.sort_by(|a, b| order(a, b, t));
    out.truncate(l.limit);
    out
}

/// Best first: score, then fewer edits, then the more popular, then the id.
fn order(a: &Found, b: &Found, t: &Table) -> std::cmp::Ordering {
    let (ia, ib) = (t.item(a.ord), t.item(b.ord));
    b.score
        .total_cmp(&a.score)
        .then(a.d.cmp(&b.d))
        .then_with(|| {
            let (pa, pb) = (ia.map_or(0.0, |i| i.pop), ib.map_or(0.0, |i| i.pop));
            pb.total_cmp(&pa)
        })
        .then_with(|| ia.map(|i| i.id()).cmp(&ib.map(|i| i.id())))
}

fn better(cur: &Found, new: &Found, t: &Table) -> bool {
    order(cur, new, t) != std::cmp::Ordering::Greater
}
