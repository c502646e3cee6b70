//! How the catalog store keeps entity records and transcripts small on disk.
//!
//! An entity record is a JSON object of about 200 bytes, mostly field names and the same
//! few phrases: zstd alone barely shrinks one (0.85 of its size), zstd with a dictionary
//! trained on the store's own records takes it to about 0.35 (BENCHMARKS §9.2). So the
//! store trains dictionaries on what it holds and keeps them in its `dictionaries` table,
//! keyed by the id zstd writes into every frame made with one:
//!
//! - A stored record is either plain JSON (it starts with `{`: written before any
//!   dictionary, or when compressing did not make it smaller) or [`TAG_ZSTD_DICT`]
//!   followed by a zstd frame made with one of the store's dictionaries.
//! - The first dictionary is trained once the store holds [`FIRST_TRAINING`] records, a
//!   new one whenever it has doubled since the last, up to [`LAST_TRAINING`]: a catalog
//!   loaded one kind after another (artists, then tracks, then episodes) gets
//!   dictionaries that know each. Records keep the dictionary they were written with;
//!   dictionaries are never removed (about 16 KiB each, at most a dozen).
//! - Which dictionary new records use is read in the writing transaction (`meta`
//!   `dict`), never from memory, so a rolled-back training can not leave records that
//!   name a dictionary the file does not have.
//!
//! Transcripts (tens of kilobytes of prose each) are zstd frames without a dictionary.
//! What replicas compare ([`crate::CatalogSnapshot::digest`]) is taken over decoded
//! records, so two stores that trained at different moments still agree.

use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

/// The first byte of a record stored as a zstd frame made with a dictionary.
pub(crate) const TAG_ZSTD_DICT: u8 = 0x01;
/// Records held when the first dictionary is trained.
pub(crate) const FIRST_TRAINING: u64 = 4_096;
/// No dictionary is trained once the store has held this many records at a training.
pub(crate) const LAST_TRAINING: u64 = 1 << 21;
/// Records sampled (evenly over the key space) to train a dictionary.
pub(crate) const TRAINING_SAMPLES: usize = 16_384;
/// The size of a trained dictionary.
pub(crate) const DICT_BYTES: usize = 16 << 10;
/// zstd level for records and transcripts (level 9 gained 0.02 on transcripts, §9.2).
const LEVEL: i32 = 3;
/// No stored record or transcript decodes to more than this (a corrupt frame header
/// must not make the reader allocate what it says).
const MAX_DECODED: u64 = 256 << 20;

