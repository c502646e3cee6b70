//! A deterministic embedder without a model: hashed word and trigram features.

use crate::{normalize, EmbedError, Embedder};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Weight of a whole-word feature; a character trigram weighs 1 (a word has several).
const WORD_WEIGHT: f32 = 2.0;
/// Each feature lands in this many buckets (independent hashes, random signs), which keeps
/// two unrelated texts nearly orthogonal even at small `dim`.
const BUCKETS_PER_FEATURE: u64 = 2;

/// Deterministic embedder for tests and for running without the model.
///
/// A text's words (folded: lowercase, accents and width removed, see
/// [`needle_core::text::words`]) and the character trigrams of each word (padded with a
/// space on both sides) are hashed into `dim` signed buckets and the vector is L2-normalised,
/// so texts sharing words or trigrams are close, and the same text always gives the same
/// vector on every machine. It knows no synonyms: "EV" and "electric car" are unrelated.
/// Tag `hash-<dim>`.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dim: usize,
    tag: String,
}

impl HashEmbedder {
    /// An embedder giving `dim` floats per text (at least 1).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(1);
        HashEmbedder {
            dim,
            tag: format!("hash-{dim}"),
        }
    }

    /// One text's vector.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        let words = needle_core::text::words(text);
        for word in &words {
            self.add(&mut v, b'w', word.as_bytes(), WORD_WEIGHT);
            let chars: Vec<char> = std::iter::once(' ')
                .chain(word.chars())
                .chain(std::iter::once(' '))
                .collect();
            let mut buf = String::new();
            for tri in chars.windows(3) {
                buf.clear();
                buf.extend(tri);
                self.add(&mut v, b't', buf.as_bytes(), 1.0);
            }
        }
        if words.is_empty() {
            // No words (empty, punctuation only): one fixed feature, still a unit vector.
            self.add(&mut v, b'e', b"", 1.0);
        }
        normalize(&mut v);
        if v.iter().all(|x| *x == 0.0) {
            // Every bucket cancelled out (possible only at a tiny `dim`): still a unit vector.
            v[0] = 1.0;
        }
        v
    }

    fn add(&self, v: &mut [f32], kind: u8, feature: &[u8], weight: f32) {
        for seed in 0..BUCKETS_PER_FEATURE {
            let h = xxh3_64_with_seed(feature, seed.wrapping_mul(0x9E37_79B9) ^ u64::from(kind));
            let idx = ((h >> 1) % self.dim as u64) as usize;
            let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
            v[idx] += sign * weight;
        }
    }
}

impl Embedder for HashEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosine;

    #[test]
    fn deterministic_and_unit_norm() {
        let e = HashEmbedder::new(64);
        let a = e.embed(&["Café del Mar", "", "!!!"]).unwrap();
        let b = e.embed(&["cafe DEL mar", "", "!!!"]).unwrap();
        assert_eq!(a[0], b[0], "case and accents are folded");
        for v in &a {
            assert_eq!(v.len(), 64);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        }
        assert_eq!(e.tag(), "hash-64");
    }

    #[test]
    fn shared_words_are_closer() {
        let e = HashEmbedder::new(256);
        let q = e.embed_one("history of jazz");
        let near = e.embed_one("a history of modern jazz music");
        let far = e.embed_one("knitting patterns for beginners");
        assert!(cosine(&q, &near) > cosine(&q, &far) + 0.2);
    }
}
