//! Roles a test creates, dropped when its database goes out of scope.
//!
//! Roles are cluster-wide and the tests of one binary share a cluster, so a
//! role left behind is seen by every later test: `check security` lists
//! every role inheriting anon or authenticated, and counts every role quota
//! can switch to. Dropping them in `Drop` also cleans up after a failed test
//! (the database is dropped while the panic unwinds).

use std::sync::{Mutex, PoisonError};

use sqlx::{Connection, Executor, PgConnection};

/// The roles one test created, to drop at its end.
pub struct Roles {
    /// A superuser URL of the test's database: the roles hold privileges
    /// (and may own objects) there, which `DROP OWNED BY` removes.
    admin_url: String,
    names: Mutex<Vec<String>>,
}

impl Roles {
    pub fn new(admin_url: &str) -> Self {
        Roles {
            admin_url: admin_url.to_string(),
            names: Mutex::new(Vec::new()),
        }
    }

    /// Drops `name` when these roles go out of scope (if it still exists
    /// then: a test may drop it itself).
    pub fn drop_at_end(&self, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        let names = std::mem::take(self.names.get_mut().unwrap_or_else(PoisonError::into_inner));
        if names.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime, which cannot block on a
        // future: a thread with a runtime of its own does the work.
        let url = self.admin_url.clone();
        let list = names.join(", ");
        let outcome = std::thread::spawn(move || drop_roles(&url, &names)).join();
        let failure = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("dropping the test's roles {list}: {e}"),
            Err(_) => format!("dropping the test's roles {list} panicked"),
        };
        // A second panic while unwinding would abort the whole test binary.
        if std::thread::panicking() {
            eprintln!("{failure}");
        } else {
            panic!("{failure}");
        }
    }
}

fn drop_roles(admin_url: &str, names: &[String]) -> Result<(), sqlx::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to drop the test's roles");
    rt.block_on(async {
        let mut c = PgConnection::connect(admin_url).await?;
        for name in names {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                    .bind(name)
                    .fetch_one(&mut c)
                    .await?;
            if exists {
                let role = quote_ident(name);
                c.execute(sqlx::raw_sql(&format!(
                    "DROP OWNED BY {role}; DROP ROLE {role};"
                )))
                .await?;
            }
        }
        c.close().await
    })
}

/// `name` as an SQL identifier, e.g. `"Premium Users"`.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
