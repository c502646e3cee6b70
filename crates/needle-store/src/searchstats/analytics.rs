//! Analytics over the rolling aggregates: what was searched, what found nothing, what was
//! clicked and where. Read from the hourly buckets and per-query daily counts, never from
//! the log: a request costs one pass over the (bounded) query table.

use super::model::{day_of, hour_of, Bucket, Day, QueryStats, POSITION_SLOTS};
use super::SearchStats;
use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;

/// Searches, clicks and queries over a time range.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchesReport {
    /// Start of the range, epoch ms (inclusive; hours are counted whole).
    pub from_ms: i64,
    /// End of the range, epoch ms (exclusive).
    pub to_ms: i64,
    /// Searches.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero_result_searches: u64,
    /// Clicks on results.
    pub clicks: u64,
    /// Share of searches with at least one click.
    pub click_through_rate: f64,
    /// Mean position of a click (1 = the first result); null without clicks.
    pub mean_click_position: Option<f64>,
    /// Clicks at each position (1 to 10, then 11 for 11 and beyond) per search.
    pub ctr_by_position: Vec<PositionStat>,
    /// Searches per hour, oldest first (hours without searches left out).
    pub searches_per_hour: Vec<HourStat>,
    /// Most searched queries (per-query counts are kept per day: the range is widened to
    /// whole days for them).
    pub top_queries: Vec<QueryStat>,
    /// Most searched queries that found nothing.
    pub top_zero_result_queries: Vec<QueryStat>,
}

/// Clicks at one position.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PositionStat {
    /// 1-based position (11: 11 and beyond).
    pub position: u32,
    /// Clicks there.
    pub clicks: u64,
    /// Clicks there per search.
    pub rate: f64,
}

/// One hour's counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HourStat {
    /// Start of the hour, epoch ms.
    pub hour: i64,
    /// Searches.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero_result: u64,
    /// Clicks.
    pub clicks: u64,
}

/// One query's counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueryStat {
    /// The query as last typed.
    pub query: String,
    /// Its normalized form (what searches are grouped by).
    pub normalized: String,
    /// Searches.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero_result: u64,
    /// Clicks.
    pub clicks: u64,
    /// Share of its searches with a click.
    pub click_through_rate: f64,
    /// Mean click position; null without clicks.
    pub mean_click_position: Option<f64>,
}

/// The queries that lead to an item.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemReport {
    /// The item.
    pub item_id: String,
    /// Queries whose results it was clicked in, the most clicks first.
    pub queries: Vec<ItemQuery>,
}

/// A query that leads to an item.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemQuery {
    /// The query as last typed.
    pub query: String,
    /// Its normalized form.
    pub normalized: String,
    /// Clicks on the item from this query's results (within the window).
    pub clicks: u64,
    /// Distinct named listeners who clicked it (within the window).
    pub listeners: u64,
    /// Mean position it was clicked at.
    pub mean_click_position: Option<f64>,
    /// The click model's strength for it now, 0 to 1 (0 until enough listeners).
    pub click_strength: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        ((a as f64 / b as f64) * 1e4).round() / 1e4
    }
}

fn mean(sum: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| ((sum as f64 / n as f64) * 1e3).round() / 1e3)
}

/// One query's counts over a range of days.
#[derive(Debug, Clone, Copy, Default)]
struct QueryCounts {
    searches: u64,
    zero: u64,
    clicked: u64,
    clicks: u64,
    pos_sum: u64,
}

impl QueryCounts {
    fn of(days: &[Day]) -> QueryCounts {
        let mut c = QueryCounts::default();
        for d in days {
            c.searches += u64::from(d.searches);
            c.zero += u64::from(d.zero);
            c.clicked += u64::from(d.clicked);
            c.clicks += u64::from(d.clicks);
            c.pos_sum += d.pos_sum;
        }
        c
    }

    fn stat(&self, norm: &str, q: &QueryStats) -> QueryStat {
        QueryStat {
            query: q.display.clone(),
            normalized: norm.to_string(),
            searches: self.searches,
            zero_result: self.zero,
            clicks: self.clicks,
            click_through_rate: ratio(self.clicked, self.searches),
            mean_click_position: mean(self.pos_sum, self.clicks),
        }
    }
}

