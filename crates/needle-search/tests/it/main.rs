//! Integration tests of the search engine on a small fixture catalog.

mod fixture;
mod relevance;
