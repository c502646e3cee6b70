//! Integration tests of the service facade: the write path (log, applier, stores),
//! durability across reopening, personalization, the state replicas share on a real Redis
//! Cluster, and snapshots and models in a bucket of a real S3-compatible server.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod clicks;
mod cluster;
mod curation;
mod durability;
mod fixture;
mod log;
mod personal;
mod recs;
mod s3;
mod semantic;
mod shared;
mod tokens;
