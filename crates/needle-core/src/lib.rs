//! Needle's domain core: entity types, the import contract and its validation, and
//! text normalization shared by indexing and querying. This crate does no IO.
#![warn(missing_docs)]

pub mod entity;
pub mod error;
pub mod event;
pub mod profile;
pub mod text;
pub mod validate;

pub use entity::{Entity, EntityType, Record};
pub use error::ValidationError;
pub use event::{Event, EventType};