thread_local! {
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// One dictionary, prepared for both directions.
struct Dict {
    enc: CDict<'static>,
    dec: DDict<'static>,
}

/// The dictionaries of one store met so far, by id (a cache of its `dictionaries` table).
#[derive(Default)]
pub(crate) struct Codec {
    dicts: RwLock<HashMap<u32, Arc<Dict>>>,
}

/// A failed zstd call, as the store's error.
fn zstd_error(id: &str, code: usize) -> Error {
    Error::Corrupt {
        id: id.to_string(),
        message: format!("zstd: {}", zstd_safe::get_error_name(code)),
    }
}

impl Codec {
    /// The dictionary `dict_id`, from the cache or else from `load` (its bytes in the
    /// caller's transaction); `None` when neither has it.
    fn dict(&self, dict_id: u32, load: &dyn Fn(u32) -> Result<Option<Vec<u8>>>) -> Result<Option<Arc<Dict>>> {
        if let Some(d) = self.dicts.read().get(&dict_id) {
            return Ok(Some(Arc::clone(d)));
        }
        let Some(bytes) = load(dict_id)? else {
            return Ok(None);
        };
        // A damaged dictionary in the file is a corrupt store, not a panic.
        let (Some(enc), Some(dec)) = (CDict::try_create(&bytes, LEVEL), DDict::try_create(&bytes)) else {
            return Err(Error::Corrupt {
                id: format!("dictionary {dict_id}"),
                message: "zstd could not load it".into(),
            });
        };
        let d = Arc::new(Dict { enc, dec });
        self.dicts.write().insert(dict_id, Arc::clone(&d));
        Ok(Some(d))
    }

    /// What to store for the plain JSON `json` of record `id`: compressed with dictionary
    /// `dict_id` when there is one and that is smaller, else `json` itself.
    pub fn encode<'a>(
        &self,
        id: &str,
        json: &'a [u8],
        dict_id: Option<u32>,
        load: &dyn Fn(u32) -> Result<Option<Vec<u8>>>,
    ) -> Result<Cow<'a, [u8]>> {
        let Some(dict_id) = dict_id else {
            return Ok(Cow::Borrowed(json));
        };
        let Some(dict) = self.dict(dict_id, load)? else {
            return Err(Error::Storage(format!(
                "the catalog store names dictionary {dict_id} for new records but does not hold it"
            )));
        };
        let mut out = Vec::with_capacity(1 + zstd_safe::compress_bound(json.len()));
        CCTX.with(|c| {
            c.borrow_mut()
                .compress_using_cdict(&mut out, json, &dict.enc)
                .map_err(|code| zstd_error(id, code))
        })?;
        if out.len() + 1 >= json.len() {
            return Ok(Cow::Borrowed(json));
        }
        out.insert(0, TAG_ZSTD_DICT);
        Ok(Cow::Owned(out))
    }

    /// The plain JSON of the stored record `id`.
    pub fn decode<'a>(
        &self,
        id: &str,
        stored: &'a [u8],
        load: &dyn Fn(u32) -> Result<Option<Vec<u8>>>,
    ) -> Result<Cow<'a, [u8]>> {
        match stored.split_first() {
            Some((&TAG_ZSTD_DICT, frame)) => {
                let corrupt = |message: String| Error::Corrupt {
                    id: id.to_string(),
                    message,
                };
                let dict_id = zstd_safe::get_dict_id_from_frame(frame)
                    .ok_or_else(|| corrupt("a compressed record whose frame names no dictionary".into()))?
                    .get();
                let dict = self.dict(dict_id, load)?.ok_or_else(|| {
                    corrupt(format!(
                        "compressed with dictionary {dict_id}, which the store does not hold"
                    ))
                })?;
                let mut out = Vec::with_capacity(decoded_size(id, frame)?);
                DCTX.with(|d| {
                    d.borrow_mut()
                        .decompress_using_ddict(&mut out, frame, &dict.dec)
                        .map_err(|code| zstd_error(id, code))
                })?;
                Ok(Cow::Owned(out))
            }
            _ => Ok(Cow::Borrowed(stored)),
        }
    }
}

/// The decoded size a frame announces, bounded.
fn decoded_size(id: &str, frame: &[u8]) -> Result<usize> {
    match zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_DECODED => Ok(n as usize),
        other => Err(Error::Corrupt {
            id: id.to_string(),
            message: format!("a compressed value announcing a size of {other:?}"),
        }),
    }
}

/// A dictionary of at most [`DICT_BYTES`] trained on `samples`, with the id its frames
/// will carry; `None` when zstd could not train one (too few or too small samples).
pub(crate) fn train(samples: &[Vec<u8>]) -> Option<(u32, Vec<u8>)> {
    match zstd::dict::from_samples(samples, DICT_BYTES) {
        Ok(dict) => zstd_safe::get_dict_id(&dict).map(|id| (id.get(), dict)),
        Err(e) => {
            tracing::warn!(samples = samples.len(), error = %e, "could not train a dictionary for the catalog store; records stay uncompressed for now");
            None
        }
    }
}

/// A transcript as stored: a zstd frame.
pub(crate) fn compress_text(id: &str, text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(text.len()));
    CCTX.with(|c| {
        c.borrow_mut()
            .compress(&mut out, text.as_bytes(), LEVEL)
            .map_err(|code| zstd_error(id, code))
    })?;
    Ok(out)
}

