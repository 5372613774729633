//! Day one on a stock Supabase project (issue 17.1) and table locks by API
//! roles (16.6), on the Supabase-shaped cluster with Supabase's default
//! privileges left as they are (anon and authenticated hold ALL on every
//! table postgres creates), quota connected as the non-superuser
//! `postgres`: `migrate apply && verify` pass at once, directly and through
//! PgBouncer in transaction mode; V6 records the ACLs it found and its
//! revert restores them exactly; a later misconfiguration still fails; a
//! login inheriting anon can lock the counters before V6 (or the hint) and
//! cannot after; profile edits keep working.

use sqlx::{Connection, Executor, PgConnection};

use crate::common::{assert_exit, assert_success, json, quota_with_url};
use crate::pooler::{self, Mode};
use crate::supabase::{supabase_db, supabase_installed_db_adding_roles, SupaDb, FREE_USER};

/// Every ACL of the application's schemas: each table, view and sequence
/// in `public` and `auth` with its `relacl` and every column's `attacl`,
/// as text (NULL spelt out).
async fn acls(db: &SupaDb) -> Vec<(String, String, Vec<String>)> {
    let mut c = db.connect_admin().await;
    sqlx::query_as(
        "SELECT c.oid::regclass::text,
                COALESCE(c.relacl::text, 'NULL'),
                ARRAY(SELECT a.attname || '=' || COALESCE(a.attacl::text, 'NULL')
                        FROM pg_attribute AS a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum)
           FROM pg_class AS c
           JOIN pg_namespace AS n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// The JWT claims PostgREST passes for a signed-in user.
fn claims(sub: &str) -> String {
    serde_json::json!({ "sub": sub, "role": "authenticated", "aud": "authenticated" }).to_string()
}

/// Runs `sql` as a PostgREST request of `sub` as `authenticated`, rolled
/// back; rows affected, or the SQLSTATE.
async fn as_user(db: &SupaDb, sub: &str, sql: &str) -> Result<u64, String> {
    let mut c = db.connect().await;
    let mut tx = c.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims(sub))
        .execute(&mut *tx)
        .await
        .unwrap();
    let out = match tx.execute(sql).await {
        Ok(done) => Ok(done.rows_affected()),
        Err(e) => Err(e
            .as_database_error()
            .and_then(|d| d.code())
            .unwrap_or_default()
            .to_string()),
    };
    tx.rollback().await.unwrap();
    out
}

/// The detail of check `name` in a `verify`/`check` JSON report.
fn detail(report: &serde_json::Value, name: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["detail"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The SQL statements of every hint of a report: `...` spans, split at `;`.
fn hint_statements(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["hint"].as_str())
        .flat_map(|h| h.split('`').skip(1).step_by(2).map(str::to_string))
        .flat_map(|sql| sql.split(';').map(str::to_string).collect::<Vec<_>>())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Tries `LOCK TABLE rel IN ACCESS EXCLUSIVE MODE` on a connection of its
/// own (rolled back at once): Ok, or the SQLSTATE.
async fn try_lock(url: &str, rel: &str) -> Result<(), String> {
    let mut c = PgConnection::connect(url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    // Not NOWAIT: an autovacuum on the table would make it fail; the
    // privilege is checked before any wait.
    tx.execute("SET LOCAL lock_timeout = '30s'").await.unwrap();
    let out = tx
        .execute(format!("LOCK TABLE {rel} IN ACCESS EXCLUSIVE MODE").as_str())
        .await
        .map(|_| ())
        .map_err(|e| {
            e.as_database_error()
                .and_then(|d| d.code())
                .unwrap_or_default()
                .to_string()
        });
    tx.rollback().await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stock_project_passes_verify_right_after_apply_and_rollback_restores_every_acl() {
    let db = supabase_db().await;
    let before = acls(&db).await;
    // The stock path really is stock: anon may TRUNCATE the users table.
    let users = before.iter().find(|a| a.0 == "users").unwrap();
    assert!(users.1.contains("anon=arwdDxt"), "{users:?}");

    let out = db.quota(&["migrate", "apply", "-q"]);
    assert_success(&out);
    let out = db.quota(&["verify", "--format", "json"]);
    assert_success(&out);

    // What V6 found is recorded, out of the API's reach.
    let mut c = db.connect().await;
    let found: String = sqlx::query_scalar(
        "SELECT COALESCE(acl::text, 'NULL') FROM quota.api_acl_found WHERE rel = 'public.users' AND col = ''",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(found, users.1);
    let api_reads: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('anon', 'quota.api_acl_found', 'SELECT')
             OR has_table_privilege('authenticated', 'quota.api_acl_changes', 'SELECT')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(!api_reads);

    // Profile edits of columns quota neither reads nor writes still work;
    // the counters, limits, plan and key do not.
    let edit = format!("UPDATE public.users SET full_name = 'New', email = 'n@example.com' WHERE id = '{FREE_USER}'");
    assert_eq!(as_user(&db, FREE_USER, &edit).await, Ok(1));
    for col in [
        "usage_this_month = 0",
        "plan_limits_scrapes = 999",
        "plan = 'PRO'",
        "id = id",
    ] {
        let sql = format!("UPDATE public.users SET {col} WHERE id = '{FREE_USER}'");
        assert_eq!(
            as_user(&db, FREE_USER, &sql).await,
            Err("42501".into()),
            "{col}"
        );
    }

    // A real misconfiguration made afterwards still fails verify.
    db.exec("GRANT TRUNCATE ON public.users TO anon").await;
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 1);
    let d = detail(&json(&out), "security");
    assert!(d.contains("TRUNCATE"), "{d}");
    db.exec("REVOKE TRUNCATE ON public.users FROM anon").await;
    assert_success(&db.quota(&["verify", "-q"]));

    // Rolled back entirely, every ACL is as it was found.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    assert_eq!(acls(&db).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn column_grants_public_and_grant_options_found_are_restored_exactly() {
    let db = supabase_db().await;
    // A project that already had column grants beside the table-level ones
    // (a table-level REVOKE takes them along), a privilege of PUBLIC and a
    // grant option.
    db.exec(
        "GRANT UPDATE (full_name), REFERENCES (email) ON public.users TO authenticated;
         GRANT TRUNCATE, UPDATE ON public.user_usage TO PUBLIC;
         GRANT DELETE ON public.users TO authenticated WITH GRANT OPTION;",
    )
    .await;
    let before = acls(&db).await;
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_success(&db.quota(&["verify", "-q"]));
    let mut c = db.connect().await;
    let public_truncates: bool =
        sqlx::query_scalar("SELECT has_table_privilege('anon', 'public.user_usage', 'TRUNCATE')")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(!public_truncates);
    // --repair re-runs V6: it keeps the first record and changes nothing more.
    assert_success(&db.quota(&["migrate", "apply", "--repair", "-q"]));
    assert_success(&db.quota(&["verify", "-q"]));
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    assert_eq!(acls(&db).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stock_project_passes_through_the_transaction_pooler() {
    let db = supabase_db().await;
    let url = pooler::through(&db.url, Mode::Transaction);
    assert_success(&quota_with_url(&url, &["migrate", "apply", "-q"]));
    assert_success(&quota_with_url(&url, &["verify", "-q"]));
    db.exec("GRANT TRUNCATE ON public.users TO anon").await;
    assert_exit(&quota_with_url(&url, &["verify", "-q"]), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_inheriting_anon_can_lock_the_counters_until_v6_or_the_hint() {
    let db = supabase_installed_db_adding_roles().await;
    let (_, url) = db.login_member_of("anon").await;
    let tables = ["public.users", "public.user_usage"];

    // Without V6 (the stock privileges): the lock is granted.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "4", "-q"]));
    for t in tables {
        assert_eq!(try_lock(&url, t).await, Ok(()), "{t} before V6");
    }
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    let d = detail(&report, "security");
    assert!(
        d.contains("IN ACCESS EXCLUSIVE MODE") && d.contains("public.user_usage"),
        "{d}"
    );

    // V6 takes it away.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    for t in tables {
        assert_eq!(try_lock(&url, t).await, Err("42501".into()), "{t} after V6");
    }
    let d = detail(
        &json(&db.quota(&["check", "security", "--format", "json"])),
        "security",
    );
    assert!(!d.contains("ACCESS EXCLUSIVE"), "{d}");

    // So does running every statement of the hints (without V6).
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "4", "-q"]));
    assert_eq!(try_lock(&url, "public.users").await, Ok(()));
    let mut c = db.connect().await;
    // A role membership is revoked by the role that granted it (here the
    // superuser that made the login): on PostgreSQL 16+ a CREATEROLE role
    // without ADMIN OPTION on `anon` may not, as the logins hint says.
    let mut admin = db.connect_admin().await;
    for sql in hint_statements(&report) {
        let by = if sql.starts_with("REVOKE anon FROM") {
            &mut admin
        } else {
            &mut c
        };
        by.execute(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("hint statement failed: {sql}: {e}"));
    }
    for t in tables {
        assert_eq!(
            try_lock(&url, t).await,
            Err("42501".into()),
            "{t} after the hint"
        );
    }
    let d = detail(
        &json(&db.quota(&["check", "security", "--format", "json"])),
        "security",
    );
    assert!(!d.contains("ACCESS EXCLUSIVE"), "{d}");
    // Profile edits keep working after the hint too.
    let edit = format!("UPDATE public.users SET full_name = 'New' WHERE id = '{FREE_USER}'");
    assert_eq!(as_user(&db, FREE_USER, &edit).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn hints_and_v6_never_grant_a_key_a_unique_column_or_a_quota_column() {
    let db = supabase_db().await;
    db.exec(
        "ALTER TABLE public.users ADD CONSTRAINT users_stripe_customer_id_key UNIQUE (stripe_customer_id);
         CREATE POLICY \"Users can update own usage\" ON public.user_usage
           FOR UPDATE TO authenticated USING (auth.uid() = user_id);",
    )
    .await;
    // Never granted: keys, UNIQUE columns, anything quota reads or writes.
    let never = [
        ("public.users", "id"),
        ("public.users", "stripe_customer_id"),
        ("public.users", "plan"),
        ("public.users", "subscription_status"),
        ("public.users", "subscription_tier"),
        ("public.users", "usage_this_month"),
        ("public.users", "plan_limits_scrapes"),
        ("public.users", "usage_period_start"),
        ("public.user_usage", "user_id"),
        ("public.user_usage", "clips_this_month"),
        ("public.user_usage", "clips_period_start"),
    ];
    let can_update = async |rel: &str, col: &str| -> bool {
        let mut c = db.connect().await;
        sqlx::query_scalar("SELECT has_column_privilege('authenticated', $1, $2, 'UPDATE')")
            .bind(rel)
            .bind(col)
            .fetch_one(&mut c)
            .await
            .unwrap()
    };

    // V6 on a project with table-level UPDATE for authenticated.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_success(&db.quota(&["check", "security"]));
    for (rel, col) in never {
        assert!(!can_update(rel, col).await, "V6 left UPDATE on {rel}.{col}");
    }
    assert!(can_update("public.users", "full_name").await);

    // The hints, for the same project without V6, which also lets users
    // create their own profile row.
    db.exec(
        "CREATE POLICY \"Users can insert own profile\" ON public.users
           FOR INSERT TO authenticated WITH CHECK (auth.uid() = id)",
    )
    .await;
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "4", "-q"]));
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let statements = hint_statements(&json(&out));
    let grants: Vec<&String> = statements
        .iter()
        .filter(|s| s.starts_with("GRANT"))
        .collect();
    assert!(
        grants.iter().any(|s| s.starts_with("GRANT UPDATE (")),
        "{statements:?}"
    );
    assert!(
        grants.iter().any(|s| s.starts_with("GRANT INSERT (")),
        "{statements:?}"
    );
    for sql in grants {
        let cols = sql
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(c, _)| c);
        for col in cols.unwrap_or_default().split(", ") {
            let col = col.trim_matches('"');
            // A new profile row needs its key; the policy ties it to the caller.
            if sql.starts_with("GRANT INSERT") && col == "id" {
                continue;
            }
            assert!(
                !never.iter().any(|(_, n)| *n == col),
                "a hint grants {col}: {sql}"
            );
        }
    }
    let mut c = db.connect().await;
    for sql in &statements {
        c.execute(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("hint statement failed: {sql}: {e}"));
    }
    assert_success(&db.quota(&["check", "security"]));
    for (rel, col) in never {
        assert!(
            !can_update(rel, col).await,
            "the hints left UPDATE on {rel}.{col}"
        );
    }
    let edit = format!("UPDATE public.users SET full_name = 'New' WHERE id = '{FREE_USER}'");
    assert_eq!(as_user(&db, FREE_USER, &edit).await, Ok(1));
    let steal = format!(
        "UPDATE public.users SET stripe_customer_id = 'cus_pro00002' WHERE id = '{FREE_USER}'"
    );
    assert_eq!(as_user(&db, FREE_USER, &steal).await, Err("42501".into()));
    let moved = format!(
        "UPDATE public.user_usage SET user_id = '{}' WHERE user_id = '{FREE_USER}'",
        crate::supabase::NEARLY_USER
    );
    assert_eq!(as_user(&db, FREE_USER, &moved).await, Err("42501".into()));
}
