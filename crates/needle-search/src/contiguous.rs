//! Runs of a script written without spaces (Han, kana, Hangul, Thai, …) that the query
//! typed in one piece, and the bonus for a hit whose names hold them in one piece too.
//!
//! Such a run is matched through its character bigrams, all required but in any order
//! and place: `ゲラジオ` (bigrams ゲラ, ラジ, ジオ) finds `シゲラジオ!!`, where the
//! characters stand together, and also `10分間のゲララジオ`, where they do not. The
//! bigram index cannot tell the two apart (it keeps no positions, for size), so the
//! candidates of such a query are re-ranked by their names: [`CONTIGUOUS`] goes to a hit
//! whose name, or a name shown with it (artists, album, show, authors), contains the run
//! as typed. The bonus is shared between the runs of a query (`東京 ラジオ`: half each).
//!
//! Bounds: an exact match always holds the runs (its name is the query), so it gets the
//! bonus too and stays first; the bonus is larger than the popularity prior, so among
//! matches of one query the one that holds what was typed comes before a more popular
//! one that merely has the same bigrams.

use crate::collect::PRIOR;
use crate::types::Hit;
use needle_core::text::{fold, tokenize_query, TokenKind};

/// Bonus for a hit whose names hold every run of the query in one piece.
pub const CONTIGUOUS: f32 = 0.55;

const _: () = assert!(CONTIGUOUS > PRIOR);

/// The folded runs of three or more characters that the query typed in one piece (a run
/// of two is one bigram, which holds its characters together already).
pub fn runs(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Option<(usize, usize, usize)> = None; // (start, end, bigrams)
    let close = |r: Option<(usize, usize, usize)>, out: &mut Vec<String>| {
        if let Some((s, e, n)) = r {
            if n >= 2 {
                out.push(fold(&q[s..e]));
            }
        }
    };
    for t in tokenize_query(q) {
        if t.kind != TokenKind::CjkBigram {
            close(run.take(), &mut out);
            continue;
        }
        run = match run {
            // Bigrams of one run overlap by a character.
            Some((s, e, n)) if t.start < e => Some((s, t.end, n + 1)),
            other => {
                close(other, &mut out);
                Some((t.start, t.end, 1))
            }
        };
    }
    close(run, &mut out);
    out
}

/// The share of `runs` that the hit's names hold in one piece, in [0, 1].
fn held(h: &Hit, runs: &[String]) -> f32 {
    let names: Vec<String> = std::iter::once(&h.name)
        .chain(h.artists.iter())
        .chain(h.album.iter())
        .chain(h.show.iter())
        .chain(h.audiobook.iter())
        .chain(h.authors.iter())
        .map(|n| fold(n))
        .collect();
    let n = runs
        .iter()
        .filter(|r| names.iter().any(|name| name.contains(r.as_str())))
        .count();
    n as f32 / runs.len() as f32
}

/// Add the bonus to the hits that hold the query's runs and re-sort (stable: ties keep
/// their order). Nothing to do without runs.
pub(crate) fn contiguous_order(hits: &mut [Hit], runs: &[String]) {
    if runs.is_empty() {
        return;
    }
    let mut any = false;
    for h in hits.iter_mut() {
        let share = held(h, runs);
        if share == 0.0 {
            continue;
        }
        let bonus = CONTIGUOUS * share;
        h.score = ((h.score + bonus) * 1e4).round() / 1e4;
        if let Some(x) = &mut h.explain {
            x.exact_bonus = ((x.exact_bonus + bonus) * 1e4).round() / 1e4;
            x.text = ((x.text - bonus) * 1e4).round() / 1e4;
        }
        any = true;
    }
    if any {
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_the_pieces_of_three_or_more_characters_typed_together() {
        assert_eq!(runs("ゲラジオ"), vec!["ゲラジオ"]);
        assert_eq!(runs("東京 ラジオ"), vec!["ラジオ"]); // 東京 is one bigram
        assert_eq!(runs("東京都 ラジオ番組"), vec!["東京都", "ラジオ番組"]);
        assert_eq!(runs("abc ＡＢＣ"), Vec::<String>::new());
        assert_eq!(runs("the ラジオ show"), vec!["ラジオ"]);
        assert_eq!(runs("สวัสดีครับ"), vec![fold("สวัสดีครับ")]);
        assert!(runs("京").is_empty() && runs("京都").is_empty() && runs("").is_empty());
    }

    fn hit(name: &str, score: f32) -> Hit {
        serde_json::from_value(serde_json::json!({
            "id": name, "type": "show", "name": name, "score": score, "popularity": 0.0
        }))
        .unwrap()
    }

    #[test]
    fn a_hit_holding_the_run_passes_a_more_popular_one_that_only_has_its_bigrams() {
        let mut hits = vec![hit("10分間のゲララジオ", 2.0), hit("シゲラジオ!!", 1.6)];
        contiguous_order(&mut hits, &runs("ゲラジオ"));
        assert_eq!(hits[0].name, "シゲラジオ!!");
        assert!((hits[0].score - (1.6 + CONTIGUOUS)).abs() < 1e-3);
        assert_eq!(hits[1].score, 2.0);
    }

    #[test]
    fn the_bonus_is_shared_between_runs_and_names_shown_with_the_hit_count() {
        let mut a = hit("東京都の夜", 1.0);
        a.artists = vec!["ラジオ番組".into()];
        let b = hit("東京都", 1.0);
        let mut hits = vec![b, a];
        contiguous_order(&mut hits, &runs("東京都 ラジオ番組"));
        assert_eq!(hits[0].name, "東京都の夜");
        assert!((hits[0].score - (1.0 + CONTIGUOUS)).abs() < 1e-3);
        assert!((hits[1].score - (1.0 + CONTIGUOUS / 2.0)).abs() < 1e-3);
    }

    #[test]
    fn latin_queries_change_nothing() {
        let mut hits = vec![hit("b", 2.0), hit("a", 1.0)];
        contiguous_order(&mut hits, &runs("a b"));
        assert_eq!((hits[0].name.as_str(), hits[0].score), ("b", 2.0));
    }
}
