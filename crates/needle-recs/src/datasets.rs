//! Loaders for the public HetRec 2011 Last.fm files (`hetrec2011-lastfm-2k`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::matrix::{IdMap, Interactions, InteractionsBuilder};
use crate::RecsError;

/// `user_artists.dat` (`userID<TAB>artistID<TAB>weight`, weight = play count) as a
/// user x artist matrix; ids are kept as the files' decimal strings.
pub fn load_lastfm_user_artists(dir: &Path) -> Result<Interactions, RecsError> {
    let path = dir.join("user_artists.dat");
    let f = BufReader::new(fs_err::File::open(&path)?);
    let mut b = InteractionsBuilder::default();
    for (n, line) in f.lines().enumerate() {
        let line = line?;
        if n == 0 || line.trim().is_empty() {
            continue;
        }
        let mut it = line.split('\t');
        let (Some(u), Some(a), Some(w)) = (it.next(), it.next(), it.next()) else {
            return Err(RecsError::Parse(format!(
                "{}: line {}: 3 columns expected",
                path.display(),
                n + 1
            )));
        };
        let w: f32 = w
            .trim()
            .parse()
            .map_err(|_| RecsError::Parse(format!("{}: line {}: bad weight", path.display(), n + 1)))?;
        b.push(u.trim(), a.trim(), w);
    }
    Ok(b.build())
}

/// Tag sets per item from `user_taggedartists.dat` (`userID artistID tagID day month year`):
/// for each artist in `items`, the ids of its `max_tags` most applied tags, sorted
/// (artists without tags get an empty set). Used for intra-list diversity.
pub fn load_lastfm_artist_tags(dir: &Path, items: &IdMap, max_tags: usize) -> Result<Vec<Vec<u32>>, RecsError> {
    let path = dir.join("user_taggedartists.dat");
    let bytes = fs_err::read(&path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut counts: Vec<HashMap<u32, u32>> = vec![HashMap::new(); items.len()];
    for (n, line) in text.lines().enumerate() {
        if n == 0 || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            continue;
        }
        let (Some(i), Ok(tag)) = (items.get(cols[1].trim()), cols[2].trim().parse::<u32>()) else {
            continue;
        };
        *counts[i as usize].entry(tag).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|c| {
            let mut v: Vec<(u32, u32)> = c.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut t: Vec<u32> = v.into_iter().take(max_tags).map(|(t, _)| t).collect();
            t.sort_unstable();
            t
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_small_files() {
        let d = tempfile::tempdir().unwrap();
        fs_err::write(
            d.path().join("user_artists.dat"),
            "userID\tartistID\tweight\n2\t51\t100\n2\t52\t3\n3\t51\t7\n",
        )
        .unwrap();
        fs_err::write(
            d.path().join("user_taggedartists.dat"),
            "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t13\t1\t4\t2009\n3\t51\t13\t1\t4\t2009\n2\t51\t7\t1\t4\t2009\n2\t99\t1\t1\t1\t2009\n",
        )
        .unwrap();
        let x = load_lastfm_user_artists(d.path()).unwrap();
        assert_eq!((x.users.len(), x.items.len(), x.matrix.nnz()), (2, 2, 3));
        assert_eq!(x.matrix.get(0, 0), Some(100.0));
        let tags = load_lastfm_artist_tags(d.path(), &x.items, 1).unwrap();
        assert_eq!(tags, vec![vec![13], vec![]]);
    }
}
