//! The HNSW graph as plain arrays, and its file.
//!
//! `hnsw_rs` builds the graph; [`Graph`] keeps only its links (one CSR table per layer,
//! positions into the index's vectors), so it can be written next to a model and read back
//! in seconds instead of rebuilt in minutes. `hnsw_rs`'s own dump/reload (`HnswIo`) was not
//! used: it asserts (panics) on a damaged file, writes a second copy of every vector, and its
//! reloaded index borrows the loader.
//!
//! File layout, little-endian: a 64-byte header — magic `NEEDLEG1`, format (u32), the
//! [`GraphTag`] (model version u64, model creation ms i64, vector count u64, dimensions u32,
//! CRC-32 of the vectors u32), entry node (u32), layer count (u32), payload length (u64),
//! payload CRC-32 (u32) — then per layer, bottom first: node count (u64), on layers above 0
//! the node positions (u32 each, increasing), each node's degree (u32), and the links (u32).
//! A file whose tag differs from the model's, whose checksum fails or whose links point
//! outside the vectors is refused with [`RecsError::Parse`]; the caller rebuilds.

use std::io::Write;
use std::path::Path;

use crate::RecsError;

const MAGIC: &[u8; 8] = b"NEEDLEG1";
const FORMAT: u32 = 1;
const HEADER_LEN: usize = 64;
/// `hnsw_rs` never builds more layers than this.
const MAX_LAYERS: usize = 16;

/// What ties a graph file to one model's vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphTag {
    /// Model version.
    pub version: u64,
    /// Model creation time, epoch milliseconds.
    pub created_ms: i64,
    /// Number of vectors (graph nodes).
    pub count: u64,
    /// Dimensions of a vector.
    pub dim: u32,
    /// CRC-32 of the vectors as little-endian `f32`, in index order.
    pub vectors_crc: u32,
}

/// One layer's adjacency lists.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Layer {
    /// Node positions in increasing order; empty on layer 0, which holds every node.
    pub(super) nodes: Vec<u32>,
    /// `links[offsets[i]..offsets[i + 1]]` are the neighbours of the `i`-th node.
    pub(super) offsets: Vec<usize>,
    pub(super) links: Vec<u32>,
}

