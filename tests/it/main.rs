//! Integration tests: every one runs against a real PostgreSQL (see common).

mod bench;
mod common;
mod enforcement;
mod migrate;
mod race;
mod sandbox;
