//! Every SQL text quota runs, in one place: the files under `sql/`,
//! compiled in. Rust code reaches SQL only through this module, runs it with
//! `db::query*` (bound parameters) or `Session::simple` (typed literals), and
//! never builds it from user input.

/// The migrations, `sql/migrations/V{n}__{name}.sql`, embedded by refinery.
pub(crate) mod migrations {
    refinery::embed_migrations!("sql/migrations");
}

/// Revert scripts by version, `sql/revert/`, one per migration (refinery
/// has no down migrations; quota runs these itself).
pub(crate) const REVERTS: &[(u32, &str)] = &[
    (1, include_str!("../sql/revert/V1__usage_periods.sql")),
    (
        2,
        include_str!("../sql/revert/V2__increment_usage_if_allowed.sql"),
    ),
    (3, include_str!("../sql/revert/V3__clip_limit.sql")),
    (4, include_str!("../sql/revert/V4__harden_functions.sql")),
    (5, include_str!("../sql/revert/V5__monotonic_periods.sql")),
    (
        6,
        include_str!("../sql/revert/V6__api_table_privileges.sql"),
    ),
    (7, include_str!("../sql/revert/V7__bulk_clip_charging.sql")),
];

/// The demo schema `quota sandbox` and the tests install.
pub const DEMO_SCHEMA: &str = include_str!("../sql/demo/schema.sql");

// Shared: how a read-only command reads, and who quota runs as.

pub(crate) const BEGIN_READ_ONLY: &str = include_str!("../sql/queries/begin_read_only.sql");
pub(crate) const CURRENT_ROLE: &str = include_str!("../sql/queries/current_role.sql");

// Migration history, the migration lock and what a rollback would drop.
//
// The history table's name has one source of truth, `migrate::embedded::
// HISTORY_TABLE`: refinery is told it, `to_regclass` gets it bound, and the
// statements that read or write history rows carry a `{history}` placeholder
// filled from it (a table name cannot be a bound parameter). Only
// `history_prepare.sql` names `quota.schema_history` and
// `public.quota_schema_history` itself: it is DDL in `DO` blocks that creates
// the schema and moves the old table, and a unit test in `migrate::history`
// holds it to the constants.

pub(crate) const ADVISORY_LOCK_HOLDER: &str =
    include_str!("../sql/queries/advisory_lock_holder.sql");
pub(crate) const BLOCKING_SESSIONS: &str = include_str!("../sql/queries/blocking_sessions.sql");
pub(crate) const CLIP_LIMITS_EDITED: &str = include_str!("../sql/queries/clip_limits_edited.sql");
pub(crate) const FORGET_VERSION: &str = include_str!("../sql/queries/forget_version.sql");
pub(crate) const HISTORY_PREPARE: &str = include_str!("../sql/queries/history_prepare.sql");
pub(crate) const HISTORY_ROWS: &str = include_str!("../sql/queries/history_rows.sql");
pub(crate) const QUOTA_OBJECTS_PRESENT: &str =
    include_str!("../sql/queries/quota_objects_present.sql");
pub(crate) const RECORD_VERSION: &str = include_str!("../sql/queries/record_version.sql");
pub(crate) const RERECORD_VERSION: &str = include_str!("../sql/queries/rerecord_version.sql");
pub(crate) const TABLE_OWNER: &str = include_str!("../sql/queries/table_owner.sql");
pub(crate) const MIGRATION_LOCK_TRY: &str = include_str!("../sql/queries/migration_lock_try.sql");
pub(crate) const MIGRATION_LOCK_TIMEOUT: &str =
    include_str!("../sql/queries/migration_lock_timeout.sql");
pub(crate) const HISTORY_TABLE_EXISTS: &str =
    include_str!("../sql/queries/history_table_exists.sql");
pub(crate) const MIGRATION_ROLE_AND_DATABASE: &str =
    include_str!("../sql/queries/migration_role_and_database.sql");
/// A server-side-only setup (no EXECUTE for authenticated) survives `--repair`.
pub(crate) const RPC_SERVER_SIDE_ONLY: &str =
    include_str!("../sql/queries/rpc_server_side_only.sql");
pub(crate) const RPC_REVOKE_AUTHENTICATED: &str =
    include_str!("../sql/queries/rpc_revoke_authenticated.sql");

