//! Integration tests: every one runs against a real PostgreSQL (see common).

mod bench;
mod ci;
mod common;
mod conditions;
mod enforcement;
mod faults;
mod hostile;
mod migrate;
// checks and debugging (issue 3)
mod checks;
mod debug;
mod race;
mod sandbox;
mod supabase;
