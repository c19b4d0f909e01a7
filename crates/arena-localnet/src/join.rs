//! `<home>/join.toml`: an `arena.toml` for joining a running localnet from another shell, and
//! the commands that join it as a miner.
//!
//! It holds every setting that differs from the defaults of `arena`'s configuration for this
//! network: the chain endpoint and competition subnet, the hub (and its storage root, where
//! `arena hub user add` creates the joiner's account), the data feed with its subnet and
//! stake threshold, the competition schedule and sync cadence the validators use, and a
//! wallet root. It is rewritten at every start, so it always names the ports in use.

use std::path::{Path, PathBuf};

use crate::error::{LocalnetError, Result};
use crate::home::{write_atomic, Layout};
use crate::schedule::COMPETITION_ID;
use crate::services::Endpoints;

/// Wallet name the join commands create and use (`[wallet] name` of `join.toml`).
pub const JOIN_WALLET: &str = "joiner";

/// What `join.toml` describes.
#[derive(Debug, Clone)]
pub struct Join {
    /// Where the services listen.
    pub endpoints: Endpoints,
    /// The competition subnet.
    pub netuid: u16,
    /// The data subnet producers are staked on.
    pub data_netuid: u16,
    /// Least producer stake validators accept feed batches from, rao.
    pub min_stake: u64,
    /// Blocks per validator sync window.
    pub sync_cadence: u64,
    /// The uid whose model a joiner starts from (the built-in miner that trains most).
    pub leader_uid: Option<u16>,
}

/// The file's path under `layout`.
pub fn path(layout: &Layout) -> PathBuf {
    layout.home.join("join.toml")
}

/// `path` as an absolute path (the file is read from any directory).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(LocalnetError::io(path))
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text of `join.toml`.
pub fn render(layout: &Layout, join: &Join) -> Result<String> {
    let home = absolute(&layout.home)?;
    let home_text = home.display().to_string();
    let schedule = absolute(&layout.schedule_file())?;
    let wallets = absolute(&layout.wallets_dir())?;
    let hub_root = absolute(&layout.hub_dir())?;
    let e = &join.endpoints;
    Ok(format!(
        r#"# arena.toml for joining the localnet in {home_text}
# Written by `arena localnet` at every start (edits are lost): use it with `--config <this file>`.
# Keys not listed keep their defaults (`arena --config <this file> config show` prints them all).

[wallet]
# Wallets of joiners; the localnet's own nodes keep theirs here too.
root = {wallets}
name = {wallet}
hotkey = "default"

[chain]
endpoint = {chain}
# The competition subnet.
netuid = {netuid}

[hub]
endpoint = {hub}
# The hub's storage root: `arena hub user add NAME` creates an account there and prints its
# token (give it to `miner push` as HF_TOKEN).
root = {hub_root}

[data]
# The data subnet producers are staked on, and the feed validators pull from.
netuid = {data_netuid}
feed_url = {feed}
# Least producer stake (rao) a validator accepts feed batches from.
min_stake = {min_stake}

[validator]
# The competition schedule every validator of this network follows (reloaded when edited).
schedule = {schedule}
# Blocks per sync window: one evaluation step per window, counted from block sync_origin.
sync_cadence = {sync_cadence}
sync_origin = 0
# Seconds between two ticks of `validator run` (the localnet's own validators tick every second).
interval_secs = 1
"#,
        wallets = quoted(&wallets.display().to_string()),
        wallet = quoted(JOIN_WALLET),
        chain = quoted(&e.chain),
        netuid = join.netuid,
        hub = quoted(&e.hub),
        hub_root = quoted(&hub_root.display().to_string()),
        data_netuid = join.data_netuid,
        feed = quoted(&e.feed),
        min_stake = join.min_stake,
        schedule = quoted(&schedule.display().to_string()),
        sync_cadence = join.sync_cadence,
    ))
}

/// A word for a POSIX shell: as is when plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The shell commands that join the network as a miner with the config at `config`: a wallet,
/// a uid, a hub account, a model trained from the leader's, the validators' checks, the push.
pub fn miner_commands(config: &Path, join: &Join) -> Vec<String> {
    let arena = format!(
        "arena --config {}",
        shell_word(&config.display().to_string())
    );
    let from = join
        .leader_uid
        .map_or("<UID of a model on the leaderboard>".to_string(), |u| {
            u.to_string()
        });
    let c = COMPETITION_ID;
    vec![
        format!("{arena} wallet new --no-password"),
        format!("{arena} chain register"),
        format!("export HF_TOKEN=$({arena} hub user add {JOIN_WALLET} | tail -n 1)"),
        format!(
            "{arena} miner train --from-uid {from} --competition {c} --task word_sorting --steps 60 --lr 2e-3 --out {JOIN_WALLET}-model"
        ),
        format!("{arena} miner check {JOIN_WALLET}-model/model --competition {c}"),
        format!(
            "{arena} miner push {JOIN_WALLET}-model/model --competition {c} --repo {JOIN_WALLET}/model-1"
        ),
    ]
}

/// Writes `join.toml` and returns its (absolute) path.
pub fn write(layout: &Layout, join: &Join) -> Result<PathBuf> {
    let path = absolute(&path(layout))?;
    write_atomic(&path, render(layout, join)?.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join() -> Join {
        Join {
            endpoints: Endpoints {
                chain: "http://127.0.0.1:9944".into(),
                substrate: "ws://127.0.0.1:9944".into(),
                hub: "http://127.0.0.1:8700".into(),
                feed: "http://127.0.0.1:8790".into(),
                leaderboard: "http://127.0.0.1:8080/".into(),
            },
            netuid: 1,
            data_netuid: 2,
            min_stake: 1_000_000_000,
            sync_cadence: 5,
            leader_uid: Some(2),
        }
    }

    #[test]
    fn paths_are_absolute_and_strings_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("odd \"dir\""));
        let text = render(&layout, &join()).unwrap();
        assert!(text.contains(r#"odd \"dir\"/schedule.toml""#), "{text}");
        assert!(text.contains("sync_cadence = 5"), "{text}");
        let written = write(&layout, &join()).unwrap();
        assert!(written.is_absolute());
        assert_eq!(std::fs::read_to_string(&written).unwrap(), text);
    }

    #[test]
    fn commands_quote_the_config_path_and_name_the_leader() {
        let cmds = miner_commands(Path::new("/tmp/my home/join.toml"), &join());
        assert_eq!(cmds.len(), 6);
        assert!(cmds
            .iter()
            .all(|c| c.contains("arena --config '/tmp/my home/join.toml' ")));
        assert!(
            cmds[3].contains("--from-uid 2 --competition 1"),
            "{}",
            cmds[3]
        );
        assert!(cmds[5].contains("--repo joiner/model-1"), "{}", cmds[5]);
    }
}
