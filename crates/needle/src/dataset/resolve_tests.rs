use super::super::sink::Sink;
use super::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

fn artist(id: &str, name: &str, popularity: f64) -> Entity {
    let mut e = Entity::new("artist", id.into(), name.into());
    e.popularity = Some(popularity);
    e
}

fn tagged(mut e: Entity, tags: &[&str]) -> Entity {
    e.tags = tags.iter().map(|t| t.to_string()).collect();
    e
}

fn track(id: &str, artist_ids: &[&str]) -> Entity {
    let mut e = Entity::new("track", id.into(), id.into());
    e.artist_ids = artist_ids.iter().map(|a| a.to_string()).collect();
    e
}

fn by_id(out: &[Entity], id: &str) -> Option<Entity> {
    out.iter().find(|e| e.id == id).cloned()
}

#[test]
fn keys() {
    assert_eq!(strict_key("Beyoncé"), strict_key("BEYONCE"));
    assert_eq!(strict_key("Jay Z"), strict_key("JAY-Z"));
    assert_eq!(strict_key("Ke$ha"), strict_key("Kesha"));
    assert_eq!(
        strict_key("Florence + The Machine"),
        strict_key("Florence and the Machine")
    );
    assert_eq!(strict_key("Panic! At The Disco"), strict_key("Panic at the Disco"));
    assert_ne!(strict_key("The Killers"), strict_key("Killers"));
    assert_eq!(loose_key("The Killers"), loose_key("Killers"));
    assert_eq!(loose_key("The"), "the");
    assert_eq!(strict_key("!!!"), "");
}

#[test]
fn one_entity_per_artist_references_rewritten() {
    let (out, res) = resolve_artists(vec![
        artist("bb:artist:beyonce", "Beyonce", 30.0),
        artist("bb:artist:jay-z", "JAY-Z", 20.0),
        artist("bb:artist:beyonce-knowles", "Beyonce Knowles", 1.0),
        track("bb:track:1", &["bb:artist:beyonce", "bb:artist:jay-z"]),
        track(
            "bb:track:2",
            &["bb:artist:jay-z", "bb:artist:beyonce-knowles", "bb:artist:beyonce"],
        ),
        artist("lfm:artist:295", "Beyoncé", 1000.0),
        artist("lfm:artist:1613", "Jay-Z", 900.0),
    ]);
    let ids: Vec<&str> = out.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["lfm:artist:295", "lfm:artist:1613", "bb:track:1", "bb:track:2"]);
    let b = by_id(&out, "lfm:artist:295").unwrap();
    assert_eq!(b.name, "Beyoncé");
    assert_eq!(b.aliases, ["Beyonce", "Beyonce Knowles"]);
    assert_eq!(b.alias_ids, ["bb:artist:beyonce", "bb:artist:beyonce-knowles"]);
    assert_eq!(b.popularity, Some(1000.0), "the survivor's own popularity");
    assert_eq!(
        by_id(&out, "bb:track:2").unwrap().artist_ids,
        ["lfm:artist:1613", "lfm:artist:295"],
        "renamed, and the duplicate the rename made dropped"
    );
    assert_eq!((res.artists_before, res.artists_after), (5, 2));
    let rules: Vec<Rule> = res.merges.iter().map(Merge::rule).collect();
    assert_eq!(rules, [Rule::AliasForm, Rule::Exact]);
}

