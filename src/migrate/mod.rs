//! Versioned migrations: apply (the embedded refinery migrations, run by
//! quota itself), status, rollback (this project's own, from the revert
//! scripts) and repair.
//!
//! Every migration, revert and repair transaction is one [`step`]: it sets
//! a short `lock_timeout`, takes the transaction-level migration lock
//! ([`lock`]) and reads the history under it, so it sees what a concurrent
//! quota process did and runs only what still needs to run. A step that
//! times out on a table lock is retried with backoff ([`busy`]), so a busy
//! `clips` table makes the migration wait and retry instead of making the
//! application's inserts queue behind it.
//!
//! | file | job |
//! |---|---|
//! | `status.rs` | where each version stands (`migrate status`) |
//! | `apply.rs`, `rollback.rs`, `repair.rs` | the three commands that change the database |
//! | `gate.rs` | the schema contract and a history this build can vouch for, checked first |
//! | `step.rs`, `lock.rs`, `busy.rs` | a locked step, the migration lock and lock policy, retries on a busy table |
//! | `history.rs`, `embedded.rs` | the history table and its rows in refinery's format, the runner and the revert scripts |
//! | `adoption.rs`, `limits.rs`, `advice.rs` | never adopting the application's objects, limits a rollback drops, the `--target` rule |
//! | `roles.rs` | the roles a "permission denied" hint names |
//! | `export.rs` | the versions as Supabase migration files (`migrate export --supabase`) |

pub mod adoption;
pub mod advice;
pub mod apply;
pub mod busy;
pub mod embedded;
pub mod export;
pub mod gate;
pub mod history;
pub mod limits;
pub mod lock;
pub mod outcome;
pub mod repair;
pub(crate) mod roles;
pub mod rollback;
pub mod status;
pub(crate) mod step;

pub use apply::{apply, ApplyOptions};
pub use lock::LockPolicy;
pub use outcome::{Outcome, Step};
pub use rollback::{rollback, RollbackOptions};
pub use status::{history, read_status, status, State, StatusReport};
