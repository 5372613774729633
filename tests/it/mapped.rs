//! quota.toml on schemas other than the seed's, on the Supabase-shaped
//! cluster, through PgBouncer in transaction mode, as `postgres`: (a)
//! profiles beside auth.users with bigint lifetime credits spent with
//! amounts; (b) accounts whose members spend a daily RPC meter counted in
//! a table of its own; (c) a trigger meter charging an amount column
//! against per-tier limits.

use std::path::PathBuf;
use std::process::Output;

use sqlx::Connection;

use crate::common::{assert_exit, assert_success, json, quota_with_url, stderr, stdout};
use crate::pooler::{self, Mode};
use crate::supabase::{self, SupaDb};

pub const PROFILES: &str = include_str!("../fixtures/mapped/profiles.sql");
pub const TEAMS: &str = include_str!("../fixtures/mapped/teams.sql");
pub const DOCUMENTS: &str = include_str!("../fixtures/mapped/documents.sql");

pub const FREE: &str = "11111111-1111-4111-8111-111111111111";
pub const PRO: &str = "22222222-2222-4222-8222-222222222222";
pub const LIMITED: &str = "33333333-3333-4333-8333-333333333333";
pub const NEARLY: &str = "44444444-4444-4444-8444-444444444444";
pub const ACME: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
pub const TINY: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