#[test]
fn a_name_two_artists_of_one_source_share_is_not_merged() {
    let (out, res) = resolve_artists(vec![
        artist("bb:artist:red", "Red", 50.0),
        artist("lfm:artist:20", "Red", 100.0),
        artist("lfm:artist:21", "RED", 90.0),
        // A dominant listing stands for its name; the misspelt duplicate stays apart.
        artist("bb:artist:rihanna", "Rihanna", 50.0),
        artist("lfm:artist:30", "Rihanna", 1000.0),
        artist("lfm:artist:31", "Rihannà", 3.0),
        // One artist listed twice, as their shared tags say: the more popular stands.
        artist("bb:artist:yael-naim", "Yael Naim", 50.0),
        tagged(
            artist("lfm:artist:5655", "Yael Naïm", 441.0),
            &["folk", "female vocalists"],
        ),
        tagged(
            artist("lfm:artist:7137", "Yael Naim", 992.0),
            &["Female Vocalists", "pop"],
        ),
        // Two artists: no shared tag, popularities close.
        artist("bb:artist:traffic", "Traffic", 50.0),
        tagged(artist("lfm:artist:513", "Traff!c", 1250.0), &["alternative rock"]),
        tagged(artist("lfm:artist:7800", "Traffic", 611.0), &["psychedelic", "60s"]),
    ]);
    for id in ["bb:artist:red", "lfm:artist:20", "lfm:artist:21", "lfm:artist:31"] {
        assert!(by_id(&out, id).unwrap().alias_ids.is_empty(), "{id}");
    }
    assert_eq!(by_id(&out, "lfm:artist:30").unwrap().alias_ids, ["bb:artist:rihanna"]);
    assert_eq!(
        by_id(&out, "lfm:artist:7137").unwrap().alias_ids,
        ["bb:artist:yael-naim"]
    );
    assert!(by_id(&out, "lfm:artist:5655").unwrap().alias_ids.is_empty());
    let keys: Vec<&str> = res.collisions.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["red", "traffic"]);
}

#[test]
fn the_exact_name_first_then_without_the() {
    let (out, _) = resolve_artists(vec![
        artist("bb:artist:the-killers", "The Killers", 10.0),
        artist("bb:artist:weeknd", "The Weeknd", 10.0),
        artist("lfm:artist:229", "The Killers", 100.0),
        artist("lfm:artist:8662", "Killers", 100.0),
        artist("lfm:artist:5", "Weeknd", 100.0),
    ]);
    assert_eq!(
        by_id(&out, "lfm:artist:229").unwrap().alias_ids,
        ["bb:artist:the-killers"]
    );
    assert!(by_id(&out, "lfm:artist:8662").unwrap().alias_ids.is_empty());
    assert_eq!(by_id(&out, "lfm:artist:5").unwrap().alias_ids, ["bb:artist:weeknd"]);
}

#[test]
fn never_a_second_lastfm_id() {
    let (out, _) = resolve_artists(vec![
        artist("lfm:artist:1", "Diddy", 100.0),
        artist("lfm:artist:2", "P. Diddy", 50.0),
        artist("bb:artist:puff-daddy", "Puff Daddy", 5.0),
        artist("bb:artist:unrelated", "Nobody Else", 5.0),
    ]);
    assert_eq!(by_id(&out, "lfm:artist:1").unwrap().alias_ids, ["bb:artist:puff-daddy"]);
    assert!(
        by_id(&out, "lfm:artist:2").is_some(),
        "events reference it: it keeps its entity"
    );
    assert!(by_id(&out, "bb:artist:unrelated").is_some());
}

fn gz(path: &Path, text: &str) {
    let mut w = flate2::write::GzEncoder::new(fs_err::File::create(path).unwrap(), flate2::Compression::fast());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
}