// The schema contract: the application's tables and columns the migrations rely on.

pub(crate) const CONTRACT_COLUMNS: &str = include_str!("../sql/queries/contract_columns.sql");
pub(crate) const UNIQUE_USER_USAGE: &str = include_str!("../sql/queries/unique_user_usage.sql");

// The checks of `verify`.

pub(crate) const API_ROLES: &str = include_str!("../sql/queries/api_roles.sql");
pub(crate) const CAN_BECOME_AUTHENTICATED: &str =
    include_str!("../sql/queries/can_become_authenticated.sql");
pub(crate) const CHECK_COUNTER_WRITES: &str =
    include_str!("../sql/queries/check_counter_writes.sql");
/// `view_closure.sql` (every view over the tables, at any depth) and the check's own part.
pub(crate) const CHECK_DEFINER_VIEWS: &str = concat!(
    include_str!("../sql/queries/view_closure.sql"),
    include_str!("../sql/queries/check_definer_views.sql")
);
pub(crate) const CHECK_FUNCTION_SECURITY: &str =
    include_str!("../sql/queries/check_function_security.sql");
pub(crate) const CHECK_FUNCTION_SOURCE: &str =
    include_str!("../sql/queries/check_function_source.sql");
pub(crate) const CHECK_GRANTS: &str = include_str!("../sql/queries/check_grants.sql");
pub(crate) const CHECK_HISTORY_EXPOSURE: &str =
    include_str!("../sql/queries/check_history_exposure.sql");
pub(crate) const CHECK_ROUTINE: &str = include_str!("../sql/queries/check_routine.sql");
pub(crate) const CHECK_TABLE_PRIVILEGES: &str =
    include_str!("../sql/queries/check_table_privileges.sql");
pub(crate) const CHECK_TRIGGER: &str = include_str!("../sql/queries/check_trigger.sql");
pub(crate) const FUNCTION_OID: &str = include_str!("../sql/queries/function_oid.sql");
pub(crate) const SET_LOCAL_SETTING: &str = include_str!("../sql/queries/set_local_setting.sql");
pub(crate) const CALL_RPC_ROWS: &str = include_str!("../sql/queries/call_rpc_rows.sql");
// Round 2 of the security review: triggers inside quota's writes, clip inserts, logins.
pub(crate) const CHECK_TRIGGER_FUNCTIONS: &str =
    include_str!("../sql/queries/check_trigger_functions.sql");
pub(crate) const CHECK_CLIP_INSERTS: &str = include_str!("../sql/queries/check_clip_inserts.sql");
pub(crate) const CHECK_API_LOGINS: &str = include_str!("../sql/queries/check_api_logins.sql");
/// `view_closure.sql` (every view over the tables, at any depth) and the check's own part.
pub(crate) const CHECK_COUNTER_MATVIEWS: &str = concat!(
    include_str!("../sql/queries/view_closure.sql"),
    include_str!("../sql/queries/check_counter_matviews.sql")
);
// Table locks by API roles, and the one rule for the columns a hint or V6 may grant UPDATE on.
pub(crate) const CHECK_TABLE_LOCKS: &str = include_str!("../sql/queries/check_table_locks.sql");
pub(crate) const SAFE_UPDATE_COLUMNS: &str = include_str!("../sql/queries/safe_update_columns.sql");

// Limits, counters and users: `call`, `user`, `users`, `reset-user`, `report`.

pub(crate) const CLIP_LIMITS_INSTALLED: &str =
    include_str!("../sql/queries/clip_limits_installed.sql");
pub(crate) const FREE_CLIP_LIMIT: &str = include_str!("../sql/queries/free_clip_limit.sql");
pub(crate) const CLIP_LIMIT_FOR_TIER: &str = include_str!("../sql/queries/clip_limit_for_tier.sql");
pub(crate) const USER_ROW_LOCKED: &str = include_str!("../sql/queries/user_row_locked.sql");
pub(crate) const USAGE_ROW_LOCKED: &str = include_str!("../sql/queries/usage_row_locked.sql");
pub(crate) const CURRENT_MONTH: &str = include_str!("../sql/queries/current_month.sql");
pub(crate) const CALL_RPC: &str = include_str!("../sql/queries/call_rpc.sql");
pub(crate) const USER_VIEW: &str = include_str!("../sql/queries/user_view.sql");
pub(crate) const USERS_LIST: &str = include_str!("../sql/queries/users_list.sql");
pub(crate) const RESET_CLIPS: &str = include_str!("../sql/queries/reset_clips.sql");
pub(crate) const RESET_CLIPS_PERIOD: &str = include_str!("../sql/queries/reset_clips_period.sql");
pub(crate) const RESET_SCRAPES: &str = include_str!("../sql/queries/reset_scrapes.sql");
pub(crate) const RESET_SCRAPES_PERIOD: &str =
    include_str!("../sql/queries/reset_scrapes_period.sql");
