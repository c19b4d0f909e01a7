//! `arena miner check`: the validators' constraint checks on a folder, then a local match
//! against the competition's current top model (see [`arena_miner::check`]).

use std::path::PathBuf;

use anyhow::bail;
use arena_miner::check::{check_against_incumbent, competition_checks, CheckContext};
use arena_miner::train::find_competition;

use crate::config::Config;

/// Flags of `arena miner check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Model folder to check (Hugging Face layout).
    pub dir: PathBuf,
    /// Competition the model would enter.
    #[arg(long, value_name = "ID")]
    pub competition: u32,
    /// Competition schedule TOML. Default: `[validator] schedule`, else the built-in one.
    #[arg(long, value_name = "FILE")]
    pub competitions: Option<PathBuf>,
    /// Only run the constraint checks (no chain, no hub, no evaluation).
    #[arg(long)]
    pub constraints_only: bool,
    /// Hub URL (default HF_ENDPOINT, then `[hub] endpoint`).
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
    /// Chain endpoint (`http://HOST:PORT` or `local`). Default: `[chain] endpoint`.
    #[arg(long, value_name = "URL")]
    pub chain: Option<String>,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena miner check`; exits non-zero when the model fails a check or would not win.
pub async fn run(args: CheckArgs, cfg: &Config) -> anyhow::Result<()> {
    let schedule = super::miner_train::load_schedule(args.competitions.as_ref(), cfg)?;
    let source = super::miner_train::schedule_source(args.competitions.as_ref(), cfg);
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
    let (chain, producer) = super::miner::chain(args.chain.as_deref(), cfg)?;
    let block = chain.block_number().await?;
    let competition = find_competition(&schedule, args.competition, Some(block))?;
    let ctx = CheckContext {
        netuid: args.netuid.unwrap_or(cfg.chain.netuid),
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
    let schedule_path = args
        .competitions
        .as_ref()
        .or(cfg.validator.schedule.as_ref());
    let mut sources =
        super::validator::data_sources(schedule_path.map(|p| p.as_path()), cfg, chain.clone())?;
    let hub = super::miner::hub_client(args.hub.as_deref(), cfg)?;
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
