//! Integration tests of the service facade: the write path (log, applier, stores),
//! durability across reopening, personalization, and the state replicas share on a real
//! Redis Cluster.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod cluster;
mod durability;
mod fixture;
mod log;
mod personal;
mod shared;
