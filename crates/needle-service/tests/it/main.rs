//! Integration tests of the service facade: the write path (log, applier, stores),
//! durability across reopening, and personalization.

mod durability;
mod fixture;
mod log;
mod personal;
