//! Ctrl-C (SIGINT) and SIGTERM as a flag that long work polls.
//!
//! `race`, `bench` and `sandbox` change the database or own a server; being
//! killed half-way would leave scratch rows, a user's counters or a cluster
//! behind. Installing this replaces the default "die now" with "finish the
//! statement in flight, clean up, then exit" (exit code 130).

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::error;

/// Set once the user asked to stop; cheap to clone and poll.
#[derive(Clone)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
}

impl Interrupt {
    /// Starts listening now (registration is synchronous, so a Ctrl-C right
    /// after this call is caught, not fatal). Needs a tokio runtime.
    pub fn install() -> Result<Self> {
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
            // Keep the handlers registered (and further signals swallowed)
            // until cleanup has finished and the process exits.
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
        });
        Ok(Interrupt { rx })
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the user asked to stop (a server's accept loop).
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|set| *set).await;
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
