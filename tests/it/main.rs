//! Integration tests: every one runs against a real PostgreSQL (see common).

mod common;
mod enforcement;
mod migrate;
mod race;
mod sandbox;
