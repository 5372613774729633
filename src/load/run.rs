//! The skeleton of a load run: the subject is prepared by the caller, the
//! load fires on its own connections, and what it left in the database is
//! removed whatever happened (an error, a Ctrl-C), on the control
//! connection or, if that broke during the load, on a fresh one.

use std::future::Future;

use anyhow::{Context, Result};

use crate::db::{self, Session};
use crate::error;
use crate::interrupt::Interrupt;

/// What a load leaves in the database, and how to remove it. The load
/// records here what it creates, as it creates it, so that a load that
/// fails half-way is cleaned up as far as it got.
pub(crate) trait Cleanup {
    /// What the clean-up reports (what a race took back from a real user).
    type Done;

    /// Removes what the load left, over `db`. Called again on a fresh
    /// connection when it failed, so it must be idempotent: it records what
    /// it has sent (`&mut self`) and never undoes anything twice.
    async fn clean_up(&mut self, db: &mut Session) -> Result<Self::Done>;

    /// What a Ctrl-C's "interrupted" error says was cleaned up.
    fn cleaned(&self) -> &'static str;

    /// The error when the clean-up failed on a fresh connection too: what
    /// remains, and how to remove it by hand.
    fn explain_failure(&self, e: anyhow::Error) -> anyhow::Error {
        e
    }

    /// The SQL statements that remove by hand what remains, for a clean-up
    /// a further Ctrl-C abandoned.
    fn by_hand(&self) -> String;
}

/// What a load measured, and the error that stopped it early, if one did:
/// that error is returned only once what the load did is cleaned up.
pub(crate) struct Loaded<T> {
    pub(crate) value: T,
    pub(crate) stopped_by: Option<anyhow::Error>,
}

impl<T> Loaded<T> {
    pub(crate) fn complete(value: T) -> Self {
        Loaded {
            value,
            stopped_by: None,
        }
    }
}

/// Runs `load`, then always cleans up what it recorded in `left`. A failed
/// clean-up is the error that matters most (it says what remains); then
/// the load's own error; then a Ctrl-C, as "interrupted" once cleaned up.
pub(crate) async fn run_then_clean_up<T, C: Cleanup>(
    database: &db::Database,
    control: &mut Session,
    interrupt: &Interrupt,
    left: &mut C,
    load: impl AsyncFnOnce(&mut Session, &mut C) -> Result<Loaded<T>>,
) -> Result<(T, C::Done)> {
    let loaded = load(control, left).await;
    let signals = interrupt.count();
    let cleaned = tokio::select! {
        done = clean_up(database, control, left) => Some(done),
        () = interrupt.during(signals) => None,
    };
    // A further Ctrl-C abandoned the clean-up (its statement in flight is
    // rolled back with the connection): say what remains, and exit now.
    let Some(done) = cleaned else {
        return Err(error::load::clean_up_abandoned(&left.by_hand()));
    };
    let done = done.map_err(|e| left.explain_failure(e))?;
    let Loaded { value, stopped_by } = loaded?;
    if let Some(e) = stopped_by {
        return Err(e);
    }
    interrupt.check(left.cleaned())?;
    Ok((value, done))
}

/// Cleans up on the control connection, or on a fresh one if the control
/// connection broke during the load.
async fn clean_up<C: Cleanup>(
    database: &db::Database,
    control: &mut Session,
    left: &mut C,
) -> Result<C::Done> {
    if let Ok(done) = left.clean_up(control).await {
        return Ok(done);
    }
    // The old connection is closed, not kept: if it still reaches the
    // server, its open transaction ends there and releases its locks.
    let fresh = database.connect().await?;
    drop(std::mem::replace(control, fresh));
    left.clean_up(control).await
}

/// Opens `n` connections at once, before any load, so the first operation
/// is no slower than the last.
pub(crate) async fn connect_all(database: &db::Database, n: usize) -> Result<Vec<Session>> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..n {
        let database = database.clone();
        opening.spawn(async move { database.connect().await });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(joined) = opening.join_next().await {
        conns.push(joined.context("a connection task failed")??);
    }
    Ok(conns)
}

/// Runs `task` on every client at once (a connection, with what it sends),
/// one tokio task each (`i` is the client's place), and returns each task's
/// answer in that order; `Err` for a task that panicked.
pub(crate) async fn spawn_each<C, T, F>(
    clients: Vec<C>,
    mut task: impl FnMut(usize, C) -> F,
) -> Vec<Result<T, tokio::task::JoinError>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| tokio::spawn(task(i, client)))
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await);
    }
    answers
}