pub(crate) const RLS_HIDES_USERS: &str = include_str!("../sql/queries/rls_hides_users.sql");
/// `report_base.sql` (the counter as the function sees it this month) and the report's own part.
pub(crate) const REPORT_AT_LIMIT: &str = concat!(
    include_str!("../sql/queries/report_base.sql"),
    include_str!("../sql/queries/report_at_limit.sql")
);
/// `report_base.sql` (the counter as the function sees it this month) and the report's own part.
pub(crate) const REPORT_NEAR_LIMIT: &str = concat!(
    include_str!("../sql/queries/report_base.sql"),
    include_str!("../sql/queries/report_near_limit.sql")
);

// Load: the statements `race` and `bench` fire, the naive read-check-write, taking a race's admissions back.

pub(crate) const RACE_INSTALLED: &str = include_str!("../sql/queries/race_installed.sql");
pub(crate) const RACE_CALL_FUNCTION: &str = include_str!("../sql/queries/race_call_function.sql");
pub(crate) const RACE_INSERT_CLIP: &str = include_str!("../sql/queries/race_insert_clip.sql");
pub(crate) const RACE_DELETE_CLIPS: &str = include_str!("../sql/queries/race_delete_clips.sql");
pub(crate) const RACE_COUNTER_FUNCTION: &str =
    include_str!("../sql/queries/race_counter_function.sql");
pub(crate) const RACE_COUNTER_TRIGGER: &str =
    include_str!("../sql/queries/race_counter_trigger.sql");
pub(crate) const RACE_USAGE_ROW: &str = include_str!("../sql/queries/race_usage_row.sql");
pub(crate) const RACE_TAKE_BACK_SCRAPES: &str =
    include_str!("../sql/queries/race_take_back_scrapes.sql");
pub(crate) const RACE_TAKE_BACK_CLIPS: &str =
    include_str!("../sql/queries/race_take_back_clips.sql");
pub(crate) const RACE_DELETE_EMPTY_USAGE: &str =
    include_str!("../sql/queries/race_delete_empty_usage.sql");
pub(crate) const CLIPS_KEY: &str = include_str!("../sql/queries/clips_key.sql");
pub(crate) const CLEANUP_TIMEOUTS: &str = include_str!("../sql/queries/cleanup_timeouts.sql");
pub(crate) const XACT_ID: &str = include_str!("../sql/queries/xact_id.sql");
pub(crate) const XACT_STATUS: &str = include_str!("../sql/queries/xact_status.sql");
pub(crate) const NAIVE_READ_USAGE: &str = include_str!("../sql/queries/naive_read_usage.sql");
pub(crate) const NAIVE_WRITE_USAGE: &str = include_str!("../sql/queries/naive_write_usage.sql");
pub(crate) const NAIVE_READ_CLIPS: &str = include_str!("../sql/queries/naive_read_clips.sql");
pub(crate) const NAIVE_WRITE_CLIPS: &str = include_str!("../sql/queries/naive_write_clips.sql");
pub(crate) const BENCH_SETUP: &str = include_str!("../sql/queries/bench_setup.sql");
pub(crate) const BENCH_TRIGGER_LEVEL: &str = include_str!("../sql/queries/bench_trigger_level.sql");
pub(crate) const BENCH_TEARDOWN: &str = include_str!("../sql/queries/bench_teardown.sql");
pub(crate) const BENCH_TIER_INSERT: &str = include_str!("../sql/queries/bench_tier_insert.sql");
pub(crate) const BENCH_TIER_DELETE: &str = include_str!("../sql/queries/bench_tier_delete.sql");
pub(crate) const BENCH_API_ROLES: &str = include_str!("../sql/queries/bench_api_roles.sql");
pub(crate) const BENCH_UPDATE_FLOOR: &str = include_str!("../sql/queries/bench_update_floor.sql");
pub(crate) const BENCH_RPC_FLOOR: &str = include_str!("../sql/queries/bench_rpc_floor.sql");
pub(crate) const BENCH_RPC_CALL: &str = include_str!("../sql/queries/bench_rpc_call.sql");
pub(crate) const BENCH_INSERT_PLAIN: &str = include_str!("../sql/queries/bench_insert_plain.sql");
pub(crate) const BENCH_INSERT_TRIGGER: &str =
    include_str!("../sql/queries/bench_insert_trigger.sql");

