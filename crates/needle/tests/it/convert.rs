//! End-to-end tests of the dataset converters on small fixtures shaped like the real
//! files in `shared/data` (which tests never read), checking the import-format
//! contract on every written line.

#[allow(dead_code)]
#[path = "../../src/dataset/mod.rs"]
mod dataset;

use dataset::{convert, convert_all, ConvertSummary, DatasetName};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    let file = std::fs::File::open(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    } else {
        std::io::BufReader::new(file).read_to_string(&mut text).unwrap();
    }
    text.lines().map(|l| serde_json::from_str(l).expect(l)).collect()
}

/// Every rule of the import format that a converter can break.
fn check_contract(lines: &[Value]) {
    const COMMON: &[&str] = &[
        "id",
        "type",
        "name",
        "popularity",
        "tags",
        "language",
        "release_date",
        "description",
        "aliases",
        "explicit",
        "markets",
        "extra",
    ];
    let mut ids = HashSet::new();
    for v in lines {
        let o = v.as_object().unwrap();
        let kind = o["type"].as_str().unwrap();
        let typed: &[&str] = match kind {
            "artist" => &[],
            "album" => &["artist_ids"],
            "track" => &["artist_ids", "album_id", "duration_ms"],
            "playlist" => &["owner", "track_ids"],
            "show" => &["publisher"],
            "episode" => &["show_id", "duration_ms", "transcript"],
            "audiobook" => &["authors", "narrators"],
            "chapter" => &["audiobook_id", "duration_ms"],
            other => panic!("bad type {other}"),
        };
        for (k, val) in o {
            assert!(
                COMMON.contains(&k.as_str()) || typed.contains(&k.as_str()),
                "{k} in {v}"
            );
            assert!(!val.is_null(), "null {k} in {v}");
        }
        let id = o["id"].as_str().unwrap();
        assert!(!id.is_empty() && id.len() <= 256, "{v}");
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        let name = o["name"].as_str().unwrap();
        assert!(!name.is_empty() && name.trim() == name, "{v}");
        assert!(!name.contains("&amp;") && !name.contains("&quot;"), "{v}");
        if let Some(p) = o.get("popularity") {
            assert!(p.as_f64().is_some_and(|p| p.is_finite() && p >= 0.0), "{v}");
        }
        if let Some(l) = o.get("language") {
            let l = l.as_str().unwrap();
            assert!(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()), "{v}");
        }
        if let Some(d) = o.get("release_date") {
            let d = d.as_str().unwrap();
            assert!(
                [4, 7, 10].contains(&d.len()) && d[..4].bytes().all(|b| b.is_ascii_digit()),
                "{v}"
            );
        }
        if let Some(d) = o.get("duration_ms") {
            assert!(d.is_u64(), "{v}");
        }
        if let Some(e) = o.get("extra") {
            assert!(e.is_object(), "{v}");
        }
        // Referenced entities come first.
        let refs = ["show_id", "audiobook_id", "album_id"].iter().filter_map(|k| o.get(*k));
        let list_refs = o.get("artist_ids").into_iter().flat_map(|a| a.as_array().unwrap());
        for r in refs.chain(list_refs) {
            let r = r.as_str().unwrap();
            assert!(ids.contains(r) && r != id, "{id} references {r} before it was written");
        }
    }
}

fn by_id<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

