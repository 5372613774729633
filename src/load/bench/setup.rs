//! What the bench creates to run on: a scratch tier in `clip_limits`, a
//! scratch schema with clips-shaped tables, one scratch user per client;
//! and removing all of it again.

use anyhow::{Context, Result};
use sqlx::Executor;
use uuid::Uuid;

use super::BENCH_ADVICE;
use crate::db::{self, Session};
use crate::error;
use crate::load::scratch::{self, ScratchUser, Shape};
use crate::load::{cleanup_timeouts, Cleanup};
use crate::sql;

/// What the bench created, so it can be removed whatever happens.
pub(super) struct Scratch {
    schema: String,
    tier: String,
    schema_created: bool,
    tier_created: bool,
    pub(super) users: Vec<Uuid>,
    /// How to insert scratch rows here; known once set up.
    pub(super) shape: Option<Shape>,
    /// The live clip trigger fires once per statement (V7), so the scratch
    /// one must too.
    pub(super) per_statement: bool,
}

/// How the scratch trigger fires, `{for_each}` in `bench_setup.sql`: as the
/// live trigger does (V4-V6: per row; V7: per statement, with the
/// transition table `public.enforce_clip_limit()` reads).
const FOR_EACH_ROW: &str = "FOR EACH ROW";
const FOR_EACH_STATEMENT: &str = "REFERENCING NEW TABLE AS inserted_clips\n  FOR EACH STATEMENT";

impl Scratch {
    pub(super) fn new() -> Self {
        // Generated, never user input: safe to place in DDL.
        let suffix = &Uuid::new_v4().simple().to_string()[..12];
        Scratch {
            schema: format!("quota_bench_{suffix}"),
            tier: format!("quota_bench_{suffix}"),
            schema_created: false,
            tier_created: false,
            users: Vec::new(),
            shape: None,
            per_statement: false,
        }
    }

    /// `template` with `{schema}` the scratch schema.
    pub(super) fn sql(&self, template: &str) -> String {
        template.replace("{schema}", &self.schema)
    }

    /// The shape read before the set-up.
    pub(super) fn shape(&self) -> Result<&Shape> {
        self.shape
            .as_ref()
            .context("the bench's shape was not read")
    }

    /// Creates the tier, the tables and `clients` users, recording each as
    /// it is made.
    pub(super) async fn set_up(&mut self, db: &mut Session, clients: usize) -> Result<()> {
        let mut tx = db.begin().await?;
        db::query(sql::BENCH_TIER_INSERT)
            .bind(&self.tier)
            .execute(&mut *tx)
            .await
            .context("could not add the bench's scratch tier to public.clip_limits")?;
        tx.commit().await?;
        self.tier_created = true;
        let for_each = if self.per_statement {
            FOR_EACH_STATEMENT
        } else {
            FOR_EACH_ROW
        };
        // Both values are constants above, never input.
        let setup = self.sql(sql::BENCH_SETUP).replace("{for_each}", for_each);
        db.simple(&setup).await.context(
            "could not create the bench's scratch tables (needs CREATE on the database)",
        )?;
        self.schema_created = true;
        let shape = self.shape()?.clone();
        let spec = ScratchUser {
            usage: 0,
            limit: i32::MAX,
            tier: self.tier.clone(),
            clips: Some(0),
        };
        for _ in 0..clients {
            let id = scratch::create_user(db, &shape, &spec, BENCH_ADVICE).await?;
            self.users.push(id);
        }
        Ok(())
    }

    /// Each step in a transaction bounded by the clean-up timeouts: an
    /// application session holding a lock fails it instead of hanging.
    async fn remove(&self, db: &mut Session) -> Result<()> {
        if self.schema_created {
            let teardown = self.sql(sql::BENCH_TEARDOWN);
            db.write(async |tx| {
                cleanup_timeouts(&mut *tx).await?;
                // One parameterless statement (a generated schema name).
                (&mut *tx).execute(sqlx::raw_sql(&teardown)).await?;
                Ok(())
            })
            .await?;
        }
        if let Some(shape) = &self.shape {
            scratch::delete_users(db, shape, &self.users).await?;
        }
        if self.tier_created {
            db.write(async |tx| {
                cleanup_timeouts(&mut *tx).await?;
                db::query(sql::BENCH_TIER_DELETE)
                    .bind(&self.tier)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

impl Cleanup for Scratch {
    type Done = ();

    async fn clean_up(&mut self, db: &mut Session) -> Result<()> {
        self.remove(db)
            .await
            .map_err(|e| error::load::bench_scratch_left(e, &self.schema, &self.tier))
    }

    fn by_hand(&self) -> String {
        let parent = self.shape.as_ref().and_then(|s| s.parent());
        error::load::by_hand_bench(&self.schema, &self.tier, parent, &self.users)
    }

    fn cleaned(&self) -> &'static str {
        "the scratch users, tier and tables were removed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_generated_identifiers() {
        let s = Scratch::new();
        assert!(s
            .schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert!(s.sql("CREATE SCHEMA {schema}").ends_with(&s.schema));
    }

    #[test]
    fn the_setup_has_one_place_for_the_trigger_level() {
        assert_eq!(sql::BENCH_SETUP.matches("{for_each}").count(), 1);
        assert!(sql::BENCH_SETUP.contains("\n  {for_each}\n  EXECUTE FUNCTION"));
    }
}
