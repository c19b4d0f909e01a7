//! `arena chain yuma`: replay a Yuma Consensus scenario file and print every epoch's stored
//! outputs, one JSON object per line (the format other tools compare against).
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use arena_yuma::scenario::Scenario;

/// Flags of `arena chain yuma`.
#[derive(clap::Args, Debug)]
pub struct YumaArgs {
    /// Scenario JSON file: {"n", "stakes", "max_validators", "rao_emission", "hyperparameters",
    /// "epochs": [{"set_weights": [{"uid", "dests", "weights"}]}]}.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
}

/// Run the scenario and print one line per epoch:
/// `{"epoch", "validator_permit", "consensus", "incentive", "dividends", "validator_trust",
/// "emission", "bonds"}`.
pub fn run(args: YumaArgs) -> anyhow::Result<()> {
    let path = &args.input;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario {}", path.display()))?;
    let scenario =
        Scenario::from_json(&text).with_context(|| format!("scenario {}", path.display()))?;
    let reports = scenario
        .run()
        .with_context(|| format!("scenario {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for report in &reports {
        serde_json::to_writer(&mut out, report)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