fn fixtures(root: &Path) {
    let bb = root.join("billboard-hot-100");
    write_file(
        &bb.join("hot100_songs.tsv.gz"),
        "song\tartist\tfirst_chart_date\tlast_chart_date\tpeak_position\tweeks_charted\n\
         Mrs. Robinson\tSimon & Garfunkel\t1968-04-27\t1968-07-20\t1\t13\n\
         The Boxer\tSimon & Garfunkel\t1969-04-05\t1969-05-31\t7\t9\n\
         Work\tRihanna Featuring Drake\t2016-02-13\t2016-08-06\t1\t2\n\
         Hotline Bling\tDrake\t2015-08-15\t2016-02-06\t2\t1\n\
         Rude Boy\tRihanna\t2010-02-27\t2010-07-10\t1\t1\n\
         Tom &amp; Jerry\tDrake & Rihanna\t2011-01-01\t2011-01-01\t90\t1\n\
         broken line\n\
         \tNobody\t2000-01-01\t2000-01-01\t1\t1\n"
            .as_bytes(),
    );
    write_file(
        &bb.join("hot100_weekly_entries.tsv.gz"),
        "chart_date\tthis_week\tsong\tartist\tlast_week\tpeak_position\tweeks_on_chart\n\
         2016-02-13\t1\tWork\tRihanna Featuring Drake\t\t1\t1\n\
         2016-02-20\t3\tWork\tRihanna Featuring Drake\t1\t1\t2\n\
         2015-08-15\t2\tHotline Bling\tDrake\t\t2\t1\n\
         2016-02-20\tx\tWork\tRihanna Featuring Drake\t1\t1\t2\n"
            .as_bytes(),
    );
    let lfm = root.join("hetrec2011-lastfm-2k");
    write_file(
        &lfm.join("artists.dat"),
        "id\tname\turl\tpictureURL\n1\tR\u{f6}yksopp\thttp://x/1\t\n2\t  \t\t\nbad\n".as_bytes(),
    );
    write_file(&lfm.join("tags.dat"), b"tagID\ttagValue\n1\tcaf\xe9\n2\tnorwegian\n");
    write_file(
        &lfm.join("user_taggedartists.dat"),
        b"userID\tartistID\ttagID\tday\tmonth\tyear\n5\t1\t2\t1\t1\t2009\n6\t1\t2\t1\t1\t2009\n7\t1\t1\t1\t1\t2009\n",
    );
    write_file(
        &lfm.join("user_artists.dat"),
        b"userID\tartistID\tweight\n5\t1\t100\n6\t1\t50\n",
    );
    write_file(
        &root.join("podcastindex-show-titles/podcast_shows.tsv.gz"),
        "feed_url\ttitle\tlanguage\tcategories\n\
         http://a/feed\tRock &amp;amp; Roll &#39;Pod&#39;\tger\tmusic|news\n\
         http://b/feed\tUnknown Lang\t?\t\n\
         http://c/feed\t   \teng\tnews\n\
         http://d/feed\n"
            .as_bytes(),
    );
    let a19 = r#"{"title": "Old &amp; Title", "producer": "P19", "genre": "Comedy", "description": "d19", "num_episodes": "NA", "rating": "NA", "num_reviews": "NA", "link": "https://podcasts.apple.com/us/podcast/x/id111", "itunes_id": "111"}
{"title": "Only 2019", "producer": "P", "genre": "News", "description": "", "num_episodes": 5, "rating": 4.0, "num_reviews": 10, "link": "https://podcasts.apple.com/gb/podcast/y/id222"}
not json
"#;
    let a23 = r#"{"title": "New Title", "producer": "", "genre": "Comedy", "description": "d23", "num_episodes": 9, "rating": 5.0, "num_reviews": 200.0, "link": "https://podcasts.apple.com/us/podcast/x/id111", "itunes_id": "111"}
"#;
    write_file(
        &root.join("apple-podcasts-2019-siddgood/podcasts_info.jsonl.gz"),
        a19.as_bytes(),
    );
    write_file(
        &root.join("apple-podcasts-2023-mille055/podcasts.jsonl.gz"),
        a23.as_bytes(),
    );
    let lv = root.join("librivox-catalog-2017");
    let book = r#"{"id": 47, "title": "Count of Monte Cristo", "description": "x", "description_html": "<p><i>The Count</i> (French: <i>Le Comte</i>)</p>", "language": "English", "copyright_year": "1844", "num_sections": 2, "totaltime_secs": 100, "authors": [{"id": "431", "first_name": "Alexandre", "last_name": "Dumas"}], "genres": ["*Non-fiction", "History "], "translators": [], "archive_org_downloads": 1570028}
{"id": 48, "title": "Odyssey", "language": "Ancient Greek", "copyright_year": "0", "authors": [{"first_name": "", "last_name": "Homer"}], "genres": []}
{broken
"#;
    write_file(&lv.join("librivox_books.jsonl.gz"), book.as_bytes());
    write_file(
        &lv.join("librivox_sections.tsv.gz"),
        "book_id\tsection_id\tsection_number\ttitle\tplaytime_secs\tlanguage\treader_ids\treader_names\n\
         47\t1\t1\tMarseilles&ndash;The Arrival \t1179\tEnglish\t14\tKristin LeMoine\n\
         47\t2\t2\t\t60\tEnglish\t17|14\tGord Mackenzie|Kristin LeMoine\n\
         99\t3\t1\tOrphan\t10\tEnglish\t1\tX\n\
         47\t4\n"
            .as_bytes(),
    );
    let cl = r#"{"show": "podcast", "file": "podcast/the-changelog-512.md", "episode_slug": "512", "url_guess": "https://changelog.com/podcast/512", "speakers": ["Jerod Santo", "Break"], "num_turns": 2, "text": "**Jerod Santo:** \\[01:46\\] Hello *there* &quot;friends&quot; \\[laughs\\]\n\n# **Break:** \\[25:59\\]\n"}
{"show": "jsparty", "file": "jsparty/js-party-meet-alex-sexton.md", "episode_slug": "meet-alex-sexton", "speakers": [], "text": "Hi"}
garbage
"#;
    write_file(
        &root.join("changelog-podcast-transcripts/transcripts.jsonl.gz"),
        cl.as_bytes(),
    );
}

fn run(name: DatasetName, input: &Path, out: &Path) -> (ConvertSummary, Vec<Value>) {
    let summary = convert(name, input, out, false).unwrap();
    let lines = read_lines(out);
    check_contract(&lines);
    assert_eq!(summary.written, lines.len() as u64);
    assert_eq!(summary.by_type.values().sum::<u64>(), summary.written);
    (summary, lines)
}

#[test]
fn billboard_tracks_and_artists() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let out = dir.path().join("bb.jsonl.gz");
    let (s, lines) = run(DatasetName::Billboard, &dir.path().join("billboard-hot-100"), &out);
    assert_eq!(s.by_type["track"], 6);
    assert_eq!(s.by_type["artist"], 3); // Simon & Garfunkel, Rihanna, Drake
    assert!(s.skipped >= 3, "{s:?}"); // short line, empty title, bad position
    let work = by_id(&lines, "bb:track:rihanna-featuring-drake:work");
    assert_eq!(
        work["artist_ids"],
        serde_json::json!(["bb:artist:rihanna", "bb:artist:drake"])
    );
    assert_eq!(work["popularity"], 100.0 + 98.0);
    assert_eq!(work["release_date"], "2016-02-13");
    assert_eq!(work["extra"]["credit"], "Rihanna Featuring Drake");
    let sg = by_id(&lines, "bb:artist:simon-and-garfunkel");
    assert_eq!(sg["name"], "Simon & Garfunkel");
    assert_eq!(by_id(&lines, "bb:artist:drake")["popularity"], 198.0 + 99.0);
    let tj = by_id(&lines, "bb:track:drake-and-rihanna:tom-and-jerry");
    assert_eq!(tj["name"], "Tom & Jerry");
    assert_eq!(tj["artist_ids"].as_array().unwrap().len(), 2);
}