/// A fixture's quota.toml, copied to a file of its own (a test may edit it).
pub fn config(name: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mapped/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let path = std::env::temp_dir().join(format!("quota-{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).unwrap();
    path
}

/// quota with `--config` through the transaction pooler.
pub struct Mapped {
    pub db: SupaDb,
    pub url: String,
    pub config: PathBuf,
}

impl Mapped {
    pub async fn new(fixtures: &[&str], config_name: &str) -> Mapped {
        let db = supabase::supabase_db().await;
        for sql in fixtures {
            db.exec(sql).await;
        }
        let url = pooler::through(&db.url, Mode::Transaction);
        Mapped {
            db,
            url,
            config: config(config_name),
        }
    }

    pub fn quota(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        quota_with_url(&self.url, &all)
    }

    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "{from} not in the config");
        std::fs::write(&self.config, text.replace(from, to)).unwrap();
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let mut c = self.db.connect_admin().await;
        sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"))
    }

    /// check schema, apply, verify: each exit 0.
    pub fn install(&self) {
        assert_success(&self.quota(&["check", "schema"]));
        assert_success(&self.quota(&["migrate", "apply"]));
        assert_success(&self.quota(&["verify"]));
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

/// The application's schema as `pg_dump --schema-only` prints it (when the
/// machine's pg_dump can read this server), and as the catalog describes
/// it (always): tables, columns, constraints, indexes, triggers, policies,
/// functions and privileges in every schema but quota's and the system's.
pub async fn schema_dump(db: &SupaDb) -> (Option<String>, Vec<String>) {
    let dump = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--dbname", &db.admin_url])
        .output()
        .ok()
        .filter(|o| o.status.success())
        // \restrict lines carry a random key per run (pg_dump 15.14+).
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
                .collect::<Vec<_>>()
                .join("\n")
        });
    let mut c = db.connect_admin().await;
    let catalog: Vec<String> = sqlx::query_scalar(
        "SELECT x FROM (
           SELECT format('column %s.%s %s %s %s %s', n.nspname, c.relname, a.attname,
                         format_type(a.atttypid, a.atttypmod), a.attnotnull,
                         pg_get_expr(d.adbin, d.adrelid)) AS x
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname IN ('public', 'auth')
           UNION ALL
           SELECT format('acl %s.%s %s', n.nspname, c.relname, c.relacl)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'auth')
           UNION ALL
           SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
            WHERE connamespace IN ('public'::regnamespace, 'auth'::regnamespace)
           UNION ALL
           SELECT format('trigger %s', pg_get_triggerdef(oid)) FROM pg_trigger WHERE NOT tgisinternal
           UNION ALL
           SELECT format('index %s', pg_get_indexdef(indexrelid)) FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace IN ('public'::regnamespace, 'auth'::regnamespace)
           UNION ALL
           SELECT format('function %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl) FROM pg_proc p
            WHERE p.pronamespace IN ('public'::regnamespace, 'auth'::regnamespace)
           UNION ALL
           SELECT format('policy %s %s %s', polname, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) FROM pg_policy
           UNION ALL
           SELECT format('schema %s', nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%'
         ) AS all_of_it ORDER BY x",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    c.close().await.ok();
    (dump, catalog)
}

/// Removes every meter and checks the application's schema is as before.
pub async fn rollback_leaves_schema_as_before(m: &Mapped, before: &(Option<String>, Vec<String>)) {
    let out = m.quota(&["migrate", "rollback", "--target", "0", "--yes"]);
    assert_success(&out);
    let after = schema_dump(&m.db).await;
    assert_eq!(
        before.1, after.1,
        "the catalog differs after rollback --target 0"
    );
    if let (Some(a), Some(b)) = (&before.0, &after.0) {
        let differ: Vec<_> = b.lines().filter(|l| !a.lines().any(|x| x == *l)).collect();
        assert!(
            a == b,
            "pg_dump --schema-only differs after rollback --target 0: {differ:?}"
        );
    }
}

fn call(m: &Mapped, subject: &str, amount: &str) -> serde_json::Value {
    let out = m.quota(&[
        "--format", "json", "call", subject, "--amount", amount, "--commit",
    ]);
    assert_success(&out);
    json(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profiles_with_bigint_lifetime_credits_spent_with_amounts() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    let before = schema_dump(&m.db).await;
    m.install();

    // Amounts: admitted only when usage + amount <= limit, never part of one.
    let r = call(&m, NEARLY, "15");
    assert_eq!(
        (r["allowed"].as_bool(), r["new_usage"].as_i64()),
        (Some(true), Some(15))
    );
    let r = call(&m, NEARLY, "30");
    assert_eq!(
        (r["allowed"].as_bool(), r["new_usage"].as_i64()),
        (Some(false), Some(15))
    );
    let r = call(&m, NEARLY, "25");
    assert_eq!(
        (r["allowed"].as_bool(), r["new_usage"].as_i64()),
        (Some(true), Some(40))
    );
    // bigint beyond int4: 4,999,999,990 of 5,000,000,000.
    let r = call(&m, PRO, "10");
    assert_eq!(
        (
            r["allowed"].as_bool(),
            r["new_usage"].as_i64(),
            r["effective_limit"].as_i64()
        ),
        (Some(true), Some(5_000_000_000), Some(5_000_000_000))
    );
    let r = call(&m, PRO, "1");
    assert_eq!(r["allowed"].as_bool(), Some(false));
    // Unknown subject: its own error, exit 4; --amount 0 is a usage error.
    assert_exit(
        &m.quota(&["call", "99999999-9999-4999-8999-999999999999"]),
        4,
    );
    assert_exit(&m.quota(&["call", FREE, "--amount", "0"]), 2);

    // The race admits exactly the headroom, with amounts > 1: FREE has
    // 10,000,000,000 of room, so make it 70 at amount 7 = 10 admissions.
    m.db.exec(&format!(
        "UPDATE public.profiles SET credits_used = credits_limit - 70 WHERE id = '{FREE}'"
    ))
    .await;
    let out = m.quota(&[
        "--format", "json", "race", "--meter", "credits", "--user", FREE, "--amount", "7", "-c",
        "8", "-n", "40",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(
        (
            r["admitted"].as_u64(),
            r["expected"].as_u64(),
            r["over_admitted"].as_u64()
        ),
        (Some(10), Some(10), Some(0)),
        "{r}"
    );
    // Taken back afterwards: the counter is where it was.
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT credits_limit - credits_used FROM public.profiles WHERE id = '{FREE}'"
        ))
        .await,
        70
    );

    // A changed mapping is drift verify names; --repair installs it, counters kept.
    m.edit_config("period = \"none\"", "period = \"month\"");
    let out = m.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("meters.credits") && stdout(&out).contains("period"),
        "{}",
        stdout(&out)
    );
    assert_exit(&m.quota(&["migrate", "apply"]), 4);
    assert_success(&m.quota(&["migrate", "apply", "--repair"]));
    assert_success(&m.quota(&["verify"]));
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT credits_used FROM public.profiles WHERE id = '{NEARLY}'"
        ))
        .await,
        40
    );

    rollback_leaves_schema_as_before(&m, &before).await;
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT credits_used FROM public.profiles WHERE id = '{NEARLY}'"
        ))
        .await,
        40
    );
    let _ = stderr;
}

