//! `arena miner check`: the validators' constraint checks on a folder, then a local match
//! against the competition's current top model (see [`arena_miner::check`]).

use std::path::PathBuf;

use anyhow::bail;
use arena_miner::check::{check_against_incumbent, competition_checks, CheckContext};
use arena_miner::train::find_competition;

use crate::config::Config;
use crate::context::{self, ChainArgs, HubArgs, ScheduleArgs};

/// Flags of `arena miner check`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("schedule", |a| a.alias("competitions")))]
#[command(mut_arg("hub", |a| a.help("Hub URL (default HF_ENDPOINT, then `[hub] endpoint`)")))]
#[command(mut_arg("chain", |a| a.help(
    "Chain endpoint (`http://HOST:PORT` or `local`). Default: `[chain] endpoint`"
)))]
pub struct CheckArgs {
    /// Model folder to check (Hugging Face layout).
    pub dir: PathBuf,
    /// Competition the model would enter.
    #[arg(long, value_name = "ID")]
    pub competition: u32,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Only run the constraint checks (no chain, no hub, no evaluation).
    #[arg(long)]
    pub constraints_only: bool,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena miner check`; exits non-zero when the model fails a check or would not win.
pub async fn run(args: CheckArgs, cfg: &Config) -> anyhow::Result<()> {
    let schedule = args.schedule.load(cfg)?;
    let source = args.schedule.source(cfg);
    if args.constraints_only {
        let competition = find_competition(&schedule, args.competition, None)?;
        let checks = competition_checks(&args.dir, &competition);
        if args.json {
            let value = super::model_check::checks_json(&checks, Some(&competition))?;
            println!("{}", serde_json::to_string(&value)?);
        } else {
            super::model_check::print_checks(&args.dir, &checks, Some(&competition));
        }
        if !checks.passed() {
            bail!(
                "{}: {} check(s) failed for competition {} ({source})",
                args.dir.display(),
                checks.failures().len(),
                competition.id
            );
        }
        return Ok(());
    }
    let (chain, producer) = args.chain.open_producing(cfg)?;
    let block = chain.block_number().await?;
    let competition = find_competition(&schedule, args.competition, Some(block))?;
    let ctx = CheckContext {
        netuid: args.chain.netuid(cfg),
        genesis_block: cfg.validator.sync_origin,
        sync_cadence: cfg.validator.sync_cadence,
        cache: cfg.home.join("miner/models"),
    };
    tracing::info!(
        schedule = %source,
        sync_cadence = ctx.sync_cadence,
        sync_origin = ctx.genesis_block,
        feed = %cfg.data.feed_url,
        "checking as validators with these settings would"
    );
    // The feed, corpus and file datasets, built as `arena validator run` builds them.
    let mut sources = context::data_sources(&args.schedule, &args.hub, cfg, chain.clone())?;
    let hub = args.hub.client(cfg)?;
    let report = check_against_incumbent(
        &args.dir,
        &competition,
        &schedule,
        chain.as_ref(),
        hub,
        &ctx,
        &mut sources,
    )
    .await;
    if let Some(p) = producer {
        p.abort();
    }
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "competition {} at block {} (samples seeded by sync block {}): constraints ok",
            report.competition, report.current_block, report.sync_block
        );
        for (task, n) in &report.samples {
            println!("  task {task}: {n} samples");
        }
        println!("ours       score {:.5}", report.ours.total);
        match &report.incumbent {
            Some(inc) => {
                println!(
                    "incumbent  score {:.5}  uid {} ({}), block {}, incentive {}, epsilon now {:.4}",
                    inc.score.total, inc.uid, inc.commitment, inc.block, inc.incentive, inc.epsilon
                );
                let margin = report.margin.unwrap_or(f64::NAN);
                if report.would_win {
                    println!(
                        "would WIN by {:.2}% after the incumbent's epsilon",
                        100.0 * margin
                    );
                } else {
                    // margin = 1 − ours/bar, so ours must drop by 1 − bar/ours = 1 − 1/(1 − margin).
                    let needed = 1.0 - 1.0 / (1.0 - margin);
                    println!("would LOSE: needs a score {:.2}% lower", 100.0 * needed);
                }
            }
            None => println!("no model is committed to this competition yet: it would lead"),
        }
    }
    if !report.would_win {
        std::process::exit(3);
    }
    Ok(())
}