#[test]
fn lastfm_artists_with_latin1_tags() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let out = dir.path().join("lfm.jsonl");
    let (s, lines) = run(DatasetName::Lastfm, &dir.path().join("hetrec2011-lastfm-2k"), &out);
    assert_eq!((s.written, s.skipped), (1, 2));
    let a = by_id(&lines, "lfm:artist:1");
    assert_eq!(a["name"], "Röyksopp");
    assert_eq!(a["tags"], serde_json::json!(["norwegian", "café"]));
    assert_eq!(a["popularity"], 150.0);
    assert_eq!(a["extra"]["listeners"], 2);
}

#[test]
fn podcastindex_shows() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let out = dir.path().join("pi.jsonl.gz");
    let (s, lines) = run(DatasetName::PodcastIndex, dir.path(), &out);
    assert_eq!((s.written, s.skipped), (2, 2));
    let rock = lines
        .iter()
        .find(|v| v["extra"]["feed_url"] == "http://a/feed")
        .unwrap();
    assert_eq!(rock["name"], "Rock & Roll 'Pod'");
    assert_eq!(rock["language"], "de");
    assert_eq!(rock["tags"], serde_json::json!(["music", "news"]));
    assert!(rock["id"].as_str().unwrap().starts_with("pi:show:"));
    assert!(lines[1].get("language").is_none() && lines[1].get("popularity").is_none());
}

