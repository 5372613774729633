// The tests talk to the server directly (the fixtures' own connections,
// never through a pooler), so sqlx's statement cache is fine here.
#![allow(clippy::disallowed_methods)]

//! Integration tests: every one runs against a real PostgreSQL (see common).

mod bench;
mod ci;
mod cluster;
mod common;
mod conditions;
mod enforcement;
mod faults;
mod halfway;
mod hostile;
mod migrate;
// checks and debugging
mod checks;
mod debug;
mod pooler;
mod race;
mod real_conditions;
mod sandbox;
mod supabase;
