//! The test harness: a real PostgreSQL for every test, never a mock.
//!
//! `QUOTA_TEST_DATABASE_URL` (a superuser URL) selects an existing server;
//! otherwise one throwaway cluster per test binary is started from the local
//! server binaries (as an unprivileged user when the tests run as root) and
//! torn down when the binary exits. Every test gets its own database, so
//! tests run in parallel.

#![allow(dead_code)]

mod binary;
pub mod faketime;
pub mod prereq;
mod roles;

pub use binary::*;
pub use roles::Roles;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use quota::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, Executor, PgConnection};

pub const DEMO_SCHEMA: &str = include_str!("../../../sql/demo/schema.sql");

/// Sample users of the demo schema.
pub const FREE_USER: &str = "11111111-1111-4111-8111-111111111111";
pub const PRO_USER: &str = "22222222-2222-4222-8222-222222222222";

enum Server {
    Local(Cluster),
    External(url::Url),
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var("QUOTA_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            Server::External(url::Url::parse(&url).expect("QUOTA_TEST_DATABASE_URL must be a URL"))
        }
        _ => Server::Local(start_cluster()),
    })
}

/// A fresh throwaway cluster tuned for tests (durability off: crash tests
/// use immediate shutdown, which keeps the WAL, not power loss).
pub fn start_cluster() -> Cluster {
    Cluster::start(fast_options()).expect("start a throwaway PostgreSQL (is postgresql installed?)")
}

/// Options for a throwaway test cluster: durability off, which only
/// matters on power loss.
pub fn fast_options() -> ClusterOptions {
    ClusterOptions {
        extra_settings: vec![
            ("fsync".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
        ],
        ..ClusterOptions::default()
    }
}

/// URL of `database` on the test server.
pub fn url_for(database: &str) -> String {
    match server() {
        Server::Local(c) => c.url(database),
        Server::External(base) => {
            let mut u = base.clone();
            u.set_path(&format!("/{database}"));
            u.to_string()
        }
    }
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    /// As a superuser.
    pub url: String,
    /// The roles the test created, dropped with the database handle.
    pub roles: Roles,
}

impl TestDb {
    /// The database `name` at `url` (a superuser URL).
    pub fn new(name: &str, url: &str) -> Self {
        TestDb {
            name: name.to_string(),
            url: url.to_string(),
            roles: Roles::new(url),
        }
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to test database")
    }

    /// Runs the quota binary against this database.
    pub fn quota(&self, args: &[&str]) -> std::process::Output {
        quota_with_url(&self.url, args)
    }

    /// Runs SQL (many statements allowed).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
        c.execute(sqlx::raw_sql(sql))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }
}

/// A new, empty database.
pub async fn empty_db() -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!(
        "quota_test_{}_{}_{n}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let name = name[..name.len().min(63)].to_string();
    let admin = url_for("postgres");
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create test database");
    TestDb::new(&name, &url_for(&name))
}

/// A database with the demo (Supabase-shaped) schema loaded.
pub async fn demo_db() -> TestDb {
    let db = empty_db().await;
    db.exec(DEMO_SCHEMA).await;
    db
}

/// A demo database with every migration applied (through the binary).
pub async fn installed_db() -> TestDb {
    let db = demo_db().await;
    let out = db.quota(&["migrate", "apply", "-q"]);
    assert_success(&out);
    db
}

/// Every row of the application's tables as text, in a stable order: the
/// "byte-for-byte" view used to prove an install/uninstall left data alone.
pub async fn snapshot(conn: &mut PgConnection) -> Vec<String> {
    let mut all = Vec::new();
    for (table, order) in [("users", "id"), ("user_usage", "user_id"), ("clips", "id")] {
        let q = format!("SELECT t::text FROM public.{table} AS t ORDER BY {order}");
        let rows: Vec<String> = sqlx::query_scalar(&q).fetch_all(&mut *conn).await.unwrap();
        all.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    all
}

/// Inserts a user and returns its id.
pub async fn add_user(
    conn: &mut PgConnection,
    usage: i32,
    limit: Option<i32>,
    tier: &str,
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO public.users (id, email, usage_this_month, plan_limits_scrapes, subscription_tier)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(format!("{id}@example.com"))
    .bind(usage)
    .bind(limit)
    .bind(tier)
    .execute(&mut *conn)
    .await
    .unwrap();
    id
}

/// The SQLSTATE of a database error.
pub fn code(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| format!("not a database error: {e}"))
}

// ---- faults and hostile conditions --------------------------------

/// Arguments no command should choke on: malformed, empty, huge, odd
/// characters. For UUID-taking commands, e.g. `quota user <each>`.
pub fn hostile_values() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "not-a-uuid".into(),
        "11111111-1111-4111-8111-11111111111".into(), // one digit short
        "11111111-1111-4111-8111-1111111111111".into(), // one digit long
        "'; DROP TABLE public.users; --".into(),
        "１１１１".into(),
        "\u{202e}11111111".into(),
        "ü🦀\t\r".into(),
        "9".repeat(100_000),
    ]
}

/// The password in a URL, percent-decoded (to check it is never printed).
pub fn password_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("a URL");
    percent_encoding::percent_decode_str(u.password().expect("a password"))
        .decode_utf8_lossy()
        .into_owned()
}

/// `url` with its user and password replaced.
pub fn url_as(url: &str, user: &str, password: &str) -> String {
    let mut u = url::Url::parse(url).expect("a URL");
    u.set_username(user).unwrap();
    u.set_password(Some(password)).unwrap();
    u.to_string()
}

