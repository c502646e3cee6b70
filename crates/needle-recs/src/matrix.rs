//! Interaction data: string id maps and a compressed sparse row (CSR) matrix of `f32` values.
//!
//! Rows are users and columns are items in [`Interactions`]; the same [`Csr`] type holds
//! the transpose (item x user) and sparse item-item similarity tables.

use hashbrown::HashTable;

use serde::{Deserialize, Serialize};

/// A bijection between external string ids and dense `u32` indices (in insertion order).
///
/// The ids are kept once, end to end in one buffer, and the lookup table holds indices
/// into it: a served model maps hundreds of thousands of item and creator ids, and a
/// `String` per id plus a second `String` per table key cost about seven times the bytes
/// of the ids themselves (BENCHMARKS §9.4).
#[derive(Clone, Default)]
pub struct IdMap {
    /// Every id, end to end.
    bytes: String,
    /// Where id `i` ends in `bytes` (it starts where id `i - 1` ends).
    ends: Vec<usize>,
    /// Indices of the ids, by a seeded hash of the id.
    table: HashTable<u32>,
    /// This map's hash seed (ids come from clients: no fixed hash to collide on).
    seed: u64,
}

impl std::fmt::Debug for IdMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdMap").field("len", &self.len()).finish()
    }
}

/// A seed no client can guess.
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x1d_u64)
}

impl IdMap {
    pub fn new() -> Self {
        Self {
            seed: random_seed(),
            ..Self::default()
        }
    }

    /// Builds a map from ids in order; duplicates keep their first index.
    pub fn from_ids<I: IntoIterator<Item = S>, S: AsRef<str>>(ids: I) -> Self {
        let ids = ids.into_iter();
        let mut m = Self::new();
        m.ends.reserve(ids.size_hint().0);
        m.table.reserve(ids.size_hint().0, |_| 0);
        for id in ids {
            m.get_or_insert(id.as_ref());
        }
        m.bytes.shrink_to_fit();
        m.ends.shrink_to_fit();
        m
    }

    fn hash(&self, id: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), self.seed)
    }

    pub fn get_or_insert(&mut self, id: &str) -> u32 {
        if self.seed == 0 && self.is_empty() {
            // A map made by `Default`: seed it before its first id.
            self.seed = random_seed();
        }
        let h = self.hash(id);
        let (bytes, ends) = (&self.bytes, &self.ends);
        let at = |i: u32| id_at(bytes, ends, i);
        if let Some(&i) = self.table.find(h, |&i| at(i) == id) {
            return i;
        }
        let i = self.ends.len() as u32;
        self.bytes.push_str(id);
        self.ends.push(self.bytes.len());
        let (bytes, ends, seed) = (&self.bytes, &self.ends, self.seed);
        self.table.insert_unique(h, i, |&j| {
            xxhash_rust::xxh3::xxh3_64_with_seed(id_at(bytes, ends, j).as_bytes(), seed)
        });
        i
    }

    pub fn get(&self, id: &str) -> Option<u32> {
        if self.is_empty() {
            return None;
        }
        self.table.find(self.hash(id), |&i| self.id(i) == id).copied()
    }

    /// The external id of index `i` (panics when out of range).
    pub fn id(&self, i: u32) -> &str {
        id_at(&self.bytes, &self.ends, i)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ids in index order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).map(|i| self.id(i))
    }
}

fn id_at<'a>(bytes: &'a str, ends: &[usize], i: u32) -> &'a str {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

/// Serialized as `{"ids": [...]}`, as when the ids were a `Vec<String>` field.
impl Serialize for IdMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Ids<'a>(&'a IdMap);
        impl Serialize for Ids<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.ids())
            }
        }
        let mut st = serializer.serialize_struct("IdMap", 1)?;
        st.serialize_field("ids", &Ids(self))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for IdMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            ids: Vec<String>,
        }
        Ok(IdMap::from_ids(Stored::deserialize(deserializer)?.ids))
    }
}

