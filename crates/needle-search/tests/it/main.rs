//! Integration tests of the search engine on a small fixture catalog.

mod durability;
mod fixture;
mod personal;
mod relevance;
