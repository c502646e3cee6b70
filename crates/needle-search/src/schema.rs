//! The index schema and how an entity becomes a document.

use crate::analysis::{DISTINCT_WORDS, FIRST_PREFIXES, PREFIXES, WORDS};
use needle_core::text::{fold, name_keys, words};
use needle_core::Entity;
use needle_store::ResolvedNames;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::TantivyDocument;

/// A searchable text field and its weight in ranking.
#[derive(Debug, Clone, Copy)]
pub struct Weighted {
    /// The tantivy field.
    pub field: Field,
    /// Its weight (name = 1.0).
    pub weight: f32,
}

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Entity id (raw, fast, stored).
    pub id: Field,
    /// Entity type code.
    pub kind: Field,
    /// Name words.
    pub name: Field,
    /// Name prefixes.
    pub name_pre: Field,
    /// Prefixes of the first word of the name.
    pub name_start: Field,
    /// Alias words.
    pub aliases: Field,
    /// Alias prefixes.
    pub aliases_pre: Field,
    /// Names of related entities: artists, show, audiobook, authors, narrators, publisher, owner.
    pub related: Field,
    /// Prefixes of related names.
    pub related_pre: Field,
    /// Every word of name, aliases and related names: the dictionary typo expansion scans
    /// (one scan per segment instead of one per field).
    pub lexicon: Field,
    /// Album name (tracks).
    pub album: Field,
    /// Tags.
    pub tags: Field,
    /// Description.
    pub description: Field,
    /// Transcript.
    pub transcript: Field,
    /// Popularity (fast).
    pub popularity: Field,
    /// Exact-match keys of the name and aliases (indexed, multi-valued).
    pub keys: Field,
    /// Keys of names without their leading article (`beatles` for `The Beatles`).
    pub alt_keys: Field,
    /// Folded language code (raw, fast: the `language` facet).
    pub language: Field,
    /// Folded tags (raw, for filters; fast: the `tags` facet).
    pub tag: Field,
    /// Explicit flag as 0/1.
    pub explicit: Field,
    /// Release year.
    pub year: Field,
    /// Markets (raw), `*` when available everywhere.
    pub market: Field,
    /// Release date as `YYYYMMDD` (fast, for `sort=release_date`; absent without a date).
    pub release: Field,
    /// The name folded (case and diacritics ignored), fast only: `sort=name`.
    pub name_sort: Field,
}

impl Fields {
    /// Text fields matched by whole words, with their weights, best first.
    pub fn word_fields(&self) -> [Weighted; 7] {
        [
            Weighted {
                field: self.name,
                weight: 1.0,
            },
            Weighted {
                field: self.aliases,
                weight: 0.9,
            },
            Weighted {
                field: self.related,
                weight: 0.7,
            },
            Weighted {
                field: self.album,
                weight: 0.5,
            },
            Weighted {
                field: self.tags,
                weight: 0.45,
            },
            Weighted {
                field: self.description,
                weight: 0.3,
            },
            Weighted {
                field: self.transcript,
                weight: 0.2,
            },
        ]
    }

    /// Fields matched by typo-tolerant words (the known-item fields).
    pub fn typo_fields(&self) -> [Weighted; 3] {
        let w = self.word_fields();
        [w[0], w[1], w[2]]
    }

    /// Prefix fields, with the weight of their word field.
    pub fn prefix_fields(&self) -> [Weighted; 3] {
        [
            Weighted {
                field: self.name_pre,
                weight: 1.0,
            },
            Weighted {
                field: self.aliases_pre,
                weight: 0.9,
            },
            Weighted {
                field: self.related_pre,
                weight: 0.7,
            },
        ]
    }
}

/// Build the schema.
pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Postings record documents only, and every query scores with a constant, so norms are
    // kept for `name` alone (its word count is the `name_len` ranking column).
    let text = |tok: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tok)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
    };
    let normed = |tok: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tok)
                .set_index_option(IndexRecordOption::Basic),
        )
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED | FAST),
        kind: b.add_u64_field("kind", INDEXED | FAST),
        name: b.add_text_field("name", normed(WORDS)),
        name_pre: b.add_text_field("name_pre", text(PREFIXES)),
        name_start: b.add_text_field("name_start", text(FIRST_PREFIXES)),
        aliases: b.add_text_field("aliases", text(WORDS)),
        aliases_pre: b.add_text_field("aliases_pre", text(PREFIXES)),
        related: b.add_text_field("related", text(WORDS)),
        related_pre: b.add_text_field("related_pre", text(PREFIXES)),
        lexicon: b.add_text_field("lexicon", text(WORDS)),
        album: b.add_text_field("album", text(WORDS)),
        tags: b.add_text_field("tags", text(WORDS)),
        description: b.add_text_field("description", text(DISTINCT_WORDS)),
        transcript: b.add_text_field("transcript", text(DISTINCT_WORDS)),
        popularity: b.add_f64_field("popularity", FAST),
        keys: b.add_u64_field("keys", NumericOptions::default().set_indexed()),
        alt_keys: b.add_u64_field("alt_keys", NumericOptions::default().set_indexed()),
        language: b.add_text_field("language", STRING | FAST),
        tag: b.add_text_field("tag", STRING | FAST),
        explicit: b.add_u64_field("explicit", INDEXED | FAST),
        year: b.add_i64_field("year", INDEXED | FAST),
        market: b.add_text_field("market", STRING),
        release: b.add_u64_field("release", FAST),
        name_sort: b.add_text_field("name_sort", TextOptions::default().set_fast("raw")),
    };
    (b.build(), fields)
}

