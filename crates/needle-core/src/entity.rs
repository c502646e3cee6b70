//! Catalog entities: the typed form of one line of the JSON Lines import format.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest accepted entity id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The kind of a catalog entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A performing artist or band.
    Artist,
    /// A release grouping tracks.
    Album,
    /// A song or recording.
    Track,
    /// A user or editorial list of tracks.
    Playlist,
    /// A podcast show.
    Show,
    /// One episode of a show.
    Episode,
    /// An audiobook.
    Audiobook,
    /// One chapter of an audiobook.
    Chapter,
}

impl EntityType {
    /// Every type, in the order search sections are listed.
    pub const ALL: [EntityType; 8] = [
        EntityType::Artist,
        EntityType::Track,
        EntityType::Album,
        EntityType::Playlist,
        EntityType::Show,
        EntityType::Episode,
        EntityType::Audiobook,
        EntityType::Chapter,
    ];

    /// The wire name (`"track"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Artist => "artist",
            EntityType::Album => "album",
            EntityType::Track => "track",
            EntityType::Playlist => "playlist",
            EntityType::Show => "show",
            EntityType::Episode => "episode",
            EntityType::Audiobook => "audiobook",
            EntityType::Chapter => "chapter",
        }
    }

    /// A small dense code, used as a fast-field value in the index.
    pub fn code(self) -> u64 {
        self as u64
    }

    /// Inverse of [`EntityType::code`].
    pub fn from_code(code: u64) -> Option<EntityType> {
        EntityType::ALL.iter().copied().find(|t| t.code() == code)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown type `{s}`; expected one of artist, album, track, playlist, show, episode, audiobook, chapter"
                )
            })
    }
}

/// One catalog entity as imported. Optional fields absent from the input stay `None`
/// and are not serialized back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// User-chosen unique id.
    pub id: String,
    /// The entity kind.
    #[serde(rename = "type")]
    pub kind: Option<EntityType>,
    /// Display name; never empty.
    pub name: String,
    /// Popularity prior, `>= 0`, any scale; higher is more popular.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popularity: Option<f64>,
    /// Free tags or genres: at most 50, each at most 200 characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Long text description, at most 10 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other names the entity is known by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Other ids this entity is known by, e.g. the ids other sources gave the same artist
    /// before the catalogs were merged. `GET /v1/catalog/{alias id}` answers with this
    /// entity (an id that is itself a live entity's id answers with that entity instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alias_ids: Vec<String>,
    /// Explicit content flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explicit: Option<bool>,
    /// ISO 3166-1 alpha-2 markets; absent means everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markets: Option<Vec<String>>,
    /// Opaque user data, returned as is and never searched; at most 16 KiB as compact JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
    /// Album and track: performing artists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artist_ids: Vec<String>,
    /// Track: its album.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album_id: Option<String>,
    /// Track, episode, chapter: duration in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Playlist: owner name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Playlist: its tracks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_ids: Vec<String>,
    /// Show: publisher.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Episode: its show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_id: Option<String>,
    /// Episode: full transcript text (searched, never returned in hits), at most 2 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Audiobook: authors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// Audiobook: narrators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narrators: Vec<String>,
    /// Chapter: its audiobook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audiobook_id: Option<String>,
}

impl Entity {
    /// The entity type; validated entities always have one.
    pub fn entity_type(&self) -> EntityType {
        self.kind.unwrap_or(EntityType::Track)
    }

    /// Ids of other entities whose names this entity displays and is searched by.
    pub fn references(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.artist_ids.iter().map(String::as_str).collect();
        out.extend(self.album_id.as_deref());
        out.extend(self.show_id.as_deref());
        out.extend(self.audiobook_id.as_deref());
        out
    }

    /// Release year, when a release date is set.
    pub fn release_year(&self) -> Option<i64> {
        self.release_date.as_deref().and_then(|d| d.get(..4)?.parse().ok())
    }
}

/// One validated line of an import: an upsert or a delete. Serialized (for the write
/// log) as `{"upsert": {entity}}` or `{"delete": "id"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// Insert or replace the entity with this id (last write wins).
    Upsert(Box<Entity>),
    /// Remove the entity with this id.
    Delete(String),
}

impl Record {
    /// The id the record is about.
    pub fn id(&self) -> &str {
        match self {
            Record::Upsert(e) => &e.id,
            Record::Delete(id) => id,
        }
    }
}