// Scratch users on real schemas: the referenced `auth.users` row, required columns.

pub(crate) const REQUIRED_COLUMNS: &str = include_str!("../sql/queries/required_columns.sql");
pub(crate) const BEFORE_INSERT_TRIGGERS: &str =
    include_str!("../sql/queries/before_insert_triggers.sql");
pub(crate) const SCRATCH_PARENT_INSERT: &str =
    include_str!("../sql/queries/scratch_parent_insert.sql");
pub(crate) const SCRATCH_PARENT_DELETE: &str =
    include_str!("../sql/queries/scratch_parent_delete.sql");
pub(crate) const SCRATCH_USER_INSERT: &str = include_str!("../sql/queries/scratch_user_insert.sql");
pub(crate) const SCRATCH_USAGE_INSERT: &str =
    include_str!("../sql/queries/scratch_usage_insert.sql");
pub(crate) const SCRATCH_USER_DELETE_CLIPS: &str =
    include_str!("../sql/queries/scratch_user_delete_clips.sql");
pub(crate) const SCRATCH_USER_DELETE_USAGE: &str =
    include_str!("../sql/queries/scratch_user_delete_usage.sql");
pub(crate) const SCRATCH_USER_DELETE: &str = include_str!("../sql/queries/scratch_user_delete.sql");
// Scratch users where a signup trigger makes the profile (Supabase's handle_new_user).
pub(crate) const SCRATCH_PARENT_SIGNUP_COLUMNS: &str =
    include_str!("../sql/queries/scratch_parent_signup_columns.sql");
pub(crate) const SCRATCH_USER_ADOPT: &str = include_str!("../sql/queries/scratch_user_adopt.sql");
pub(crate) const SCRATCH_USAGE_ADOPT: &str = include_str!("../sql/queries/scratch_usage_adopt.sql");

// The sandbox: what it reports about its throwaway server.

pub(crate) const SERVER_VERSION: &str = include_str!("../sql/queries/server_version.sql");

// `migrate export --supabase`: one Supabase migration file per version (the
// version's SQL between the migration lock, the history checks and its
// history row). Its placeholders are filled from constants of the build.

pub(crate) const EXPORT_SUPABASE: &str = include_str!("../sql/export/supabase.sql");

// Operations: limits per meter and tier (`limits`, `report summary`,
// `metrics`), tiers without a limit of their own (`check tiers`, notes in
// `user` and `report`), finding a user by e-mail, grants and refunds
// (`reset-user --to`), and edited limits kept across rollback + apply.

/// `report_base.sql` and the per-meter, per-tier aggregate.
pub(crate) const METER_TIERS: &str = concat!(
    include_str!("../sql/queries/report_base.sql"),
    include_str!("../sql/queries/meter_tiers.sql")
);
pub(crate) const TIERS_WITHOUT_LIMIT: &str = include_str!("../sql/queries/tiers_without_limit.sql");
pub(crate) const CLIP_TIER_OWN: &str = include_str!("../sql/queries/clip_tier_own.sql");
pub(crate) const LIMITS_SET_CLIPS: &str = include_str!("../sql/queries/limits_set_clips.sql");
pub(crate) const LIMITS_SET_SCRAPES: &str = include_str!("../sql/queries/limits_set_scrapes.sql");
pub(crate) const USER_BY_EMAIL: &str = include_str!("../sql/queries/user_by_email.sql");
pub(crate) const USAGE_ROW_INSERT: &str = include_str!("../sql/queries/usage_row_insert.sql");
pub(crate) const SAVED_LIMITS_SAVE: &str = include_str!("../sql/queries/saved_limits_save.sql");
pub(crate) const SAVED_LIMITS_EXISTS: &str = include_str!("../sql/queries/saved_limits_exists.sql");
pub(crate) const SAVED_LIMITS_ROWS: &str = include_str!("../sql/queries/saved_limits_rows.sql");
pub(crate) const SAVED_LIMITS_RESTORE: &str =
    include_str!("../sql/queries/saved_limits_restore.sql");