/// Longest name sort key, bytes: names sharing their first 128 bytes (folded) tie, and
/// the sort's dictionary stays small.
pub const NAME_SORT_BYTES: usize = 128;

/// The key `sort=name` orders by: the name folded (lower case, no diacritics, the special
/// letters spelled out), trimmed, at most [`NAME_SORT_BYTES`].
pub fn name_sort_key(name: &str) -> String {
    let mut k = fold(name).trim().to_string();
    if k.len() > NAME_SORT_BYTES {
        let mut end = NAME_SORT_BYTES;
        while !k.is_char_boundary(end) {
            end -= 1;
        }
        k.truncate(end);
    }
    k
}

/// Names of related entities as one searchable text per name.
pub fn related_names(e: &Entity, names: &ResolvedNames) -> Vec<String> {
    let mut out: Vec<String> = names.artists.clone();
    out.extend(names.show.iter().cloned());
    out.extend(names.audiobook.iter().cloned());
    out.extend(e.authors.iter().cloned());
    out.extend(e.narrators.iter().cloned());
    out.extend(e.publisher.iter().cloned());
    out.extend(e.owner.iter().cloned());
    out
}

/// What an entity's document derives from the entity's own texts (exact-match keys, folded
/// tags). Computed where the record is validated — request threads, the import's reader —
/// so the single writer thread only stores and assembles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    keys: Vec<u64>,
    alt_keys: Vec<u64>,
    tags: Vec<String>,
}

impl Analysis {
    /// Analyse `e`.
    pub fn of(e: &Entity) -> Analysis {
        let mut keys = Vec::new();
        let mut alt = Vec::new();
        for n in std::iter::once(&e.name).chain(e.aliases.iter()) {
            let k = name_keys(n);
            keys.push(k[0]);
            alt.extend(k.into_iter().skip(1));
        }
        keys.sort_unstable();
        keys.dedup();
        alt.sort_unstable();
        alt.dedup();
        alt.retain(|k| keys.binary_search(k).is_err());
        Analysis {
            keys,
            alt_keys: alt,
            tags: e.tags.iter().map(|t| words(t).join(" ")).collect(),
        }
    }
}

/// Turn an entity and the names it refers to into an index document.
/// `analysis` must be [`Analysis::of`] this entity.
pub fn build_document(f: &Fields, e: &Entity, names: &ResolvedNames, analysis: &Analysis) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.id, &e.id);
    d.add_u64(f.kind, e.entity_type().code());
    d.add_text(f.name, &e.name);
    d.add_text(f.name_pre, &e.name);
    d.add_text(f.name_start, &e.name);
    d.add_text(f.lexicon, &e.name);
    for a in &e.aliases {
        d.add_text(f.aliases, a);
        d.add_text(f.aliases_pre, a);
        d.add_text(f.lexicon, a);
    }
    for r in related_names(e, names) {
        d.add_text(f.related, &r);
        d.add_text(f.related_pre, &r);
        d.add_text(f.lexicon, &r);
    }
    if let Some(a) = &names.album {
        d.add_text(f.album, a);
    }
    for (t, folded) in e.tags.iter().zip(&analysis.tags) {
        d.add_text(f.tags, t);
        d.add_text(f.tag, folded);
    }
    if let Some(x) = &e.description {
        d.add_text(f.description, x);
    }
    if let Some(x) = &e.transcript {
        d.add_text(f.transcript, x);
    }
    d.add_f64(f.popularity, e.popularity.unwrap_or(0.0));
    for &k in &analysis.keys {
        d.add_u64(f.keys, k);
    }
    for &k in &analysis.alt_keys {
        d.add_u64(f.alt_keys, k);
    }
    if let Some(l) = &e.language {
        d.add_text(f.language, fold(l));
    }
    d.add_u64(f.explicit, u64::from(e.explicit.unwrap_or(false)));
    if let Some(y) = e.release_year() {
        d.add_i64(f.year, y);
    }
    if let Some(k) = e.release_date.as_deref().and_then(crate::sort::date_key) {
        d.add_u64(f.release, k);
    }
    d.add_text(f.name_sort, name_sort_key(&e.name));
    match &e.markets {
        Some(ms) => ms.iter().for_each(|m| d.add_text(f.market, m.to_ascii_uppercase())),
        None => d.add_text(f.market, "*"),
    }
    d
}
