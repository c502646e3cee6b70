//! The RecBole evaluation split: `eval_args: {split: {RS: [0.8, 0.1, 0.1]}, order: RO,
//! group_by: user, mode: full}` (RecBole's default, used by RecBole-GNN's Last.fm results).
//!
//! RecBole shuffles all interactions (`order: RO`), groups them by user in order of first
//! appearance and cuts each user's list by `_calcu_split_ids`: valid and test get
//! `floor(0.1 n)` each, train the rest, and then every part whose exact share is in `(0, 1)`
//! (i.e. `n < 10`) is raised to one interaction, taken from train, while train keeps more
//! than one. [`split_counts`] is that function; [`ratio_split`] applies it per user after
//! a seeded shuffle of each user's interactions (equal in distribution to RecBole's global
//! shuffle; the permutation itself cannot match numpy's generator).

use std::io::{BufRead, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::matrix::{Csr, IdMap, Interactions};
use crate::RecsError;

/// Numbers of interactions that go to each part for a group of `tot`, exactly as
/// RecBole's `Dataset._calcu_split_ids` (ratios normalized first, as `split_by_ratio` does).
pub fn split_counts(tot: usize, ratios: &[f64]) -> Vec<usize> {
    let sum: f64 = ratios.iter().sum();
    let ratios: Vec<f64> = ratios.iter().map(|r| r / sum).collect();
    let mut cnt: Vec<usize> = ratios.iter().map(|r| (r * tot as f64) as usize).collect();
    cnt[0] = tot - cnt[1..].iter().sum::<usize>();
    for i in 1..ratios.len() {
        if cnt[0] <= 1 {
            break;
        }
        let share = ratios[ratios.len() - i] * tot as f64;
        if 0.0 < share && share < 1.0 {
            let last = cnt.len() - i;
            cnt[last] += 1;
            cnt[0] -= 1;
        }
    }
    cnt
}

/// Train / validation / test matrices over the same user and item index spaces.
#[derive(Clone, Debug)]
pub struct Split {
    pub users: IdMap,
    pub items: IdMap,
    pub train: Csr,
    pub valid: Csr,
    pub test: Csr,
}

impl Split {
    /// Interactions a model may see when it is evaluated on the test part (RecBole trains
    /// on `train` only; the test ranking excludes train and validation items).
    pub fn train_and_valid(&self) -> Csr {
        self.train.union(&self.valid)
    }

    /// Writes the split as TSV `user<TAB>item<TAB>weight<TAB>part` (part = train|valid|test),
    /// the file the Python baseline reads.
    pub fn write_tsv(&self, path: &Path) -> Result<(), RecsError> {
        let mut w = std::io::BufWriter::new(fs_err::File::create(path)?);
        writeln!(w, "user\titem\tweight\tpart")?;
        for (name, m) in [("train", &self.train), ("valid", &self.valid), ("test", &self.test)] {
            for (u, i, v) in m.triplets() {
                writeln!(w, "{}\t{}\t{}\t{}", self.users.id(u), self.items.id(i), v, name)?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// Reads a file written by [`Split::write_tsv`].
    pub fn read_tsv(path: &Path) -> Result<Split, RecsError> {
        let f = std::io::BufReader::new(fs_err::File::open(path)?);
        let (mut users, mut items) = (IdMap::new(), IdMap::new());
        let mut parts: [Vec<(u32, u32, f32)>; 3] = Default::default();
        for (n, line) in f.lines().enumerate() {
            let line = line?;
            if n == 0 || line.is_empty() {
                continue;
            }
            let mut it = line.split('\t');
            let (Some(u), Some(i), Some(w), Some(p)) = (it.next(), it.next(), it.next(), it.next()) else {
                return Err(RecsError::Parse(format!(
                    "{}: line {}: 4 columns expected",
                    path.display(),
                    n + 1
                )));
            };
            let w: f32 = w
                .parse()
                .map_err(|_| RecsError::Parse(format!("{}: line {}: bad weight", path.display(), n + 1)))?;
            let part = match p {
                "train" => 0,
                "valid" => 1,
                "test" => 2,
                _ => {
                    return Err(RecsError::Parse(format!(
                        "{}: line {}: bad part {p}",
                        path.display(),
                        n + 1
                    )))
                }
            };
            parts[part].push((users.get_or_insert(u), items.get_or_insert(i), w));
        }
        let (nu, ni) = (users.len(), items.len());
        let [a, b, c] = parts;
        Ok(Split {
            train: Csr::from_triplets(nu, ni, &a),
            valid: Csr::from_triplets(nu, ni, &b),
            test: Csr::from_triplets(nu, ni, &c),
            users,
            items,
        })
    }
}

/// Splits every user's interactions by `ratios` (train, valid, test) after a seeded shuffle.
pub fn ratio_split(data: &Interactions, ratios: [f64; 3], seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let m = &data.matrix;
    let mut parts: [Vec<(u32, u32, f32)>; 3] = Default::default();
    let mut row: Vec<(u32, f32)> = Vec::new();
    for u in 0..m.nrows() {
        let (cols, vals) = m.row(u);
        row.clear();
        row.extend(cols.iter().copied().zip(vals.iter().copied()));
        row.shuffle(&mut rng);
        let cnt = split_counts(row.len(), &ratios);
        let mut start = 0;
        for (p, &c) in cnt.iter().enumerate() {
            parts[p].extend(row[start..start + c].iter().map(|&(i, w)| (u as u32, i, w)));
            start += c;
        }
    }
    let (nu, ni) = (m.nrows(), m.ncols());
    let [a, b, c] = parts;
    Split {
        users: data.users.clone(),
        items: data.items.clone(),
        train: Csr::from_triplets(nu, ni, &a),
        valid: Csr::from_triplets(nu, ni, &b),
        test: Csr::from_triplets(nu, ni, &c),
    }
}

/// A listener-holdout split: a seeded `holdout` fraction of users is removed from training
/// entirely; each of them has half of their interactions (rounded down, at least one) given
/// as the known history at serving time (`valid`) and the rest to predict (`test`).
/// Users kept in training have all their interactions in `train`.
pub fn user_holdout_split(data: &Interactions, holdout: f64, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let m = &data.matrix;
    let mut users: Vec<usize> = (0..m.nrows()).filter(|&u| m.row_len(u) >= 2).collect();
    users.shuffle(&mut rng);
    let n_out = ((users.len() as f64) * holdout).round() as usize;
    let mut held = vec![false; m.nrows()];
    for &u in &users[..n_out] {
        held[u] = true;
    }
    let mut parts: [Vec<(u32, u32, f32)>; 3] = Default::default();
    for (u, &is_held) in held.iter().enumerate() {
        let (cols, vals) = m.row(u);
        let mut row: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
        if !is_held {
            parts[0].extend(row.iter().map(|&(i, w)| (u as u32, i, w)));
            continue;
        }
        row.shuffle(&mut rng);
        let known = (row.len() / 2).max(1);
        parts[1].extend(row[..known].iter().map(|&(i, w)| (u as u32, i, w)));
        parts[2].extend(row[known..].iter().map(|&(i, w)| (u as u32, i, w)));
    }
    let (nu, ni) = (m.nrows(), m.ncols());
    let [a, b, c] = parts;
    Split {
        users: data.users.clone(),
        items: data.items.clone(),
        train: Csr::from_triplets(nu, ni, &a),
        valid: Csr::from_triplets(nu, ni, &b),
        test: Csr::from_triplets(nu, ni, &c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_counts_match_recbole() {
        let r = [0.8, 0.1, 0.1];
        // values computed with RecBole's _calcu_split_ids
        assert_eq!(split_counts(50, &r), vec![40, 5, 5]);
        assert_eq!(split_counts(10, &r), vec![8, 1, 1]);
        assert_eq!(split_counts(9, &r), vec![7, 1, 1]);
        assert_eq!(split_counts(5, &r), vec![3, 1, 1]);
        assert_eq!(split_counts(3, &r), vec![1, 1, 1]);
        assert_eq!(split_counts(2, &r), vec![1, 0, 1]);
        assert_eq!(split_counts(1, &r), vec![1, 0, 0]);
        assert_eq!(split_counts(25, &r), vec![21, 2, 2]);
        assert_eq!(split_counts(0, &r), vec![0, 0, 0]);
    }

    #[test]
    fn ratio_split_partitions_each_user() {
        let mut t = Vec::new();
        for u in 0..20 {
            for i in 0..(u + 1) {
                t.push((format!("u{u}"), format!("i{i}"), 1.0));
            }
        }
        let data = Interactions::from_triples(t.iter().map(|(a, b, w)| (a.as_str(), b.as_str(), *w)));
        let s = ratio_split(&data, [0.8, 0.1, 0.1], 7);
        for u in 0..20 {
            let n = u + 1;
            let c = split_counts(n, &[0.8, 0.1, 0.1]);
            assert_eq!(s.train.row_len(u), c[0]);
            assert_eq!(s.valid.row_len(u), c[1]);
            assert_eq!(s.test.row_len(u), c[2]);
        }
        let all = s.train.union(&s.valid).union(&s.test);
        assert_eq!(all, data.matrix);
        // deterministic per seed
        let s2 = ratio_split(&data, [0.8, 0.1, 0.1], 7);
        assert_eq!(s.test, s2.test);
    }
}