/// Compressed sparse rows: row `r` holds columns `indices[indptr[r]..indptr[r+1]]`
/// (strictly increasing) with `data` values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    nrows: usize,
    ncols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl Csr {
    /// An all-empty `nrows x ncols` matrix.
    pub fn empty(nrows: usize, ncols: usize) -> Self {
        Self {
            nrows,
            ncols,
            indptr: vec![0; nrows + 1],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Builds from `(row, col, value)` triples; duplicates are summed.
    /// Panics if a triple is out of range (callers build indices from an [`IdMap`]).
    pub fn from_triplets(nrows: usize, ncols: usize, triplets: &[(u32, u32, f32)]) -> Self {
        let mut counts = vec![0usize; nrows + 1];
        for &(r, c, _) in triplets {
            assert!(
                (r as usize) < nrows && (c as usize) < ncols,
                "triple ({r},{c}) out of range"
            );
            counts[r as usize + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut cols = vec![0u32; triplets.len()];
        let mut vals = vec![0f32; triplets.len()];
        for &(r, c, v) in triplets {
            let p = fill[r as usize];
            cols[p] = c;
            vals[p] = v;
            fill[r as usize] += 1;
        }
        // sort each row by column and merge duplicates
        let mut indptr = Vec::with_capacity(nrows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data = Vec::with_capacity(triplets.len());
        indptr.push(0);
        let mut row: Vec<(u32, f32)> = Vec::new();
        for r in 0..nrows {
            row.clear();
            row.extend((counts[r]..counts[r + 1]).map(|p| (cols[p], vals[p])));
            row.sort_unstable_by_key(|e| e.0);
            let row_start = indices.len();
            for &(c, v) in &row {
                // A repeated column within this row adds to the entry just pushed.
                match (indices.last(), data.last_mut()) {
                    (Some(&last), Some(d)) if indices.len() > row_start && last == c => *d += v,
                    _ => {
                        indices.push(c);
                        data.push(v);
                    }
                }
            }
            indptr.push(indices.len());
        }
        Self {
            nrows,
            ncols,
            indptr,
            indices,
            data,
        }
    }

    /// Builds from per-row sorted `(col, value)` lists (used by similarity builders).
    pub fn from_rows(ncols: usize, rows: Vec<Vec<(u32, f32)>>) -> Self {
        let nrows = rows.len();
        let mut indptr = Vec::with_capacity(nrows + 1);
        indptr.push(0);
        let nnz = rows.iter().map(Vec::len).sum();
        let mut indices = Vec::with_capacity(nnz);
        let mut data = Vec::with_capacity(nnz);
        for mut row in rows {
            row.sort_unstable_by_key(|e| e.0);
            for (c, v) in row {
                assert!((c as usize) < ncols);
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        Self {
            nrows,
            ncols,
            indptr,
            indices,
            data,
        }
    }

    /// From its arrays (as read from a file), checked: `indptr` starts at 0, never
    /// decreases and ends at `indices.len() == data.len()`; every row's columns increase and
    /// are below `ncols`. The error says what does not hold.
    pub fn from_parts(ncols: usize, indptr: Vec<usize>, indices: Vec<u32>, data: Vec<f32>) -> Result<Csr, String> {
        if indptr.first() != Some(&0) || indptr.last() != Some(&indices.len()) || indices.len() != data.len() {
            return Err("row pointers do not match the entries".into());
        }
        let nrows = indptr.len() - 1;
        for r in 0..nrows {
            let (a, b) = (indptr[r], indptr[r + 1]);
            if a > b {
                return Err(format!("row {r}: pointers decrease"));
            }
            let cols = &indices[a..b];
            if cols.windows(2).any(|w| w[0] >= w[1]) || cols.last().is_some_and(|&c| c as usize >= ncols) {
                return Err(format!("row {r}: columns out of order or out of range"));
            }
        }
        Ok(Csr {
            nrows,
            ncols,
            indptr,
            indices,
            data,
        })
    }

    pub fn nrows(&self) -> usize {
        self.nrows
    }

    pub fn ncols(&self) -> usize {
        self.ncols
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Columns and values of row `r` (empty past the last row, so callers can ask about
    /// users that were added after a model was trained).
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r >= self.nrows {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    #[inline]
    pub fn row_len(&self, r: usize) -> usize {
        if r >= self.nrows {
            0
        } else {
            self.indptr[r + 1] - self.indptr[r]
        }
    }

    /// The value at `(r, c)`, if stored.
    pub fn get(&self, r: usize, c: u32) -> Option<f32> {
        let (cols, vals) = self.row(r);
        cols.binary_search(&c).ok().map(|p| vals[p])
    }

    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The transpose, with sorted rows.
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.ncols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.ncols {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for r in 0..self.nrows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let p = fill[c as usize];
                indices[p] = r as u32;
                data[p] = v;
                fill[c as usize] += 1;
            }
        }
        Csr {
            nrows: self.ncols,
            ncols: self.nrows,
            indptr: counts,
            indices,
            data,
        }
    }

    /// A copy with every stored value replaced by `f(value)`.
    pub fn map_values(&self, f: impl Fn(f32) -> f32) -> Csr {
        let mut m = self.clone();
        m.data.iter_mut().for_each(|v| *v = f(*v));
        m
    }

    /// Element-wise union (values summed); both must have the same shape.
    pub fn union(&self, other: &Csr) -> Csr {
        assert_eq!((self.nrows, self.ncols), (other.nrows, other.ncols));
        let mut t = self.triplets();
        t.extend(other.triplets());
        Csr::from_triplets(self.nrows, self.ncols, &t)
    }

    /// All stored entries as `(row, col, value)`.
    pub fn triplets(&self) -> Vec<(u32, u32, f32)> {
        let mut t = Vec::with_capacity(self.nnz());
        for r in 0..self.nrows {
            let (cols, vals) = self.row(r);
            t.extend(cols.iter().zip(vals).map(|(&c, &v)| (r as u32, c, v)));
        }
        t
    }

    /// Number of stored entries per column.
    pub fn col_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.ncols];
        for &i in &self.indices {
            c[i as usize] += 1;
        }
        c
    }
}

/// A user x item interaction matrix with the id maps that name its rows and columns.
#[derive(Clone, Debug, Default)]
pub struct Interactions {
    pub users: IdMap,
    pub items: IdMap,
    /// user x item; values are the summed weights (e.g. play counts).
    pub matrix: Csr,
}

impl Interactions {
    /// Builds from `(user, item, weight)` triples; repeated pairs are summed.
    pub fn from_triples<'a, I>(triples: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str, f32)>,
    {
        let mut b = InteractionsBuilder::default();
        for (u, i, w) in triples {
            b.push(u, i, w);
        }
        b.build()
    }
}

/// Incremental builder for [`Interactions`].
#[derive(Default)]
pub struct InteractionsBuilder {
    users: IdMap,
    items: IdMap,
    triplets: Vec<(u32, u32, f32)>,
}

impl InteractionsBuilder {
    /// Starts from existing id maps (e.g. a catalog's item order), so indices stay stable.
    pub fn with_maps(users: IdMap, items: IdMap) -> Self {
        Self {
            users,
            items,
            triplets: Vec::new(),
        }
    }

    pub fn push(&mut self, user: &str, item: &str, weight: f32) -> (u32, u32) {
        let u = self.users.get_or_insert(user);
        let i = self.items.get_or_insert(item);
        self.triplets.push((u, i, weight));
        (u, i)
    }

    /// Like [`build`](Self::build), with users and items numbered in id order rather than
    /// in order of first appearance: the same interactions give the same matrix however
    /// they were enumerated (profiles live in hash maps), hence the same seeded model.
    pub fn build_sorted(self) -> Interactions {
        let (users, user_rank) = sorted(self.users);
        let (items, item_rank) = sorted(self.items);
        let triplets: Vec<(u32, u32, f32)> = self
            .triplets
            .into_iter()
            .map(|(u, i, w)| (user_rank[u as usize], item_rank[i as usize], w))
            .collect();
        InteractionsBuilder { users, items, triplets }.build()
    }

    pub fn build(self) -> Interactions {
        let matrix = Csr::from_triplets(self.users.len(), self.items.len(), &self.triplets);
        Interactions {
            users: self.users,
            items: self.items,
            matrix,
        }
    }
}

/// `map` renumbered in id order, and the new index of every old one.
fn sorted(map: IdMap) -> (IdMap, Vec<u32>) {
    let mut order: Vec<u32> = (0..map.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| map.id(a).cmp(map.id(b)));
    let mut rank = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    let ids = order.iter().map(|&old| map.id(old));
    (IdMap::from_ids(ids), rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The map against a `HashMap` and a `Vec` of the ids seen: same indices, same ids,
        /// absent ids absent, through a serde round trip too.
        #[test]
        fn id_map_matches_a_model(
            ids in proptest::collection::vec("[a-c\u{e9}\u{1F600}]{0,4}", 0..60),
            probes in proptest::collection::vec("[a-d]{0,4}", 0..20),
            from_default in any::<bool>(),
        ) {
            let mut m = if from_default { IdMap::default() } else { IdMap::new() };
            let mut model: std::collections::HashMap<String, u32> = Default::default();
            let mut order: Vec<String> = Vec::new();
            for id in &ids {
                let want = *model.entry(id.clone()).or_insert_with(|| {
                    order.push(id.clone());
                    order.len() as u32 - 1
                });
                prop_assert_eq!(m.get_or_insert(id), want);
            }
            let json = serde_json::to_string(&m).unwrap();
            let back: IdMap = serde_json::from_str(&json).unwrap();
            for map in [&m, &back, &IdMap::from_ids(&ids)] {
                prop_assert_eq!(map.len(), order.len());
                prop_assert!(map.ids().eq(order.iter().map(String::as_str)));
                for (i, id) in order.iter().enumerate() {
                    prop_assert_eq!(map.id(i as u32), id.as_str());
                    prop_assert_eq!(map.get(id), Some(i as u32));
                }
                for p in &probes {
                    prop_assert_eq!(map.get(p), model.get(p).copied());
                }
            }
        }
    }

    #[test]
    fn id_map_is_stored_as_its_list_of_ids() {
        let m = IdMap::from_ids(["b", "a", "b"]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"ids":["b","a"]}"#);
        let back: IdMap = serde_json::from_str(r#"{"ids":["x","y"]}"#).unwrap();
        assert_eq!(back.get("y"), Some(1));
        assert_eq!(back.get("z"), None);
        assert_eq!(IdMap::default().get(""), None);
    }

    #[test]
    fn csr_sums_duplicates_and_sorts() {
        let m = Csr::from_triplets(2, 4, &[(1, 3, 1.0), (0, 2, 2.0), (1, 0, 1.0), (1, 3, 0.5)]);
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.row(1), (&[0u32, 3][..], &[1.0f32, 1.5][..]));
        assert_eq!(m.get(0, 2), Some(2.0));
        assert_eq!(m.get(0, 1), None);
        assert_eq!(m.row(7), (&[][..], &[][..]));
    }

    #[test]
    fn transpose_round_trips() {
        let m = Csr::from_triplets(3, 4, &[(0, 1, 1.0), (2, 1, 2.0), (2, 3, 3.0), (1, 0, 4.0)]);
        let t = m.transpose();
        assert_eq!(t.nrows(), 4);
        assert_eq!(t.row(1), (&[0u32, 2][..], &[1.0f32, 2.0][..]));
        assert_eq!(t.transpose(), m);
        assert_eq!(m.col_counts(), vec![1, 2, 0, 1]);
    }

    #[test]
    fn sorted_build_ignores_enumeration_order() {
        let triples = [("u2", "b", 1.0), ("u1", "c", 3.0), ("u2", "a", 2.0), ("u1", "b", 0.5)];
        let build = |order: &[usize]| {
            let mut b = InteractionsBuilder::default();
            for &k in order {
                let (u, i, w) = triples[k];
                b.push(u, i, w);
            }
            b.build_sorted()
        };
        let x = build(&[0, 1, 2, 3]);
        let y = build(&[3, 2, 1, 0]);
        assert_eq!(x.matrix, y.matrix);
        assert_eq!((x.users.id(0), x.items.id(0), x.items.id(2)), ("u1", "a", "c"));
        assert_eq!(x.items.get("c"), Some(2));
        assert_eq!(x.matrix.get(1, 0), Some(2.0));
        assert_eq!(x.matrix.get(0, 1), Some(0.5));
    }

    #[test]
    fn interactions_map_ids() {
        let x = Interactions::from_triples([("u1", "a", 3.0), ("u2", "b", 1.0), ("u1", "b", 2.0)]);
        assert_eq!(x.users.len(), 2);
        assert_eq!(x.items.get("b"), Some(1));
        assert_eq!(x.matrix.get(0, 1), Some(2.0));
        assert_eq!(x.users.id(1), "u2");
    }
}
