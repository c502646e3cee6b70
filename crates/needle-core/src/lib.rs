//! Needle's domain core: entity types, the import contract and its validation, text
//! normalization shared by indexing and querying, and the injectable clock ([`time`]).
//! This crate does no IO (beyond reading the system clock).
#![warn(missing_docs)]

pub mod curation;
pub mod entity;
pub mod error;
pub mod event;
pub mod mem;
pub mod profile;
pub mod search_event;
pub mod text;
pub mod time;
pub mod validate;

pub use entity::{Entity, EntityType, Record};
pub use error::ValidationError;
pub use event::{Event, EventType};
