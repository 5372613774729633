//! Ctrl-C (SIGINT) and SIGTERM as a flag that long work polls.
//!
//! `race`, `bench` and `sandbox` change the database or own a server; being
//! killed half-way would leave scratch rows, a user's counters or a cluster
//! behind. Installing this replaces the default "die now" with "finish the
//! statement in flight, clean up, then exit" (exit code 130). A further
//! Ctrl-C while that clean-up is blocked (an application session holding a
//! row it needs) abandons it at once: see [`Interrupt::during`].

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::error;

/// Set once the user asked to stop; cheap to clone and poll. Counts the
/// signals, so a later one can abandon a clean-up the first one started.
#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<u32>,
}

impl Interrupt {
    /// Starts listening now (registration is synchronous, so a Ctrl-C right
    /// after this call is caught, not fatal). Needs a tokio runtime.
    pub fn install() -> Result<Self> {
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let (tx, rx) = watch::channel(0u32);
        tokio::spawn(async move {
            // Keep the handlers registered until the process exits: every
            // signal is counted, none kills the process half-way.
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                tx.send_modify(|n| *n = n.saturating_add(1));
            }
        });
        Ok(Interrupt { rx })
    }

    pub fn is_set(&self) -> bool {
        self.count() > 0
    }

    /// Signals received so far.
    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    /// Resolves once the user asked to stop (a server's accept loop).
    pub async fn wait(&mut self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|n| *n > 0).await;
    }

    /// Resolves at a signal received after `started_at` signals (the count
    /// when the clean-up began) that is at least the second in all: the
    /// first Ctrl-C starts the clean-up, a further one during it abandons
    /// it (Ctrl-Cs pressed before it began do not). Never resolves without.
    pub async fn during(&self, started_at: u32) {
        let wanted = started_at.saturating_add(1).max(2);
        let mut rx = self.rx.clone();
        if rx.wait_for(|n| *n >= wanted).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// An error between stages when the user asked to stop.
    pub fn check(&self, cleaned_up: &str) -> Result<()> {
        if self.is_set() {
            return Err(interrupted(cleaned_up));
        }
        Ok(())
    }
}

/// The error a command ends with after a Ctrl-C, saying what was undone.
pub fn interrupted(cleaned_up: &str) -> anyhow::Error {
    error::new(
        error::ExitKind::Interrupted,
        format!("interrupted; {cleaned_up}"),
    )
}
