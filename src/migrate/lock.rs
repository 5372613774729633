//! The migration lock: a session-level advisory lock that serialises every
//! `quota migrate apply` and `rollback` against one database. A second
//! process waits, then finds the work done.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::PgConnection;

use crate::exit;
use crate::ui::Ui;

/// The advisory lock key: "quota" in ASCII.
pub const KEY: i64 = 0x71_75_6f_74_61;

/// Waits up to `wait` for the migration lock, polling so the wait can be
/// bounded and the holder named (a blocking pg_advisory_lock could not).
pub async fn acquire(conn: &mut PgConnection, wait: Duration, ui: &Ui) -> Result<()> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_catalog.pg_try_advisory_lock($1)")
            .bind(KEY)
            .fetch_one(&mut *conn)
            .await
            .context("taking the migration lock (pg_try_advisory_lock)")?;
        if got {
            return Ok(());
        }
        let holder = holder(conn).await?;
        if !announced {
            ui.info(&format!(
                "waiting for the migration lock held by {}",
                describe_holder(&holder)
            ));
            announced = true;
        }
        if started.elapsed() >= wait {
            return Err(exit::precondition(format!(
                "another migration is running: the lock is held by {} and was not released within {}s; \
                 wait for it to finish or raise --lock-wait",
                describe_holder(&holder),
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Releases the lock. Closing the connection would release it too.
pub async fn release(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_catalog.pg_advisory_unlock($1)")
        .bind(KEY)
        .execute(&mut *conn)
        .await
        .context("releasing the migration lock")?;
    Ok(())
}

type Holder = Option<(i32, f64, String)>;

async fn holder(conn: &mut PgConnection) -> Result<Holder> {
    sqlx::query_as(include_str!("../../sql/queries/advisory_lock_holder.sql"))
        .bind(KEY)
        .fetch_optional(&mut *conn)
        .await
        .context("looking up the holder of the migration lock")
}

fn describe_holder(holder: &Holder) -> String {
    match holder {
        Some((pid, secs, app)) if !app.is_empty() => {
            format!("session pid {pid} ({app}, connected {secs:.0}s ago)")
        }
        Some((pid, secs, _)) => format!("session pid {pid} (connected {secs:.0}s ago)"),
        None => "another session".to_string(),
    }
}