impl Layer {
    /// Neighbours of `node` on this layer (empty when it is not on it).
    pub(super) fn neighbours(&self, node: u32) -> &[u32] {
        let i = if self.nodes.is_empty() {
            node as usize
        } else {
            match self.nodes.binary_search(&node) {
                Ok(i) => i,
                Err(_) => return &[],
            }
        };
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.links.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// A layer from `(node, neighbours)` in increasing node order.
    pub(super) fn from_lists(all_nodes: bool, lists: Vec<(u32, Vec<u32>)>) -> Layer {
        let mut layer = Layer {
            offsets: Vec::with_capacity(lists.len() + 1),
            ..Default::default()
        };
        layer.offsets.push(0);
        for (node, links) in lists {
            if !all_nodes {
                layer.nodes.push(node);
            }
            layer.links.extend(links);
            layer.offsets.push(layer.links.len());
        }
        layer
    }

    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

/// The layered links of an HNSW index over `count` vectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// Where every search starts (a node of the top layer).
    pub(super) entry: u32,
    /// Bottom (every node) first.
    pub(super) layers: Vec<Layer>,
}

impl Graph {
    /// Write to `path` atomically: a temporary file beside it, fsync'd, renamed into place,
    /// then the directory fsync'd.
    pub fn write(&self, path: &Path, tag: &GraphTag) -> Result<(), RecsError> {
        let mut payload = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            payload.extend_from_slice(&(layer.len() as u64).to_le_bytes());
            if l > 0 {
                put_u32s(&mut payload, &layer.nodes);
            }
            for w in layer.offsets.windows(2) {
                payload.extend_from_slice(&((w[1] - w[0]) as u32).to_le_bytes());
            }
            payload.extend_from_slice(&(layer.links.len() as u64).to_le_bytes());
            put_u32s(&mut payload, &layer.links);
        }
        let mut head = Vec::with_capacity(HEADER_LEN);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT.to_le_bytes());
        head.extend_from_slice(&tag.version.to_le_bytes());
        head.extend_from_slice(&tag.created_ms.to_le_bytes());
        head.extend_from_slice(&tag.count.to_le_bytes());
        head.extend_from_slice(&tag.dim.to_le_bytes());
        head.extend_from_slice(&tag.vectors_crc.to_le_bytes());
        head.extend_from_slice(&self.entry.to_le_bytes());
        head.extend_from_slice(&(self.layers.len() as u32).to_le_bytes());
        head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        head.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        head.resize(HEADER_LEN, 0);

        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| -> Result<(), RecsError> {
            let mut file = fs_err::File::create(&tmp)?;
            file.write_all(&head)?;
            file.write_all(&payload)?;
            file.sync_all()?;
            fs_err::rename(&tmp, path)?;
            Ok(())
        })();
        if written.is_err() {
            let _ = fs_err::remove_file(&tmp);
        }
        written?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = fs_err::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Read a graph file written for `tag`; any mismatch or damage is an error naming it.
    pub fn read(path: &Path, tag: &GraphTag) -> Result<Graph, RecsError> {
        let bytes = fs_err::read(path)?;
        Self::parse(&bytes, tag).map_err(|what| RecsError::Parse(format!("{}: {what}", path.display())))
    }

    fn parse(bytes: &[u8], tag: &GraphTag) -> Result<Graph, String> {
        let (head, payload) = bytes.split_at_checked(HEADER_LEN).ok_or("shorter than its header")?;
        let mut h = Reader(head);
        if h.take(8)? != MAGIC {
            return Err("not a Needle graph file".into());
        }
        let format = h.u32()?;
        if format != FORMAT {
            return Err(format!("graph format {format}, expected {FORMAT}"));
        }
        let found = GraphTag {
            version: h.u64()?,
            created_ms: h.u64()? as i64,
            count: h.u64()?,
            dim: h.u32()?,
            vectors_crc: h.u32()?,
        };
        if found != *tag {
            return Err(format!("written for another model ({found:?}, the model is {tag:?})"));
        }
        let entry = h.u32()?;
        let n_layers = h.u32()? as usize;
        let len = h.u64()?;
        let crc = h.u32()?;
        if len != payload.len() as u64 {
            return Err(format!(
                "payload of {} bytes, header says {len} (truncated?)",
                payload.len()
            ));
        }
        if crc32fast::hash(payload) != crc {
            return Err("checksum mismatch".into());
        }
        let count = usize::try_from(tag.count).map_err(|e| e.to_string())?;
        if !(1..=MAX_LAYERS).contains(&n_layers) || count == 0 {
            return Err(format!("{n_layers} layers over {count} vectors"));
        }
        let mut r = Reader(payload);
        let mut layers = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let n = r.len_of(4)?;
            let nodes = if l == 0 {
                if n != count {
                    return Err(format!("layer 0 has {n} nodes, the model {count} vectors"));
                }
                Vec::new()
            } else {
                let nodes = r.u32s(n)?;
                if nodes.windows(2).any(|w| w[0] >= w[1]) || nodes.last().is_some_and(|&x| x as usize >= count) {
                    return Err(format!("layer {l}: nodes out of order or range"));
                }
                nodes
            };
            let mut offsets = Vec::with_capacity(n + 1);
            offsets.push(0usize);
            for d in r.u32s(n)? {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last + d as usize);
            }
            let n_links = r.len_of(4)?;
            if offsets.last().copied() != Some(n_links) {
                return Err(format!("layer {l}: degrees do not add up to {n_links} links"));
            }
            let links = r.u32s(n_links)?;
            if links.iter().any(|&x| x as usize >= count) {
                return Err(format!("layer {l}: a link points past the vectors"));
            }
            layers.push(Layer { nodes, offsets, links });
        }
        if !r.0.is_empty() {
            return Err("trailing bytes after the last layer".into());
        }
        let top = layers.last().ok_or("no layer")?;
        if entry as usize >= count || (n_layers > 1 && top.nodes.binary_search(&entry).is_err()) {
            return Err(format!("entry node {entry} is not on the top layer"));
        }
        Ok(Graph { entry, layers })
    }
}