// Mapped meters (quota.toml): the catalog facts a mapping is checked
// against, and the templates `mapping::render` fills.

pub(crate) const MAPPING_COLUMNS: &str = include_str!("../sql/queries/mapping_columns.sql");
pub(crate) const MAPPING_FUNCTIONS: &str = include_str!("../sql/queries/mapping_functions.sql");

/// `sql/meters/`: the templates of a mapped meter's SQL. Their
/// `{placeholders}` are filled by `mapping::render` only with quoted
/// identifiers of the resolved mapping, type names and literals of
/// validated values.
pub(crate) mod meters {
    macro_rules! template {
        ($name:ident, $file:literal) => {
            pub(crate) const $name: &str = include_str!(concat!("../sql/meters/", $file));
        };
    }
    template!(BASE_INSTALL, "base_install.sql");
    template!(BASE_REVERT, "base_revert.sql");
    template!(MARKER_ADD, "marker_add.sql");
    template!(MARKER_DROP, "marker_drop.sql");
    template!(LIMITS_SEED, "limits_seed.sql");
    template!(USED_PERIOD, "used_period.sql");
    template!(USED_LIFETIME, "used_lifetime.sql");
    template!(SET_MARKER, "set_marker.sql");
    template!(GUARD_DIRECT, "guard_direct.sql");
    template!(SUB_IS_SUBJECT, "sub_is_subject.sql");
    template!(SUB_IS_MEMBER, "sub_is_member.sql");
    template!(READ_SUB, "read_sub.sql");
    template!(AMOUNT_COLUMN, "amount_column.sql");
    template!(RPC_INSTALL, "rpc_install.sql");
    template!(RPC_CHARGE_ROW_COLUMN, "rpc_charge_row_column.sql");
    template!(RPC_CHARGE_ROW, "rpc_charge_row.sql");
    template!(RPC_CHARGE_TABLE, "rpc_charge_table.sql");
    template!(RPC_LIMIT_COLUMN, "rpc_limit_column.sql");
    template!(RPC_LIMIT_TIERS, "rpc_limit_tiers.sql");
    template!(RPC_REVERT_CODE, "rpc_revert_code.sql");
    template!(TRIGGER_INSTALL, "trigger_install.sql");
    template!(TRIGGER_ROW_INSTALL, "trigger_row_install.sql");
    template!(LOCALS, "locals.sql");
    template!(TRIGGER_CHARGE_ONE, "trigger_charge_one.sql");
    template!(TRIGGER_LIMIT_COLUMN, "trigger_limit_column.sql");
    template!(TRIGGER_LIMIT_TIERS, "trigger_limit_tiers.sql");
    template!(TRIGGER_CHARGE_ROW, "trigger_charge_row.sql");
    template!(TRIGGER_CHARGE_TABLE, "trigger_charge_table.sql");
    template!(TRIGGER_REVERT_CODE, "trigger_revert_code.sql");
    template!(REVERT_DATA, "revert_data.sql");
    template!(PROBE_CALL, "probe_call.sql");
    template!(CALL, "call.sql");
    template!(REVOKE_TABLE_PRIVILEGES, "revoke_table_privileges.sql");
    template!(READ_USAGE, "read_usage.sql");
    template!(READ_LIMIT_COLUMN, "read_limit_column.sql");
    template!(READ_LIMIT_TIERS, "read_limit_tiers.sql");
    template!(TAKE_BACK, "take_back.sql");
    template!(SET_USAGE, "set_usage.sql");
    template!(RACE_INSERT, "race_insert.sql");
    template!(RACE_DELETE, "race_delete.sql");
    // `user`, `users`, `reset-user`, `report`, `limits`, `metrics` on a mapping.
    template!(OPS_SUBJECTS, "ops_subjects.sql");
    template!(OPS_USER, "ops_user.sql");
    template!(OPS_LIST, "ops_list.sql");
    template!(OPS_AT_LIMIT, "ops_at_limit.sql");
    template!(OPS_NEAR_LIMIT, "ops_near_limit.sql");
    template!(OPS_TIERS, "ops_tiers.sql");
    template!(OPS_LOCK, "ops_lock.sql");
    template!(OPS_COUNTER_ROW, "ops_counter_row.sql");
    template!(SCRATCH_SUBJECT_INSERT, "scratch_subject_insert.sql");
    template!(SCRATCH_SUBJECT_LIMIT, "scratch_subject_limit.sql");
    template!(SCRATCH_COUNTER, "scratch_counter.sql");
    template!(SCRATCH_SUBJECT_DELETE, "scratch_subject_delete.sql");
    template!(SCRATCH_COUNTER_DELETE, "scratch_counter_delete.sql");
}

