// The tests talk to the server directly (the fixtures' own connections,
// never through a pooler), so sqlx's statement cache is fine here.
#![allow(clippy::disallowed_methods)]

//! Integration tests: every one runs against a real PostgreSQL (see common).

mod bench;
mod bench_sent;
mod bulk;
mod ci;
mod cluster;
mod common;
mod conditions;
mod enforcement;
mod export;
mod faults;
mod fleet;
mod halfway;
mod help;
mod hostile;
mod hostile_clips;
mod hostile_round2;
mod init;
mod metrics;
mod migrate;
mod ops;
mod ops_fixes;
// checks and debugging
mod ahead;
mod checks;
mod clip_disclosure;
mod debug;
mod install_state;
mod periods;
mod pipes;
mod pooler;
mod prerequisites;
mod race;
mod real_conditions;
mod required_columns;
mod sandbox;
mod signup;
mod supabase;
mod workflows;
// acl: day one on stock Supabase, table locks, what quota treats as intended
mod acl;
mod intended;
mod mapped;
mod mapped_more;
mod mapped_ops;
mod trial_errors;
// bench --meter on mapped meters
mod bench_meter;