/// A new login role (cluster-wide, so uniquely named) with CONNECT on the
/// test database and nothing else; returns its URL. Dropped when `db` is.
pub async fn login_role(db: &TestDb, prefix: &str) -> (String, String) {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    db.roles.drop_at_end(&name);
    db.exec(&format!(
        "CREATE ROLE {name} LOGIN PASSWORD '{password}';
         GRANT CONNECT ON DATABASE \"{}\" TO {name};",
        db.name
    ))
    .await;
    let url = url_as(&db.url, &name, &password);
    (name, url)
}

/// The objects each migration installs, and whether each exists now.
pub async fn objects_by_version(conn: &mut PgConnection) -> Vec<(i32, String, bool)> {
    sqlx::query_as(
        "SELECT v, o, present FROM (VALUES
           (1, 'users.usage_period_start', EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'usage_period_start')),
           (1, 'user_usage.clips_period_start', EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'user_usage' AND column_name = 'clips_period_start')),
           (2, 'increment_usage_if_allowed(uuid)', to_regprocedure('public.increment_usage_if_allowed(uuid)') IS NOT NULL),
           (3, 'clip_limits', to_regclass('public.clip_limits') IS NOT NULL),
           (3, 'enforce_clip_limit()', to_regprocedure('public.enforce_clip_limit()') IS NOT NULL),
           (3, 'enforce_clip_limit_trigger', EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger' AND tgrelid = 'public.clips'::regclass)),
           (4, 'enforce_clip_limit_trigger AFTER INSERT', EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger' AND tgrelid = 'public.clips'::regclass AND tgtype & 2 = 0)),
           (4, 'search_path with pg_temp last', EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('public.increment_usage_if_allowed(uuid)') AND proconfig = ARRAY['search_path=pg_catalog, pg_temp'])),
           (5, 'monotonic period markers', EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('public.increment_usage_if_allowed(uuid)') AND prosrc LIKE '%GREATEST(u.usage_period_start, v_period)%')),
           (6, 'quota.api_acl_found', to_regclass('quota.api_acl_found') IS NOT NULL),
           (7, 'enforce_clip_limit_trigger FOR EACH STATEMENT', EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger' AND tgrelid = 'public.clips'::regclass AND tgtype & 1 = 0 AND tgnewtable = 'inserted_clips'))
         ) AS x(v, o, present) ORDER BY v, o",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

/// The recorded versions, oldest first (empty without a history table).
pub async fn recorded_versions(conn: &mut PgConnection) -> Vec<i32> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('quota.schema_history') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    if !exists {
        return Vec::new();
    }
    sqlx::query_scalar("SELECT version FROM quota.schema_history ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

/// The history tells the truth: it is a prefix of the embedded versions
/// (V1..Vk), every object of a recorded version exists and none of an
/// unrecorded one does. Returns k.
#[track_caller]
pub fn assert_history_matches(history: &[i32], objects: &[(i32, String, bool)]) -> i32 {
    let k = history.last().copied().unwrap_or(0);
    assert_eq!(
        history,
        versions()
            .into_iter()
            .filter(|v| *v <= k)
            .collect::<Vec<_>>(),
        "history is not V1..Vk"
    );
    for (v, name, present) in objects {
        assert_eq!(
            *present,
            *v <= k,
            "history says V{k} but {name} (V{v}) is {}",
            if *present { "present" } else { "absent" }
        );
    }
    k
}

/// [`assert_history_matches`] on a live database.
pub async fn assert_consistent(db: &TestDb) -> i32 {
    let mut c = db.connect().await;
    let history = recorded_versions(&mut c).await;
    let objects = objects_by_version(&mut c).await;
    assert_history_matches(&history, &objects)
}

/// A session in the application's shoes: an uncommitted insert into clips,
/// holding ROW EXCLUSIVE on it. Returns the connection and its backend pid.
pub async fn hold_clip_insert(db: &TestDb) -> (sqlx::PgConnection, i32) {
    let mut blocker = db.connect().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut blocker)
        .await
        .unwrap();
    blocker
        .execute(sqlx::raw_sql(&format!(
            "BEGIN; INSERT INTO public.clips (user_id, url) VALUES ('{FREE_USER}', 'held')"
        )))
        .await
        .unwrap();
    (blocker, pid)
}

/// The versions of the embedded migrations (`sql/migrations/V{n}__*.sql`),
/// oldest first. Tests derive "the newest version" and "how many versions"
/// from this, never from a number written in the test: a version added on
/// another branch must not break them.
pub fn versions() -> Vec<i32> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations");
    let mut versions: Vec<i32> = std::fs::read_dir(dir)
        .expect("read sql/migrations")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix('V')?.split_once("__")?.0.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// The newest embedded version.
pub fn latest() -> i32 {
    *versions().last().expect("at least one migration")
}

/// The embedded version just below `version` (0 below the first).
pub fn version_before(version: i32) -> i32 {
    versions()
        .into_iter()
        .filter(|v| *v < version)
        .max()
        .unwrap_or(0)
}

/// `migrate status`'s states when V1..V`applied` are applied and the rest pending.
pub fn states_up_to(applied: i32) -> Vec<&'static str> {
    versions()
        .into_iter()
        .map(|v| if v <= applied { "applied" } else { "pending" })
        .collect()
}