/// The converters end to end on tiny Billboard and Last.fm folders.
#[test]
fn converted_catalog_has_one_entity_per_artist() {
    let dir = tempfile::tempdir().unwrap();
    let (bb, lfm) = (dir.path().join("bb"), dir.path().join("lfm"));
    fs_err::create_dir_all(&bb).unwrap();
    fs_err::create_dir_all(&lfm).unwrap();
    let songs = [
        ("Halo", "Beyonce"),
        ("Crazy In Love", "Beyonce Featuring Jay Z"),
        ("'03 Bonnie & Clyde", "Jay-Z Featuring Beyonce Knowles"),
        ("Smells Like Teen Spirit", "Nirvana"),
        ("Red Song", "Red"),
    ];
    let mut text = String::from("song\tartist\tfirst_chart_date\tlast_chart_date\tpeak_position\tweeks_charted\n");
    let mut weekly = String::from("chart_date\tthis_week\tsong\tartist\tlast_week\tpeak_position\tweeks_on_chart\n");
    for (i, (song, credit)) in songs.iter().enumerate() {
        text.push_str(&format!(
            "{song}\t{credit}\t2003-01-0{}\t2003-02-01\t{}\t5\n",
            i + 1,
            i + 1
        ));
        weekly.push_str(&format!("2003-01-04\t{}\t{song}\t{credit}\t\t1\t1\n", i + 1));
    }
    gz(&bb.join("hot100_songs.tsv.gz"), &text);
    gz(&bb.join("hot100_weekly_entries.tsv.gz"), &weekly);
    let artists =
        "id\tname\turl\tpictureURL\n295\tBeyoncé\t\t\n1613\tJay-Z\t\t\n10\tNirvana\t\t\n20\tRed\t\t\n21\tRED\t\t\n";
    fs_err::write(lfm.join("artists.dat"), artists).unwrap();
    fs_err::write(lfm.join("tags.dat"), "tagID\ttagValue\n1\trnb\n").unwrap();
    fs_err::write(
        lfm.join("user_taggedartists.dat"),
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t295\t1\t1\t1\t2009\n",
    )
    .unwrap();
    fs_err::write(
        lfm.join("user_artists.dat"),
        "userID\tartistID\tweight\n2\t295\t500\n2\t1613\t300\n2\t10\t40\n2\t20\t10\n3\t21\t9\n",
    )
    .unwrap();

    let out = dir.path().join("out.jsonl");
    let mut sink = Sink::create(&out, false).unwrap();
    let res = super::super::convert_artists(&bb, &lfm, &mut sink).unwrap();
    sink.finish().unwrap();
    let lines: Vec<Value> = fs_err::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |id: &str| lines.iter().find(|v| v["id"] == id).cloned().unwrap_or(Value::Null);
    let beyonce: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "artist" && v.to_string().to_lowercase().contains("beyonc"))
        .collect();
    assert_eq!(beyonce.len(), 1, "{beyonce:?}");
    let b = beyonce[0];
    assert_eq!(b["id"], "lfm:artist:295");
    assert_eq!(b["aliases"], serde_json::json!(["Beyonce", "Beyonce Knowles"]));
    assert_eq!(
        b["alias_ids"],
        serde_json::json!(["bb:artist:beyonce", "bb:artist:beyonce-knowles"])
    );
    assert_eq!(b["tags"], serde_json::json!(["rnb"]));
    assert_eq!(b["extra"]["chart_tracks"], 2, "Billboard's extra kept");
    let tracks: Vec<&Value> = lines.iter().filter(|v| v["type"] == "track").collect();
    assert_eq!(tracks.len(), 5);
    for t in &tracks {
        for a in t["artist_ids"].as_array().unwrap() {
            assert!(get(a.as_str().unwrap()).is_object(), "{a} is written");
        }
    }
    let crazy = tracks.iter().find(|t| t["name"] == "Crazy In Love").unwrap();
    assert_eq!(
        crazy["artist_ids"],
        serde_json::json!(["lfm:artist:295", "lfm:artist:1613"])
    );
    assert_eq!(
        get("lfm:artist:10")["alias_ids"],
        serde_json::json!(["bb:artist:nirvana"])
    );
    // "Red": Last.fm has two, with no evidence which one Billboard means.
    for id in ["bb:artist:red", "lfm:artist:20", "lfm:artist:21"] {
        assert!(get(id)["alias_ids"].is_null(), "{id}");
    }
    assert_eq!((res.artists_before, res.artists_after), (10, 6));
}
