//! The configuration: one struct, layered (defaults < file < `NEEDLE_*` env < flags), defined
//! in [`needle_service::config`] so every door (this server, the CLI) reads the same one.

pub use needle_service::config::*;