impl SearchStats {
    /// Analytics for `[from, to)` (epoch ms), `limit` queries per list.
    pub fn searches_report(&self, from: i64, to: i64, limit: usize) -> SearchesReport {
        let s = self.state.lock();
        let mut total = Bucket::default();
        let mut per_hour = Vec::new();
        let (h0, h1) = (hour_of(from), hour_of(to.saturating_sub(1)));
        if h0 <= h1 {
            for (h, b) in s.hours.range(h0..=h1) {
                total.add(b);
                per_hour.push(HourStat {
                    hour: h * HOUR_MS,
                    searches: b.searches,
                    zero_result: b.zero,
                    clicks: b.clicks,
                });
            }
        }
        let (d0, d1) = (day_of(from), day_of(to.saturating_sub(1)));
        // Counts first (no strings copied), then only the top `limit` of each list built.
        let counted: Vec<(&String, &QueryStats, QueryCounts)> = s
            .queries
            .iter()
            .filter_map(|(norm, q)| {
                let lo = q.days.partition_point(|d| d.day < d0);
                let hi = q.days.partition_point(|d| d.day <= d1);
                let c = QueryCounts::of(&q.days[lo..hi]);
                (c.searches > 0).then_some((norm, q, c))
            })
            .collect();
        let top = |key: fn(&QueryCounts) -> u64| -> Vec<QueryStat> {
            let mut v: Vec<&(&String, &QueryStats, QueryCounts)> = counted.iter().filter(|x| key(&x.2) > 0).collect();
            let by = |a: &&(&String, &QueryStats, QueryCounts), b: &&(&String, &QueryStats, QueryCounts)| {
                key(&b.2).cmp(&key(&a.2)).then_with(|| a.0.cmp(b.0))
            };
            if v.len() > limit && limit > 0 {
                v.select_nth_unstable_by(limit - 1, by);
                v.truncate(limit);
            }
            v.sort_by(by);
            v.truncate(limit);
            v.into_iter().map(|(norm, q, c)| c.stat(norm, q)).collect()
        };
        let stats = top(|c| c.searches);
        let zero = top(|c| c.zero);
        SearchesReport {
            from_ms: from,
            to_ms: to,
            searches: total.searches,
            zero_result_searches: total.zero,
            clicks: total.clicks,
            click_through_rate: ratio(total.clicked, total.searches),
            mean_click_position: mean(total.pos_sum, total.clicks),
            ctr_by_position: (0..POSITION_SLOTS)
                .map(|i| PositionStat {
                    position: i as u32 + 1,
                    clicks: total.by_pos[i],
                    rate: ratio(total.by_pos[i], total.searches),
                })
                .collect(),
            searches_per_hour: per_hour,
            top_queries: stats,
            top_zero_result_queries: zero,
        }
    }

    /// The queries that lead to `item` (clicked in their results), at most `limit`, as of
    /// `now`.
    pub fn item_report(&self, item: &str, limit: usize, now: i64) -> ItemReport {
        let p = self.cfg.click_params();
        let s = self.state.lock();
        let mut queries: Vec<ItemQuery> = s
            .queries
            .iter()
            .filter_map(|(norm, q)| {
                let v = q.items.get(item)?;
                Some(ItemQuery {
                    query: q.display.clone(),
                    normalized: norm.clone(),
                    clicks: v.clicks,
                    listeners: v.listeners(now, p.window_ms) as u64,
                    mean_click_position: mean(v.pos_sum, v.clicks),
                    click_strength: (f64::from(v.strength(now, &p)) * 1e4).round() / 1e4,
                })
            })
            .collect();
        queries.sort_by(|a, b| b.clicks.cmp(&a.clicks).then_with(|| a.normalized.cmp(&b.normalized)));
        queries.truncate(limit);
        ItemReport {
            item_id: item.to_string(),
            queries,
        }
    }
}
