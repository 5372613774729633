//! Parsed arguments into the domain's options: each a plain move. Every
//! default is written once, as a constant of the domain's options type that
//! `cli.rs` names in `default_value_t`; the tests below hold the parsed
//! defaults equal to the domain's `Default`.

use std::time::Duration;

use crate::cli::{BenchArgs, LockArgs, MetricsArgs, RaceArgs};
use crate::load::bench::BenchOptions;
use crate::load::race::RaceOptions;
use crate::metrics::ScrapeOptions;
use crate::migrate::LockPolicy;

impl From<RaceArgs> for RaceOptions {
    fn from(args: RaceArgs) -> Self {
        RaceOptions {
            target: args.target,
            concurrency: args.concurrency as usize,
            attempts: args.attempts as usize,
            user: args.user,
            naive: args.naive,
            headroom: args.headroom,
        }
    }
}

impl From<LockArgs> for LockPolicy {
    fn from(args: LockArgs) -> Self {
        LockPolicy {
            lock_timeout: Duration::from_millis(args.lock_timeout),
            retries: args.retries,
            lock_wait: Duration::from_secs(args.lock_wait),
        }
    }
}

impl From<BenchArgs> for BenchOptions {
    fn from(args: BenchArgs) -> Self {
        BenchOptions {
            clients: args.clients as usize,
            seconds: args.seconds,
            warmup: args.warmup,
            rounds: args.rounds,
            only: args.only,
        }
    }
}

/// `--listen` is where the scrapes are served, not how one reads.
impl From<&MetricsArgs> for ScrapeOptions {
    fn from(args: &MetricsArgs) -> Self {
        ScrapeOptions {
            threshold: args.threshold,
            statement_timeout: Duration::from_millis(args.statement_timeout),
            verify: args.verify,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, ManyArgs, MigrateCommand, ReportCommand};

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn race_defaults_are_the_domains() {
        let Command::Race(args) = parse(&["quota", "race"]).command else {
            panic!("not race");
        };
        assert_eq!(RaceOptions::from(args), RaceOptions::default());
    }

    #[test]
    fn lock_defaults_are_the_domains() {
        for command in ["apply", "rollback"] {
            let lock = match parse(&["quota", "migrate", command]).command {
                Command::Migrate(MigrateCommand::Apply { lock, .. }) => lock,
                Command::Migrate(MigrateCommand::Rollback { lock, .. }) => lock,
                other => panic!("{other:?}"),
            };
            assert_eq!(LockPolicy::from(lock), LockPolicy::default(), "{command}");
        }
    }

    #[test]
    fn bench_defaults_are_the_domains() {
        let Command::Bench(args) = parse(&["quota", "bench"]).command else {
            panic!("not bench");
        };
        assert_eq!(BenchOptions::from(args), BenchOptions::default());
    }

    #[test]
    fn metrics_defaults_are_the_domains() {
        let Command::Metrics(args) = parse(&["quota", "metrics"]).command else {
            panic!("not metrics");
        };
        assert_eq!(ScrapeOptions::from(&args), ScrapeOptions::default());
    }

    #[test]
    fn thresholds_jobs_and_connect_timeout_are_the_domains() {
        let near = crate::meters::DEFAULT_NEAR_THRESHOLD;
        for (report, expected) in [("near-limit", near), ("summary", near)] {
            let threshold = match parse(&["quota", "report", report]).command {
                Command::Report {
                    report: Some(ReportCommand::NearLimit { threshold }),
                    ..
                }
                | Command::Report {
                    report: Some(ReportCommand::Summary { threshold }),
                    ..
                } => threshold,
                other => panic!("{other:?}"),
            };
            assert_eq!(threshold, expected, "{report}");
        }
        let cli = parse(&["quota", "verify"]);
        let Command::Verify {
            many: ManyArgs { jobs },
        } = cli.command
        else {
            panic!("not verify");
        };
        assert_eq!(jobs, crate::fleet::DEFAULT_JOBS);
        assert_eq!(
            cli.global.connect_timeout,
            crate::db::Database::DEFAULT_CONNECT_TIMEOUT_SECS
        );
    }
}