/// CRC-32 of `data` as little-endian `f32` (the [`GraphTag::vectors_crc`] of an index).
pub fn vectors_crc(data: &[f32]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    for chunk in data.chunks(16 * 1024) {
        buf.clear();
        for x in chunk {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        h.update(&buf);
    }
    h.finalize()
}

fn put_u32s(out: &mut Vec<u8>, xs: &[u32]) {
    out.reserve(xs.len() * 4);
    for x in xs {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// A bounds-checked cursor: running out of bytes is an error, never a panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (a, b) = self.0.split_at_checked(n).ok_or("truncated")?;
        self.0 = b;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items of `size` bytes each, checked against the bytes left.
    fn len_of(&mut self, size: usize) -> Result<usize, String> {
        let n = self.u64()?;
        if n > (self.0.len() / size) as u64 {
            return Err(format!("a count of {n} past the end of the file"));
        }
        Ok(n as usize)
    }

    fn u32s(&mut self, n: usize) -> Result<Vec<u32>, String> {
        let b = self.take(n.checked_mul(4).ok_or("count overflow")?)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(count: u64) -> GraphTag {
        GraphTag {
            version: 3,
            created_ms: 99,
            count,
            dim: 4,
            vectors_crc: 7,
        }
    }

    /// Four nodes in a ring on layer 0; nodes 1 and 3 linked on layer 1.
    fn ring() -> Graph {
        let bottom = (0..4u32).map(|i| (i, vec![(i + 1) % 4, (i + 3) % 4])).collect();
        Graph {
            entry: 3,
            layers: vec![
                Layer::from_lists(true, bottom),
                Layer::from_lists(false, vec![(1, vec![3]), (3, vec![1])]),
            ],
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.hnsw");
        let g = ring();
        g.write(&path, &tag(4)).unwrap();
        let back = Graph::read(&path, &tag(4)).unwrap();
        assert_eq!(back, g);
        assert_eq!(back.layers[0].neighbours(2), &[3, 1]);
        assert_eq!(back.layers[1].neighbours(3), &[1]);
        assert!(back.layers[1].neighbours(2).is_empty());
        assert!(back.layers[0].neighbours(9).is_empty());
        // no temporary file is left behind
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn wrong_tag_damage_and_bad_links_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.hnsw");
        ring().write(&path, &tag(4)).unwrap();
        for other in [
            GraphTag { version: 4, ..tag(4) },
            GraphTag {
                vectors_crc: 8,
                ..tag(4)
            },
            tag(5),
        ] {
            let e = Graph::read(&path, &other).unwrap_err().to_string();
            assert!(e.contains("another model"), "{e}");
        }
        let good = fs_err::read(&path).unwrap();
        for cut in 0..good.len() {
            assert!(Graph::parse(&good[..cut], &tag(4)).is_err(), "cut at {cut}");
        }
        for i in HEADER_LEN..good.len() {
            let mut b = good.clone();
            b[i] ^= 1;
            assert!(Graph::parse(&b, &tag(4)).unwrap_err().contains("checksum"));
        }
        // checksums right, contents wrong: a link past the vectors, an entry off the top
        // layer, unordered nodes, a layer 0 of the wrong size
        let mut g = ring();
        g.layers[0].links[3] = 4;
        let mut off_top = ring();
        off_top.entry = 2;
        let mut unordered = ring();
        unordered.layers[1].nodes = vec![3, 1];
        for (g, count) in [(g, 4), (off_top, 4), (unordered, 4), (ring(), 5)] {
            g.write(&path, &tag(count)).unwrap();
            assert!(Graph::read(&path, &tag(count)).is_err());
        }
        assert!(Graph::read(&dir.path().join("missing"), &tag(4)).is_err());
    }
}
