//! Ranking metrics exactly as RecBole defines them (`recbole/evaluator/metrics.py`), and
//! beyond-accuracy measures. All per-list values are averaged over the evaluated users
//! (users with at least one held-out item).

use serde::{Deserialize, Serialize};

/// Recall, NDCG, Hit and Precision at one cut-off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub recall: f64,
    pub ndcg: f64,
    pub hit: f64,
    pub precision: f64,
}

impl TopK {
    pub fn add(&mut self, o: &TopK) {
        self.recall += o.recall;
        self.ndcg += o.ndcg;
        self.hit += o.hit;
        self.precision += o.precision;
    }

    pub fn scale(&mut self, s: f64) {
        self.recall *= s;
        self.ndcg *= s;
        self.hit *= s;
        self.precision *= s;
    }
}

/// Metrics of one ranked list (`ranked[0]` is best; only the first `k` count) against the
/// user's held-out items `positives` (sorted). With `h` hits among the first `k` and
/// `P = positives.len()`:
/// - Recall@k = h / P; Precision@k = h / k; Hit@k = 1 if h > 0;
/// - NDCG@k = DCG / IDCG with DCG = Σ over hit ranks r (1-based) of 1/log₂(r+1) and
///   IDCG = Σ_{r=1}^{min(P,k)} 1/log₂(r+1).
pub fn topk_metrics(ranked: &[u32], positives: &[u32], k: usize) -> TopK {
    let p = positives.len();
    if p == 0 || k == 0 {
        return TopK::default();
    }
    let mut hits = 0usize;
    let mut dcg = 0f64;
    for (r, item) in ranked.iter().take(k).enumerate() {
        if positives.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / ((r + 2) as f64).log2();
        }
    }
    let idcg: f64 = (0..p.min(k)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
    TopK {
        recall: hits as f64 / p as f64,
        ndcg: dcg / idcg,
        hit: if hits > 0 { 1.0 } else { 0.0 },
        precision: hits as f64 / k as f64,
    }
}

/// Indices of the `k` highest scores among items for which `skip(i)` is false, best first
/// (ties broken by the lower index).
pub fn top_k(scores: &[f32], k: usize, skip: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut cand: Vec<(f32, u32)> = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip(*i))
        .map(|(i, &s)| (s, i as u32))
        .collect();
    let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if cand.len() > k && k > 0 {
        cand.select_nth_unstable_by(k - 1, cmp);
    }
    cand.truncate(k);
    cand.sort_by(cmp);
    cand.into_iter().map(|(_, i)| i).collect()
}

/// Catalog coverage: distinct recommended items / `catalog_size`.
pub fn coverage(lists: &[Vec<u32>], catalog_size: usize) -> f64 {
    if catalog_size == 0 {
        return 0.0;
    }
    let mut seen = std::collections::HashSet::new();
    for l in lists {
        seen.extend(l.iter().copied());
    }
    seen.len() as f64 / catalog_size as f64
}