/// A PostgREST-shaped request: role switched and claims set in a
/// transaction, as `postgres` directly; the statement's error code, if any.
pub async fn as_request(
    m: &Mapped,
    role: &str,
    sub: Option<&str>,
    statement: &str,
) -> Result<(), String> {
    let mut c = m.db.connect().await;
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('role', $1, true)")
        .bind(role)
        .execute(&mut *tx)
        .await
        .unwrap();
    let claims = match sub {
        Some(sub) => serde_json::json!({"role": role, "sub": sub}),
        None => serde_json::json!({"role": role}),
    };
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let result = sqlx::raw_sql(statement).execute(&mut *tx).await;
    match result {
        Ok(_) => {
            tx.commit().await.unwrap();
            Ok(())
        }
        Err(e) => Err(crate::common::code(&e)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn b_accounts_whose_members_spend_a_daily_meter_in_its_own_table() {
    let m = Mapped::new(&[TEAMS], "teams.toml").await;
    let before = schema_dump(&m.db).await;
    m.install();
    let usage = |account: &str| {
        format!("SELECT coalesce((SELECT calls FROM public.api_usage WHERE account_id = '{account}'), 0)::int8")
    };

    // A member spends the account's quota; its first use makes the row.
    let spend = |account: &str| format!("SELECT * FROM public.use_api_call('{account}', 2)");
    assert_eq!(
        as_request(&m, "authenticated", Some(FREE), &spend(ACME)).await,
        Ok(())
    );
    assert_eq!(m.scalar_i64(&usage(ACME)).await, 2);
    // A non-member is refused with 42501; so is a member of another account.
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &spend(ACME)).await,
        Err("42501".into())
    );
    assert_eq!(
        as_request(&m, "authenticated", Some(LIMITED), &spend(ACME)).await,
        Err("42501".into())
    );
    assert_eq!(
        as_request(&m, "authenticated", None, &spend(ACME)).await,
        Err("42501".into())
    );
    assert_eq!(
        as_request(&m, "anon", None, &spend(ACME)).await,
        Err("42501".into())
    );
    // service_role may spend any account's quota.
    assert_eq!(
        as_request(&m, "service_role", None, &spend(TINY)).await,
        Ok(())
    );
    assert_eq!(
        m.scalar_i64(&usage(ACME)).await + m.scalar_i64(&usage(TINY)).await,
        4
    );

    // The day is the period: yesterday's usage starts again at the amount.
    m.db.exec(&format!("UPDATE public.api_usage SET quota_api_calls_period = current_date - 1 WHERE account_id = '{TINY}'")).await;
    let r = call(&m, TINY, "3");
    assert_eq!(
        (
            r["allowed"].as_bool(),
            r["new_usage"].as_i64(),
            r["effective_limit"].as_i64()
        ),
        (Some(true), Some(3), Some(20))
    );

    // Exactly the headroom under a race, with amounts: 17 left at 3 each = 5.
    let out = m.quota(&[
        "--format",
        "json",
        "race",
        "--meter",
        "api_calls",
        "--user",
        TINY,
        "--amount",
        "3",
        "-c",
        "8",
        "-n",
        "24",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(
        (r["admitted"].as_u64(), r["expected"].as_u64()),
        (Some(5), Some(5)),
        "{r}"
    );
    assert_eq!(m.scalar_i64(&usage(TINY)).await, 3);

    // The file's limits are the truth: a hand edit is drift named by tier,
    // a changed file too; --repair writes the file's values.
    m.db.exec(
        "UPDATE quota.meter_limits SET \"limit\" = 999 WHERE meter = 'api_calls' AND tier = 'free'",
    )
    .await;
    let out = m.quota(&["check", "drift"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("meters.api_calls.limits.free"),
        "{}",
        stdout(&out)
    );
    m.edit_config("team = 200", "team = 300");
    let out = m.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("limits.team"), "{}", stdout(&out));
    assert_success(&m.quota(&["migrate", "apply", "--repair"]));
    assert_success(&m.quota(&["verify"]));
    assert_eq!(
        m.scalar_i64(
            "SELECT \"limit\" FROM quota.meter_limits WHERE meter = 'api_calls' AND tier = 'team'"
        )
        .await,
        300
    );
    assert_eq!(
        m.scalar_i64(
            "SELECT \"limit\" FROM quota.meter_limits WHERE meter = 'api_calls' AND tier = 'free'"
        )
        .await,
        20
    );
    assert_eq!(
        m.scalar_i64(&usage(TINY)).await,
        3,
        "counters survive the repair"
    );

    rollback_leaves_schema_as_before(&m, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn c_a_trigger_meter_charging_an_amount_column_with_tier_limits() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    let before = schema_dump(&m.db).await;
    m.install();
    let used = |owner: &str| {
        format!("SELECT coalesce((SELECT pages_this_month FROM public.page_usage WHERE owner_id = '{owner}'), 0)")
    };
    let insert = |owner: &str, pages: i32, rows: i32| {
        format!("INSERT INTO public.documents (owner_id, title, pages) SELECT '{owner}', 'doc ' || g, {pages} FROM generate_series(1, {rows}) AS g")
    };

    // The owner inserts through the API: charged by pages, per statement.
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 3, 10)).await,
        Ok(())
    );
    assert_eq!(m.scalar_i64(&used(NEARLY)).await, 30);
    // A 100-row insert over the free tier's 100 fails whole with 23514.
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 1, 71)).await,
        Err("23514".into())
    );
    assert_eq!(m.scalar_i64(&used(NEARLY)).await, 30);
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT count(*) FROM public.documents WHERE owner_id = '{NEARLY}'"
        ))
        .await,
        10
    );
    // Exactly the headroom fits; the pro tier has 5000.
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 1, 70)).await,
        Ok(())
    );
    assert_eq!(m.scalar_i64(&used(NEARLY)).await, 100);
    assert_eq!(
        as_request(&m, "authenticated", Some(PRO), &insert(PRO, 50, 100)).await,
        Ok(())
    );
    assert_eq!(m.scalar_i64(&used(PRO)).await, 5000);
    // The refusal's message and figures, for the owner.
    let mut c = m.db.connect().await;
    let err = sqlx::raw_sql(&insert(NEARLY, 1, 1))
        .execute(&mut c)
        .await
        .unwrap_err();
    let db_err = err.as_database_error().unwrap();
    assert_eq!(db_err.code().as_deref(), Some("23514"));
    assert!(
        db_err.message().starts_with("Pages limit reached"),
        "{}",
        db_err.message()
    );
    c.close().await.ok();

    // Race with amounts: FREE has 100 pages; 7 per row admits 14.
    let out = m.quota(&[
        "--format", "json", "race", "--meter", "pages", "--user", FREE, "--amount", "7", "-c", "8",
        "-n", "30",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(
        (
            r["admitted"].as_u64(),
            r["expected"].as_u64(),
            r["rows_deleted"].as_u64()
        ),
        (Some(14), Some(14), Some(14)),
        "{r}"
    );
    assert_eq!(m.scalar_i64(&used(FREE)).await, 0);
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT count(*) FROM public.documents WHERE owner_id = '{FREE}'"
        ))
        .await,
        0
    );

    // A hand edit of the trigger function is drift; --repair restores it.
    m.db.exec("CREATE OR REPLACE FUNCTION quota.charge_pages() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN NULL; END $$").await;
    let out = m.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("meters.pages") && stdout(&out).contains("edited"),
        "{}",
        stdout(&out)
    );
    assert_success(&m.quota(&["migrate", "apply", "--repair"]));
    // The mapping changed: amount column dropped from the file.
    m.edit_config("amount_column = \"pages\"\n", "");
    let out = m.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("amount_column"), "{}", stdout(&out));
    assert_success(&m.quota(&["migrate", "apply", "--repair"]));
    assert_success(&m.quota(&["verify"]));
    assert_eq!(
        m.scalar_i64(&used(PRO)).await,
        5000,
        "counters survive the repair"
    );

    rollback_leaves_schema_as_before(&m, &before).await;
}