// Mapped meters installed: quota.meters and what each installed.

pub(crate) const METERS_INSTALLED_EXISTS: &str =
    include_str!("../sql/queries/meters_installed_exists.sql");
pub(crate) const METERS_INSTALLED: &str = include_str!("../sql/queries/meters_installed.sql");
pub(crate) const METER_RECORD: &str = include_str!("../sql/queries/meter_record.sql");
pub(crate) const METER_FORGET: &str = include_str!("../sql/queries/meter_forget.sql");
pub(crate) const METERS_LEFT: &str = include_str!("../sql/queries/meters_left.sql");
pub(crate) const FUNCTION_BODY_MD5: &str = include_str!("../sql/queries/function_body_md5.sql");
pub(crate) const METER_TRIGGER: &str = include_str!("../sql/queries/meter_trigger.sql");
pub(crate) const METER_LIMITS_ROWS: &str = include_str!("../sql/queries/meter_limits_rows.sql");
pub(crate) const FUNCTION_EXECUTE: &str = include_str!("../sql/queries/function_execute.sql");
pub(crate) const FUNCTION_PUBLIC_EXECUTE: &str =
    include_str!("../sql/queries/function_public_execute.sql");
pub(crate) const PRIMARY_KEY_COLUMN: &str = include_str!("../sql/queries/primary_key_column.sql");
pub(crate) const KEY_PARENT: &str = include_str!("../sql/queries/key_parent.sql");
// `quota init`: the catalog facts a guessed `quota.toml` is made from
// (columns and single-column keys of the application's tables), and the
// per-tier clip limits of an install of the default mapping.

pub(crate) const INIT_COLUMNS: &str = include_str!("../sql/queries/init_columns.sql");
pub(crate) const INIT_KEYS: &str = include_str!("../sql/queries/init_keys.sql");
pub(crate) const INIT_CLIP_LIMITS_READABLE: &str =
    include_str!("../sql/queries/init_clip_limits_readable.sql");
pub(crate) const INIT_CLIP_LIMITS: &str = include_str!("../sql/queries/init_clip_limits.sql");

// `bench --meter NAME`: a mapped meter's bench templates (`sql/meters/bench_*`,
// filled by `mapping::render` like the others) and its scratch tier.

pub(crate) mod bench_meter {
    macro_rules! template {
        ($name:ident, $file:literal) => {
            pub(crate) const $name: &str = include_str!(concat!("../sql/meters/", $file));
        };
    }
    template!(FLOOR_ROW_COLUMN, "bench_floor_row_column.sql");
    template!(FLOOR, "bench_floor.sql");
    template!(CALL, "bench_call.sql");
    template!(SAVE, "bench_save.sql");
    template!(RESTORE, "bench_restore.sql");
    template!(COUNTER_INSERT, "bench_counter_insert.sql");
    template!(COUNTER_DELETE, "bench_counter_delete.sql");
    template!(LIMIT_READ, "bench_limit_read.sql");
    template!(LIMIT_SET, "bench_limit_set.sql");
    template!(TIER_READ, "bench_tier_read.sql");
    template!(TIER_SET, "bench_tier_set.sql");
    template!(INSERT, "bench_insert.sql");
    template!(TWINS, "bench_twins.sql");
}

pub(crate) const BENCH_METER_TIER_INSERT: &str =
    include_str!("../sql/queries/bench_meter_tier_insert.sql");
pub(crate) const BENCH_METER_TIER_DELETE: &str =
    include_str!("../sql/queries/bench_meter_tier_delete.sql");
