//! The popularity baseline and cold-start fallback: items scored by their number of
//! training listeners.

use serde::{Deserialize, Serialize};

use super::{History, Recommender};
use crate::matrix::Csr;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Popularity {
    counts: Vec<f32>,
}

impl Popularity {
    pub fn train(train: &Csr) -> Self {
        Self {
            counts: train.col_counts().into_iter().map(|c| c as f32).collect(),
        }
    }

    /// Listener counts by item.
    pub fn counts(&self) -> &[f32] {
        &self.counts
    }
}

impl Recommender for Popularity {
    fn name(&self) -> &str {
        "popularity"
    }

    fn n_items(&self) -> usize {
        self.counts.len()
    }

    fn score(&self, _user: Option<u32>, _history: History<'_>, out: &mut [f32]) {
        out.copy_from_slice(&self.counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_listeners() {
        let m = Csr::from_triplets(3, 3, &[(0, 1, 5.0), (1, 1, 1.0), (2, 0, 9.0)]);
        let p = Popularity::train(&m);
        let mut s = vec![0f32; 3];
        p.score(None, History::new(&[], &[]), &mut s);
        assert_eq!(s, vec![1.0, 2.0, 0.0]);
    }
}