/// A stored transcript, decoded.
pub(crate) fn decompress_text(id: &str, frame: &[u8]) -> Result<String> {
    let mut out = Vec::with_capacity(decoded_size(id, frame)?);
    DCTX.with(|d| {
        d.borrow_mut()
            .decompress(&mut out, frame)
            .map_err(|code| zstd_error(id, code))
    })?;
    String::from_utf8(out).map_err(|e| Error::Corrupt {
        id: id.to_string(),
        message: format!("a transcript that is not UTF-8: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> Vec<u8> {
        format!(
            r#"{{"id":"tr:{i}","type":"track","name":"Song number {i}","artist_ids":["ar:{}"],"tags":["rock","pop"],"popularity":{}}}"#,
            i % 97,
            i % 100
        )
        .into_bytes()
    }

    #[test]
    fn records_round_trip_with_a_trained_dictionary_and_shrink() {
        let samples: Vec<Vec<u8>> = (0..2_000).map(record).collect();
        let (id, dict) = train(&samples).expect("enough samples to train");
        let load = |want: u32| Ok((want == id).then(|| dict.clone()));
        let codec = Codec::default();
        let (mut plain, mut stored) = (0, 0);
        for i in 5_000..5_100 {
            let json = record(i);
            let enc = codec.encode("x", &json, Some(id), &load).unwrap();
            assert_eq!(enc[0], TAG_ZSTD_DICT);
            (plain, stored) = (plain + json.len(), stored + enc.len());
            assert_eq!(codec.decode("x", &enc, &load).unwrap().as_ref(), json.as_slice());
        }
        assert!(stored * 2 < plain, "{stored} of {plain} bytes");
        // Without a dictionary, and for values stored before any: plain JSON, as it is.
        let json = record(1);
        assert!(matches!(
            codec.encode("x", &json, None, &load).unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(matches!(codec.decode("x", &json, &load).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_frame_of_an_unknown_dictionary_or_garbage_is_a_corrupt_record_not_a_panic() {
        let samples: Vec<Vec<u8>> = (0..2_000).map(record).collect();
        let (id, dict) = train(&samples).unwrap();
        let with = |want: u32| Ok((want == id).then(|| dict.clone()));
        let enc = Codec::default()
            .encode("x", &record(7), Some(id), &with)
            .unwrap()
            .into_owned();
        let none = |_: u32| Ok(None);
        let err = Codec::default().decode("tr:7", &enc, &none).unwrap_err();
        assert!(matches!(err, Error::Corrupt { ref id, .. } if id == "tr:7"), "{err}");
        for bad in [vec![TAG_ZSTD_DICT], vec![TAG_ZSTD_DICT, 1, 2, 3], {
            let mut cut = enc.clone();
            cut.truncate(enc.len() / 2);
            cut
        }] {
            assert!(Codec::default().decode("x", &bad, &with).is_err());
        }
        // Naming a dictionary for new records that the store lacks is refused.
        assert!(Codec::default().encode("x", &record(1), Some(id), &none).is_err());
        // A damaged dictionary (its magic number, then garbage) is an error both ways.
        let damaged = |_: u32| Ok(Some([0x37, 0xA4, 0x30, 0xEC, 1, 0, 0, 0, 9, 9, 9].to_vec()));
        let err = Codec::default().decode("tr:7", &enc, &damaged).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt { ref id, .. } if id.starts_with("dictionary")),
            "{err}"
        );
        assert!(Codec::default().encode("x", &record(1), Some(id), &damaged).is_err());
    }

    #[test]
    fn transcripts_round_trip() {
        let text = "so today we talk about rust and search engines. ".repeat(200) + "é✓";
        let z = compress_text("ep:1", &text).unwrap();
        assert!(z.len() * 4 < text.len());
        assert_eq!(decompress_text("ep:1", &z).unwrap(), text);
        assert!(decompress_text("ep:1", &z[..z.len() / 2]).is_err());
        assert!(decompress_text("ep:1", b"not zstd").is_err());
    }
}
