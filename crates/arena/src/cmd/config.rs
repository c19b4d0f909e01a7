//! `arena config`: inspect the effective configuration.
use crate::config::Config;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print the effective configuration as TOML (defaults, file, --set and flags merged).
    Show {
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ConfigCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Show { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(cfg)?);
            } else {
                print!("{}", cfg.to_toml()?);
            }
        }
    }
    Ok(())
}
