//! Changelog transcripts (`transcripts.jsonl.gz`: show, file, episode_slug, url_guess,
//! speakers, num_turns, text) to shows and episodes.
//!
//! * One show per distinct `show` value, `cl:show:<show>`, named by [`show_title`],
//!   publisher "Changelog Media", language `en`. Shows are written first.
//! * One episode per transcript, `cl:ep:<show>:<slug>`. The transcripts carry no
//!   titles or headings, so the name is "<Show> #<n>" for numbered episodes ("The
//!   Changelog #512") and "<Show>: <Slug In Title Case>" otherwise ("JS Party: Meet
//!   Alex Sexton"). `transcript` is the markdown flattened to plain text by
//!   [`clean_transcript`](super::transcript::clean_transcript).
//!   `extra` has `speakers` (without the "Break", "Jingle", ... pseudo-speakers),
//!   `num_turns`, `file` and `url` (guessed from the slug, unverified).

use super::sink::{Entity, Sink};
use super::text::{clean_name, Lines};
use super::transcript::clean_transcript;
use anyhow::Result;
use serde::Deserialize;
use std::path::Path;

const PUBLISHER: &str = "Changelog Media";

/// Speaker labels that are not people (compared case-insensitively; labels starting
/// with "clip" are sound clips too).
const NOT_SPEAKERS: &[&str] = &[
    "break",
    "jingle",
    "outro",
    "intro",
    "sponsor",
    "ad",
    "music",
    "audience member",
    "old changelog intro",
    "the sound",
];

#[derive(Deserialize)]
struct Transcript {
    #[serde(default)]
    show: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    episode_slug: String,
    #[serde(default)]
    url_guess: Option<String>,
    #[serde(default)]
    speakers: Vec<String>,
    #[serde(default)]
    num_turns: Option<u64>,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct ShowOnly {
    #[serde(default)]
    show: String,
}

/// The display title of a Changelog show slug; unknown slugs are title-cased.
pub(crate) fn show_title(show: &str) -> String {
    match show {
        "podcast" => "The Changelog",
        "jsparty" => "JS Party",
        "gotime" => "Go Time",
        "practicalai" => "Practical AI",
        "news" => "Changelog News",
        "shipit" => "Ship It!",
        "friends" => "Changelog & Friends",
        "founderstalk" => "Founders Talk",
        "brainscience" => "Brain Science",
        "backstage" => "Backstage",
        "rfc" => "Request For Commits",
        "spotlight" => "Spotlight",
        "afk" => "Away From Keyboard",
        other => return title_case(other),
    }
    .to_string()
}

/// Convert the dataset folder `dir` into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let path = dir.join("transcripts.jsonl.gz");
    // Pass 1: the shows, in order of first appearance.
    let mut shows: Vec<String> = Vec::new();
    let mut lines = Lines::open(&path)?;
    while let Some(line) = lines.next_line()? {
        if let Ok(s) = serde_json::from_slice::<ShowOnly>(line) {
            let show = s.show.trim().to_string();
            if !show.is_empty() && !shows.contains(&show) {
                shows.push(show);
            }
        }
    }
    let mut written = Vec::new();
    for show in shows {
        let mut e = Entity::new("show", format!("cl:show:{show}"), show_title(&show));
        e.publisher = Some(PUBLISHER.to_string());
        e.language = Some("en".to_string());
        e.extra("url", format!("https://changelog.com/{show}"));
        if sink.write(e)? {
            written.push(show);
        }
    }
    // Pass 2: episodes.
    let mut lines = Lines::open(&path)?;
    while let Some(line) = lines.next_line()? {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(t) = serde_json::from_slice::<Transcript>(line) else {
            sink.skip();
            continue;
        };
        let show = t.show.trim();
        let slug = t.episode_slug.trim();
        if slug.is_empty() || !written.iter().any(|s| s == show) {
            sink.skip();
            continue;
        }
        let mut e = Entity::new("episode", format!("cl:ep:{show}:{slug}"), episode_name(show, slug));
        e.show_id = Some(format!("cl:show:{show}"));
        e.language = Some("en".to_string());
        e.transcript = Some(clean_transcript(&t.text));
        let speakers: Vec<String> = t
            .speakers
            .iter()
            .map(|s| clean_name(s))
            .filter(|s| is_person(s))
            .collect();
        e.extra("speakers", speakers);
        e.extra("num_turns", t.num_turns);
        e.extra("file", Some(t.file).filter(|f| !f.is_empty()));
        e.extra("url", t.url_guess.filter(|u| !u.is_empty()));
        sink.write(e)?;
    }
    Ok(())
}

/// Whether a speaker label names a person rather than a break, jingle or clip.
fn is_person(label: &str) -> bool {
    let l = label.to_lowercase();
    !l.is_empty() && !l.starts_with("clip") && !NOT_SPEAKERS.contains(&l.as_str())
}

/// "The Changelog #512", or "Go Time: Funny Bits 2021" for unnumbered slugs.
fn episode_name(show: &str, slug: &str) -> String {
    let title = show_title(show);
    if slug.bytes().all(|b| b.is_ascii_digit()) {
        format!("{title} #{slug}")
    } else {
        format!("{title}: {}", title_case(slug))
    }
}

fn title_case(slug: &str) -> String {
    slug.split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(episode_name("podcast", "512"), "The Changelog #512");
        assert_eq!(
            episode_name("jsparty", "meet-alex-sexton"),
            "JS Party: Meet Alex Sexton"
        );
        assert_eq!(show_title("newshow"), "Newshow");
        assert!(is_person("Jerod Santo") && !is_person("Break") && !is_person("Audience Member"));
        assert!(!is_person("Clip from JS Party #256") && !is_person(""));
    }
}
