//! Integration tests of the HTTP API, run in-process against a real engine with
//! `tower::ServiceExt::oneshot` (no sockets, except `serve`).
//!
//! Tests inside a `needs_engine` module exercise the engine end to end (writes, reads,
//! search); the others cover what the server does on its own. Run only the latter with
//! `cargo test -p needle-server -- --skip needs_engine`.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod analytics;
mod auth;
mod catalog;
mod common;
mod config;
mod curation;
mod errors;
mod events;
mod health;
mod limits;
mod metrics;
mod openapi;
mod quality;
mod recs;
mod rotation;
mod search;
mod serve;
mod shared;
mod users;
