//! A test cluster shaped like a Supabase project, and databases on it.
//!
//! The cluster's bootstrap superuser is `supabase_admin`; quota connects as
//! `postgres`, which has Supabase's attributes (LOGIN, CREATEROLE, CREATEDB,
//! REPLICATION, BYPASSRLS) and is NOT a superuser. Each database gets
//! `tests/fixtures/supabase/schema.sql`: the `auth` schema owned by another
//! role, `public.users.id` referencing `auth.users`, required columns without
//! defaults, `updated_at` triggers, RLS policies with spaces in their names,
//! Supabase's default privileges and its documented signup trigger
//! (`handle_new_user` on `auth.users` making the profile in `public.users`). One cluster per test binary (started on
//! first use, torn down at exit); one database per test.
//!
//! Roles are cluster-wide, and `check security` lists every role inheriting
//! anon or authenticated: a test that adds such a role takes its database
//! from [`supabase_installed_db_adding_roles`], which keeps every other test
//! on this cluster waiting until the roles are dropped again.

#![allow(dead_code)]

use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use quota::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::common::{self, Roles};

pub const ROLES: &str = include_str!("../fixtures/supabase/roles.sql");
pub const SCHEMA: &str = include_str!("../fixtures/supabase/schema.sql");

/// Bootstrap superuser of the Supabase-shaped cluster.
pub const ADMIN: &str = "supabase_admin";
/// The role quota connects as on Supabase: not a superuser.
pub const POSTGRES: &str = "postgres";

/// The fixture's sample users (same ids as the demo schema's).
pub const FREE_USER: &str = common::FREE_USER;
pub const PRO_USER: &str = common::PRO_USER;
pub const LIMITED_USER: &str = "33333333-3333-4333-8333-333333333333";
pub const NEARLY_USER: &str = "44444444-4444-4444-8444-444444444444";

/// The cluster and the password of its `postgres` role.
struct Server {
    cluster: Cluster,
    postgres_password: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The cluster's set of API roles: shared by every database while it
/// lives, exclusive to one whose test adds roles inheriting anon or
/// authenticated, so no other test sees them.
static API_ROLES: LazyLock<Arc<RwLock<()>>> = LazyLock::new(|| Arc::new(RwLock::new(())));

/// How a database holds [`API_ROLES`].
enum ApiRoles {
    Unchanged(OwnedRwLockReadGuard<()>),
    Adding(OwnedRwLockWriteGuard<()>),
}

fn server() -> &'static Server {
    SERVER.get_or_init(start)
}

/// Starts the cluster and creates Supabase's cluster-wide roles. Runs on a
/// thread of its own: `OnceLock` may be first touched inside a runtime.
fn start() -> Server {
    std::thread::spawn(|| {
        let cluster = Cluster::start(ClusterOptions {
            superuser: ADMIN.to_string(),
            extra_settings: vec![
                ("fsync".into(), "off".into()),
                ("full_page_writes".into(), "off".into()),
            ],
            ..ClusterOptions::default()
        })
        .expect("start the Supabase-shaped PostgreSQL (is postgresql installed?)");
        let postgres_password = format!("pg-{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut admin = PgConnection::connect(&cluster.admin_url())
                .await
                .expect("connect as supabase_admin");
            admin
                .execute(sqlx::raw_sql(ROLES))
                .await
                .expect("create Supabase's roles");
            admin
                .execute(format!("ALTER ROLE postgres PASSWORD '{postgres_password}'").as_str())
                .await
                .expect("set the postgres password");
        });
        Server {
            cluster,
            postgres_password,
        }
    })
    .join()
    .expect("starting the Supabase-shaped cluster panicked")
}

/// One database of the Supabase-shaped cluster.
pub struct SupaDb {
    pub name: String,
    /// As `postgres` (not a superuser), directly: what quota uses.
    pub url: String,
    /// As `supabase_admin`, the superuser: for setting up sabotage.
    pub admin_url: String,
    /// The roles the test created: dropped before `api_roles` is released
    /// (fields drop in declaration order).
    roles: Roles,
    api_roles: ApiRoles,
}

