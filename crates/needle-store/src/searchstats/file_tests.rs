//! The file the state is kept in: round trip, damage, the JSON of earlier versions.

use super::tests::{click, crowd, search, DAY, T0};
use super::*;
use crate::error::Error;
use proptest::prelude::*;

/// The longest zstd frame header.
const ZSTD_FRAME_HEADER: usize = 18;

fn open_in(dir: &Path) -> Result<SearchStats> {
    SearchStats::open(dir, SearchStatsConfig::default())
}

/// A state with searches, clicks, anonymous ones and an erasure, written at a checkpoint.
fn written() -> (tempfile::TempDir, u64) {
    let d = tempfile::tempdir().expect("tempdir");
    let s = open_in(d.path()).expect("open");
    let mut seq = 0;
    crowd(&s, &mut seq, "hello", "x", 2, 6, T0);
    crowd(&s, &mut seq, "other song", "y", 7, 3, T0 + DAY);
    seq += 1;
    s.apply(seq, &[search("anon", "nothing", None, &[], T0 + 2 * DAY)], &[]);
    seq += 1;
    s.erase(seq, "u1");
    s.checkpoint(seq, true).expect("checkpoint");
    (d, seq)
}

fn assert_corrupt(dir: &Path) {
    match open_in(dir) {
        Err(Error::Corrupt { id, message }) => {
            assert!(id.ends_with(FILE_NAME), "names the file: {id}");
            assert!(!message.is_empty());
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a damaged file was read"),
    }
}

#[test]
fn the_state_survives_a_reopen_exactly() {
    let (d, seq) = written();
    let bytes = fs_err::read(d.path().join(FILE_NAME)).expect("written");
    assert_eq!(&bytes[..MAGIC.len()], MAGIC);
    assert_eq!(bytes[MAGIC.len()..MAGIC.len() + 4], VERSION.to_le_bytes());
    let s = open_in(d.path()).expect("reopen");
    assert_eq!(s.applied_seq(), seq);
    assert_eq!(s.durable_seq(), seq);
    let again = open_in(d.path()).expect("reopen");
    assert_eq!(*s.state.lock(), *again.state.lock());
    assert!(s.click_strengths("hello", T0 + 2000).is_some());
    assert!(!d.path().join(LEGACY_FILE_NAME).exists());
}

#[test]
fn truncated_or_damaged_files_are_corrupt_not_a_panic() {
    let (d, _) = written();
    let path = d.path().join(FILE_NAME);
    let good = fs_err::read(&path).expect("written");
    for len in (0..good.len()).step_by((good.len() / 97).max(1)) {
        fs_err::write(&path, &good[..len]).expect("write");
        assert_corrupt(d.path());
    }
    // Every byte of the compressed blocks flipped in turn: zstd's checksum catches what
    // the decoder does not. (Some bits of zstd's own frame header, e.g. the window size,
    // may change without changing the content: they are skipped.) A flip may also land
    // on bits the decoder never reads — the padding after an FSE table description —
    // and then the content is the same (the checksum vouches for it): reading it is
    // right, reading anything else is not. Which bytes those are depends on the state's
    // serialized order, so it varies from run to run.
    fs_err::write(&path, &good).expect("write");
    let original = open_in(d.path()).expect("the good file");
    let original = std::mem::take(&mut *original.state.lock());
    let mut unread = 0;
    for i in MAGIC.len() + 4 + ZSTD_FRAME_HEADER..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x55;
        fs_err::write(&path, &bad).expect("write");
        match open_in(d.path()) {
            Ok(s) => {
                assert_eq!(
                    *s.state.lock(),
                    original,
                    "byte {i} flipped: different content was read"
                );
                unread += 1;
            }
            Err(_) => assert_corrupt(d.path()),
        }
    }
    assert!(unread * 20 < good.len(), "{unread} flips of {} unnoticed", good.len());
    let mut newer = good.clone();
    newer[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&(VERSION + 1).to_le_bytes());
    fs_err::write(&path, &newer).expect("write");
    match open_in(d.path()) {
        Err(Error::Corrupt { message, .. }) => assert!(message.contains("version"), "{message}"),
        _ => panic!("another version must be refused"),
    }
    fs_err::write(&path, b"{\"applied_seq\":3}").expect("write");
    assert_corrupt(d.path());
}

#[test]
fn the_json_of_earlier_versions_is_read_once_then_replaced() {
    let (d, seq) = written();
    let before = open_in(d.path()).expect("open");
    let json = serde_json::to_vec(&*before.state.lock()).expect("json");
    fs_err::remove_file(d.path().join(FILE_NAME)).expect("remove");
    fs_err::write(d.path().join(LEGACY_FILE_NAME), &json).expect("write legacy");

    let s = open_in(d.path()).expect("migrates");
    assert_eq!(s.applied_seq(), seq);
    assert_eq!(*s.state.lock(), *before.state.lock());
    // No new entries: the checkpoint still writes the binary file and drops the JSON.
    s.checkpoint(seq, false).expect("checkpoint");
    assert!(d.path().join(FILE_NAME).exists());
    assert!(!d.path().join(LEGACY_FILE_NAME).exists());
    let after = open_in(d.path()).expect("reopen");
    assert_eq!(*after.state.lock(), *before.state.lock());

    // A crash between the write and the removal: the binary file wins, the JSON goes.
    fs_err::write(d.path().join(LEGACY_FILE_NAME), b"{\"applied_seq\":1}").expect("write legacy");
    let s = open_in(d.path()).expect("open");
    assert_eq!(s.applied_seq(), seq);
    s.checkpoint(seq, false).expect("checkpoint");
    assert!(!d.path().join(LEGACY_FILE_NAME).exists());
}

#[test]
fn a_damaged_legacy_file_is_corrupt_naming_it() {
    let d = tempfile::tempdir().expect("tempdir");
    fs_err::write(d.path().join(LEGACY_FILE_NAME), b"{not json").expect("write");
    match open_in(d.path()) {
        Err(Error::Corrupt { id, .. }) => assert!(id.ends_with(LEGACY_FILE_NAME), "{id}"),
        _ => panic!("expected Corrupt"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_state_round_trips(
        ops in proptest::collection::vec(
            (0u8..12, proptest::option::of(0u8..8), 0usize..4, proptest::option::of(1u32..15), 0i64..40 * DAY, 0u8..20),
            0..60,
        ),
    ) {
        let d = tempfile::tempdir().expect("tempdir");
        let s = open_in(d.path()).expect("open");
        let mut seq = 0;
        for (i, (q, user, n, pos, dt, erase)) in ops.into_iter().enumerate() {
            seq += 1;
            let user = user.map(|u| format!("u{u}"));
            if erase == 0 {
                s.erase(seq, user.as_deref().unwrap_or("u0"));
                continue;
            }
            let items: Vec<String> = (0..n).map(|k| format!("tr:{}", usize::from(q) + k)).collect();
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let sid = format!("s{i}");
            let found = search(&sid, &format!("Query {q}"), user.as_deref(), &refs, T0 + dt);
            let clicks: Vec<_> = pos
                .filter(|_| n > 0)
                .map(|p| click(&format!("c{i}"), &sid, &items[0], p, user.as_deref(), T0 + dt + 1))
                .into_iter()
                .collect();
            s.apply(seq, &[found], &clicks);
        }
        s.checkpoint(seq, true).expect("checkpoint");
        let back = open_in(d.path()).expect("reopen");
        prop_assert_eq!(back.applied_seq(), s.applied_seq());
        prop_assert_eq!(&*back.state.lock(), &*s.state.lock());
    }
}