/// Novelty: mean self-information `−log₂(pop(i) / n_users)` of the recommended items, where
/// `pop(i)` is the number of training listeners of `i` (items with none count as one).
pub fn novelty(lists: &[Vec<u32>], pop: &[u32], n_users: usize) -> f64 {
    let (mut s, mut n) = (0f64, 0usize);
    for l in lists {
        for &i in l {
            let p = pop.get(i as usize).copied().unwrap_or(0).max(1) as f64;
            s += -(p / n_users.max(1) as f64).log2();
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// Average recommendation popularity (ARP): the mean `pop(i)` (training listeners) of the
/// recommended items.
pub fn arp(lists: &[Vec<u32>], pop: &[u32]) -> f64 {
    let (mut s, mut n) = (0f64, 0usize);
    for &i in lists.iter().flatten() {
        s += pop.get(i as usize).copied().unwrap_or(0) as f64;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// The popularity head: the most popular items (by `pop`, ties by index) that together hold
/// `share` of all `pop` (Abdollahpouri et al., 2019, take 20 %).
pub fn popularity_head(pop: &[u32], share: f64) -> std::collections::HashSet<u32> {
    let mut order: Vec<u32> = (0..pop.len() as u32).collect();
    order.sort_by(|&a, &b| pop[b as usize].cmp(&pop[a as usize]).then(a.cmp(&b)));
    let total: u64 = pop.iter().map(|&n| n as u64).sum();
    let mut head = std::collections::HashSet::new();
    let mut acc = 0u64;
    for i in order {
        if acc as f64 >= share * total as f64 {
            break;
        }
        acc += pop[i as usize] as u64;
        head.insert(i);
    }
    head
}

/// Share of recommended items in `head` (popularity bias; compare with the head's share of
/// the catalog).
pub fn head_share(lists: &[Vec<u32>], head: &std::collections::HashSet<u32>) -> f64 {
    let (mut h, mut n) = (0usize, 0usize);
    for i in lists.iter().flatten() {
        h += usize::from(head.contains(i));
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        h as f64 / n as f64
    }
}

/// Intra-list diversity: the mean, over lists, of the mean Jaccard distance
/// `1 − |Tᵢ ∩ Tⱼ| / |Tᵢ ∪ Tⱼ|` between the feature sets (e.g. tags; sorted) of every pair of
/// items in the list that both have features. Lists with no such pair are skipped.
pub fn intra_list_diversity(lists: &[Vec<u32>], features: &[Vec<u32>]) -> Option<f64> {
    let empty = Vec::new();
    let (mut total, mut nlists) = (0f64, 0usize);
    for l in lists {
        let (mut s, mut pairs) = (0f64, 0usize);
        for a in 0..l.len() {
            let fa = features.get(l[a] as usize).unwrap_or(&empty);
            if fa.is_empty() {
                continue;
            }
            for &lb in &l[a + 1..] {
                let fb = features.get(lb as usize).unwrap_or(&empty);
                if fb.is_empty() {
                    continue;
                }
                let inter = sorted_intersection(fa, fb);
                let union = fa.len() + fb.len() - inter;
                s += 1.0 - inter as f64 / union as f64;
                pairs += 1;
            }
        }
        if pairs > 0 {
            total += s / pairs as f64;
            nlists += 1;
        }
    }
    (nlists > 0).then(|| total / nlists as f64)
}

/// Mean share of distinct groups (e.g. artists of tracks) per list: 1.0 means no group
/// appears twice in a list.
pub fn distinct_group_ratio(lists: &[Vec<u32>], group_of: impl Fn(u32) -> u32) -> f64 {
    let mut s = 0f64;
    let mut n = 0usize;
    for l in lists.iter().filter(|l| !l.is_empty()) {
        let mut g: Vec<u32> = l.iter().map(|&i| group_of(i)).collect();
        g.sort_unstable();
        g.dedup();
        s += g.len() as f64 / l.len() as f64;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

fn sorted_intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn recbole_definitions() {
        // positives {2, 5, 9}; hits at ranks 1 and 3 of a top-5 list
        let m = topk_metrics(&[2, 7, 5, 8, 1], &[2, 5, 9], 5);
        assert!(close(m.recall, 2.0 / 3.0));
        assert!(close(m.precision, 2.0 / 5.0));
        assert!(close(m.hit, 1.0));
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!(close(m.ndcg, dcg / idcg));
        // more positives than k: IDCG over k ranks, perfect list gives 1
        let m = topk_metrics(&[1, 2], &[1, 2, 3, 4], 2);
        assert!(close(m.ndcg, 1.0) && close(m.recall, 0.5) && close(m.precision, 1.0));
        let m = topk_metrics(&[7, 8], &[1], 2);
        assert_eq!(m, TopK::default());
    }

    #[test]
    fn top_k_skips_and_breaks_ties() {
        let s = [0.5, 0.9, 0.9, 0.1, 0.7];
        assert_eq!(top_k(&s, 3, |i| i == 4), vec![1, 2, 0]);
        assert_eq!(top_k(&s, 10, |_| false).len(), 5);
    }

    #[test]
    fn beyond_accuracy() {
        let lists = vec![vec![0, 1], vec![1, 2]];
        assert!(close(coverage(&lists, 4), 0.75));
        let pop = [1, 2, 4];
        let n = novelty(&lists, &pop, 4);
        assert!(close(n, (2.0 + 1.0 + 1.0 + 0.0) / 4.0));
        let feats = vec![vec![1, 2], vec![2, 3], vec![]];
        // list 0: one pair, jaccard 1/3 -> distance 2/3; list 1: no pair with features
        assert!(close(intra_list_diversity(&lists, &feats).unwrap(), 2.0 / 3.0));
        assert!(close(distinct_group_ratio(&[vec![0, 1, 2, 3]], |i| i / 2), 0.5));
        assert!(close(arp(&lists, &pop), (1.0 + 2.0 + 2.0 + 4.0) / 4.0));
    }

    #[test]
    fn the_head_is_the_most_popular_items_holding_the_share() {
        // 10 + 6 + 2 + 1 + 1 = 20 listens; 20 % of them is 4: the first item alone.
        let pop = [2, 10, 1, 6, 1];
        let head = popularity_head(&pop, 0.2);
        assert_eq!(head.into_iter().collect::<Vec<_>>(), vec![1]);
        // 60 %: items 1 and 3 (16 listens).
        let head = popularity_head(&pop, 0.6);
        let mut h: Vec<u32> = head.iter().copied().collect();
        h.sort_unstable();
        assert_eq!(h, vec![1, 3]);
        assert!(close(head_share(&[vec![1, 0], vec![3, 4]], &head), 0.5));
        assert!(popularity_head(&[], 0.2).is_empty());
    }
}