impl SupaDb {
    /// A connection as `postgres`.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect as postgres")
    }

    /// A connection as `supabase_admin`.
    pub async fn connect_admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url)
            .await
            .expect("connect as supabase_admin")
    }

    /// Runs SQL (many statements allowed) as `postgres`.
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
        c.execute(sqlx::raw_sql(sql))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Runs SQL (many statements allowed) as `supabase_admin`.
    pub async fn exec_admin(&self, sql: &str) {
        let mut c = self.connect_admin().await;
        c.execute(sqlx::raw_sql(sql))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Runs the quota binary as `postgres`, directly.
    pub fn quota(&self, args: &[&str]) -> Output {
        common::quota_with_url(&self.url, args)
    }

    /// Drops the role `name`, which the test creates, when this database
    /// goes out of scope. Only for a database from
    /// [`supabase_installed_db_adding_roles`]: the role is cluster-wide.
    pub fn drop_role_at_end(&self, name: &str) {
        assert!(
            matches!(self.api_roles, ApiRoles::Adding(_)),
            "role {name}: a test that adds roles takes its database from \
             supabase_installed_db_adding_roles(), or other tests see them"
        );
        self.roles.drop_at_end(name);
    }

    /// A new login role that is a member of `member_of` (e.g.
    /// `authenticated`) and nothing else, as an attacker who got such a
    /// login would have; returns its name and URL. Dropped when this
    /// database goes out of scope.
    pub async fn login_member_of(&self, member_of: &str) -> (String, String) {
        let name = format!("login_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        self.drop_role_at_end(&name);
        self.exec_admin(&format!(
            "CREATE ROLE {name} LOGIN PASSWORD '{password}';
             GRANT {member_of} TO {name};
             GRANT CONNECT ON DATABASE \"{}\" TO {name};",
            self.name
        ))
        .await;
        (name.clone(), common::url_as(&self.url, &name, &password))
    }
}

/// A new database on the Supabase-shaped cluster with the fixture loaded.
pub async fn supabase_db() -> SupaDb {
    let api_roles = ApiRoles::Unchanged(API_ROLES.clone().read_owned().await);
    new_db(api_roles).await
}

/// A Supabase-shaped database with every migration applied by `postgres`.
pub async fn supabase_installed_db() -> SupaDb {
    install(supabase_db().await)
}

/// [`supabase_installed_db`] for a test that adds roles (see
/// [`SupaDb::drop_role_at_end`]): no other test on this cluster runs until
/// it ends and its roles are dropped.
pub async fn supabase_installed_db_adding_roles() -> SupaDb {
    let api_roles = ApiRoles::Adding(API_ROLES.clone().write_owned().await);
    install(new_db(api_roles).await)
}

async fn new_db(api_roles: ApiRoles) -> SupaDb {
    let server = server();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!(
        "supa_{}_{n}_{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut admin = PgConnection::connect(&server.cluster.admin_url())
        .await
        .expect("connect as supabase_admin");
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create a Supabase-shaped database");
    admin
        .execute(format!("GRANT ALL ON DATABASE \"{name}\" TO postgres").as_str())
        .await
        .expect("grant the database to postgres");
    let admin_url = server.cluster.url(&name);
    let url = common::url_as(&admin_url, POSTGRES, &server.postgres_password);
    let db = SupaDb {
        roles: Roles::new(&admin_url),
        name,
        url,
        admin_url,
        api_roles,
    };
    db.exec_admin(SCHEMA).await;
    db
}

fn install(db: SupaDb) -> SupaDb {
    let out = db.quota(&["migrate", "apply", "-q"]);
    common::assert_success(&out);
    db
}

#[tokio::test]
async fn quota_connects_as_a_postgres_role_that_is_not_superuser() {
    let db = supabase_db().await;
    let mut c = db.connect().await;
    let (user, superuser, bypassrls): (String, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(user, "postgres");
    assert!(!superuser, "postgres must not be a superuser here");
    assert!(bypassrls);
    let owner: String = sqlx::query_scalar(
        "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'auth' AND tablename = 'users'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(owner, "supabase_auth_admin");
    // Supabase's default privileges reach new tables postgres creates.
    c.execute("CREATE TABLE public.probe (x int)")
        .await
        .unwrap();
    let anon_can_write: bool =
        sqlx::query_scalar("SELECT has_table_privilege('anon', 'public.probe', 'INSERT')")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(anon_can_write);
}

#[tokio::test]
async fn the_fixture_fits_the_schema_contract_and_installs_as_postgres() {
    let db = supabase_installed_db().await;
    let out = db.quota(&["check", "schema"]);
    common::assert_success(&out);
    let out = db.quota(&["call", PRO_USER, "--format", "json"]);
    common::assert_success(&out);
}
