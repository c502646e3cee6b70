//! A weighted blend of models: each part's scores for the listener are standardized
//! (zero mean, unit variance over the items the model knows) and summed with its weight.

use serde::{Deserialize, Serialize};

use super::{History, ModelConfig, Recommender};
use crate::matrix::Csr;
use crate::RecsError;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BlendPart {
    pub weight: f32,
    pub config: ModelConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BlendConfig {
    pub parts: Vec<BlendPart>,
}

pub struct Blend {
    parts: Vec<(f32, Box<dyn Recommender>)>,
    n_items: usize,
}

impl Blend {
    pub fn train(train: &Csr, config: &BlendConfig) -> Result<Blend, RecsError> {
        if config.parts.is_empty() {
            return Err(RecsError::InvalidInput("blend: no parts".into()));
        }
        let mut parts = Vec::new();
        for p in &config.parts {
            if matches!(p.config, ModelConfig::Blend(_)) {
                return Err(RecsError::InvalidInput("blend: nested blends are not supported".into()));
            }
            parts.push((p.weight, p.config.train(train)?));
        }
        Ok(Blend {
            parts,
            n_items: train.ncols(),
        })
    }

    /// Builds from already trained models (e.g. the server's loaded ones).
    pub fn from_models(parts: Vec<(f32, Box<dyn Recommender>)>) -> Blend {
        let n_items = parts.iter().map(|p| p.1.n_items()).max().unwrap_or(0);
        Blend { parts, n_items }
    }
}

impl Recommender for Blend {
    fn name(&self) -> &str {
        "blend"
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    fn score(&self, user: Option<u32>, history: History<'_>, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut buf = vec![0f32; self.n_items];
        for (w, m) in &self.parts {
            let n = m.n_items();
            m.score(user, history, &mut buf[..n]);
            let s = &buf[..n];
            let mean = s.iter().map(|&v| v as f64).sum::<f64>() / n.max(1) as f64;
            let var = s.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
            let sd = var.sqrt();
            if sd == 0.0 || !sd.is_finite() {
                continue;
            }
            let (mean, scale) = (mean as f32, (*w as f64 / sd) as f32);
            for (o, &v) in out.iter_mut().zip(s) {
                *o += (v - mean) * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AlsConfig, ItemKnnConfig};

    #[test]
    fn blends_standardized_scores() {
        let t = [
            (0, 0, 1.0),
            (0, 1, 1.0),
            (1, 0, 1.0),
            (1, 1, 1.0),
            (2, 1, 1.0),
            (2, 2, 1.0),
            (3, 0, 1.0),
        ];
        let m = Csr::from_triplets(4, 3, &t);
        let cfg = BlendConfig {
            parts: vec![
                BlendPart {
                    weight: 1.0,
                    config: ModelConfig::ItemKnn(ItemKnnConfig::default()),
                },
                BlendPart {
                    weight: 0.5,
                    config: ModelConfig::Als(AlsConfig {
                        factors: 2,
                        iterations: 3,
                        ..Default::default()
                    }),
                },
            ],
        };
        let b = Blend::train(&m, &cfg).unwrap();
        let mut s = vec![0f32; 3];
        b.score(Some(3), History::from_row(&m, 3), &mut s);
        assert!(s[1] > s[2], "{s:?}");
        let json = serde_json::to_string(&ModelConfig::Blend(cfg)).unwrap();
        assert!(json.contains("\"model\":\"blend\""));
        assert!(Blend::train(&m, &BlendConfig::default()).is_err());
    }
}