#[test]
fn apple_merges_both_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let (s, lines) = run(DatasetName::ApplePodcasts, dir.path(), &dir.path().join("a.jsonl"));
    assert_eq!((s.written, s.skipped), (2, 1));
    let merged = by_id(&lines, "apple:show:111");
    assert_eq!(merged["name"], "New Title");
    assert_eq!(merged["publisher"], "P19"); // empty in 2023
    assert_eq!(merged["description"], "d23");
    assert_eq!(merged["popularity"], 200.0);
    assert_eq!(merged["markets"], serde_json::json!(["US"]));
    assert_eq!(merged["extra"]["sources"], serde_json::json!(["2019", "2023"]));
    let old = by_id(&lines, "apple:show:222");
    assert_eq!(old["popularity"], 8.0);
    assert!(old.get("description").is_none());
    // One folder alone converts that scrape only.
    let one = dir.path().join("apple-podcasts-2023-mille055");
    let (s, _) = run(DatasetName::ApplePodcasts, &one, &dir.path().join("b.jsonl"));
    assert_eq!(s.written, 1);
}

#[test]
fn librivox_books_then_chapters() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let input = dir.path().join("librivox-catalog-2017");
    let (s, lines) = run(DatasetName::Librivox, &input, &dir.path().join("lv.jsonl.gz"));
    assert_eq!((s.by_type["audiobook"], s.by_type["chapter"]), (2, 2));
    assert_eq!(s.skipped, 3); // bad JSON, orphan section, short section line
    let b = by_id(&lines, "lv:book:47");
    assert_eq!(b["authors"], serde_json::json!(["Alexandre Dumas"]));
    assert_eq!(b["narrators"], serde_json::json!(["Kristin LeMoine", "Gord Mackenzie"]));
    assert_eq!(
        (b["language"].as_str(), b["release_date"].as_str()),
        (Some("en"), Some("1844"))
    );
    assert_eq!(b["tags"], serde_json::json!(["Non-fiction", "History"]));
    assert_eq!(b["description"], "The Count (French: Le Comte)");
    let homer = by_id(&lines, "lv:book:48");
    assert_eq!(homer["authors"], serde_json::json!(["Homer"]));
    assert!(homer.get("language").is_none() && homer.get("release_date").is_none());
    let ch = by_id(&lines, "lv:ch:1");
    assert_eq!(ch["name"], "Marseilles–The Arrival");
    assert_eq!(
        (ch["audiobook_id"].as_str(), ch["duration_ms"].as_u64()),
        (Some("lv:book:47"), Some(1_179_000))
    );
    assert_eq!(by_id(&lines, "lv:ch:2")["name"], "Section 2");
}

#[test]
fn changelog_shows_then_episodes() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let (s, lines) = run(DatasetName::Changelog, dir.path(), &dir.path().join("cl.jsonl"));
    assert_eq!((s.by_type["show"], s.by_type["episode"], s.skipped), (2, 2, 1));
    let ep = by_id(&lines, "cl:ep:podcast:512");
    assert_eq!(ep["name"], "The Changelog #512");
    assert_eq!(ep["show_id"], "cl:show:podcast");
    assert_eq!(ep["transcript"], "Hello there \"friends\" [laughs]");
    assert_eq!(ep["extra"]["speakers"], serde_json::json!(["Jerod Santo"]));
    assert_eq!(by_id(&lines, "cl:show:podcast")["publisher"], "Changelog Media");
    assert_eq!(
        by_id(&lines, "cl:ep:jsparty:meet-alex-sexton")["name"],
        "JS Party: Meet Alex Sexton"
    );
}

#[test]
fn convert_all_writes_one_catalog() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let out = dir.path().join("out/all.jsonl.gz");
    let summary = convert_all(dir.path(), &out, false).unwrap();
    let lines = read_lines(&out);
    check_contract(&lines);
    assert_eq!(summary.written, lines.len() as u64);
    assert_eq!(summary.written, 9 + 1 + 2 + 2 + 4 + 4);
    // Missing dataset folders are an error, not an empty catalog.
    assert!(convert_all(&dir.path().join("nope"), &out, false).is_err());
    assert!(convert(DatasetName::Lastfm, &dir.path().join("billboard-hot-100"), &out, false).is_err());
}

#[test]
fn dataset_names_parse() {
    for (s, d) in [
        ("billboard-hot-100", DatasetName::Billboard),
        ("lastfm", DatasetName::Lastfm),
        ("PodcastIndex", DatasetName::PodcastIndex),
        ("apple", DatasetName::ApplePodcasts),
        ("librivox-catalog-2017", DatasetName::Librivox),
        ("changelog", DatasetName::Changelog),
    ] {
        assert_eq!(s.parse::<DatasetName>().unwrap(), d);
    }
    assert!("nope".parse::<DatasetName>().is_err());
}
