//! `arena config`: inspect the effective configuration.
use crate::config::Config;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print the effective configuration as TOML (defaults, file, --set and flags merged), with
    /// every key: unset optional keys appear as comments saying what applies instead.
    Show {
        /// Print JSON instead of TOML (unset keys are null).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ConfigCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Show { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&with_nulls(cfg)?)?);
            } else {
                print!("{}", cfg.to_toml_with_unset()?);
            }
        }
    }
    Ok(())
}

/// The configuration as JSON, each unset key present as `null`.
fn with_nulls(cfg: &Config) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(cfg)?;
    for (key, _) in cfg.unset_keys() {
        let mut node = &mut value;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            let Some(map) = node.as_object_mut() else {
                break;
            };
            if parts.peek().is_none() {
                map.entry(part).or_insert(serde_json::Value::Null);
                break;
            }
            node = map
                .entry(part)
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_unset_keys_as_null() {
        let v = with_nulls(&Config::default()).unwrap();
        assert!(v["hub"]["token"].is_null());
        assert!(v["hub"].as_object().unwrap().contains_key("token"));
        assert!(v["validator"].as_object().unwrap().contains_key("schedule"));
        assert!(v["chain"]["netuid"].is_u64());
    }
}
