//! Setting up the chain side of a localnet: the competition subnet and the data subnet, every
//! node's registration and the stakes, exactly once per home. A later run finds the subnets and
//! uids in `localnet.json`, checks that the chain agrees, and only adds what is missing (a new
//! miner after `--miners 4`, say).
//!
//! A node can lose its uid between runs: when a subnet is full, each registration replaces
//! the neuron with the lowest emission, and that may be one of ours. Registering it again
//! into a full subnet would in turn evict someone else (a third party who joined), so it is
//! done only with `--reregister`; otherwise the node is left out of the run and a note says so.

use std::sync::Arc;

use arena_chain::{Chain, Hyperparameters, LocalChain, NetUid, Uid};
use arena_keys::Keypair;

use crate::config::{LocalnetConfig, MinerPlan};
use crate::error::{LocalnetError, Result};
use crate::home::{Layout, Node, State, STATE_VERSION};

/// Stake of the data producer on the data subnet, rao (100 TAO).
pub const PRODUCER_STAKE: u64 = 100_000_000_000;
/// Least producer stake validators accept feed data from, rao (1 TAO).
pub const MIN_PRODUCER_STAKE: u64 = 1_000_000_000;

/// A registered miner.
#[derive(Clone)]
pub struct MinerNode {
    /// Its training plan (name, steps).
    pub plan: MinerPlan,
    /// Signs its commitment.
    pub hotkey: Keypair,
    /// Uid on the competition subnet.
    pub uid: Uid,
}

/// A registered validator.
#[derive(Clone)]
pub struct ValidatorNode {
    /// Wallet name (`validator1` …).
    pub name: String,
    /// Signs `set_weights`.
    pub hotkey: Keypair,
    /// Uid on the competition subnet.
    pub uid: Uid,
    /// Stake, rao.
    pub stake: u64,
}

/// The network as set up on chain.
pub struct Nodes {
    /// The competition subnet.
    pub netuid: NetUid,
    /// The data subnet.
    pub data_netuid: NetUid,
    /// Miners, in plan order.
    pub miners: Vec<MinerNode>,
    /// Validators, largest stake first.
    pub validators: Vec<ValidatorNode>,
    /// Signs data batches; staked on the data subnet.
    pub producer: Keypair,
    /// What was saved to `localnet.json`.
    pub state: State,
    /// What the user should know about registrations: nodes left out because their subnet is
    /// full, nodes registered again with `--reregister`.
    pub notes: Vec<String>,
}

/// Parameters of the competition subnet: short tempo, a weights rate limit of half a tempo,
/// and as many validator permits as validators (miners hold no stake).
pub fn competition_hyperparameters(config: &LocalnetConfig) -> Hyperparameters {
    Hyperparameters {
        tempo: config.tempo,
        weights_rate_limit: u64::from(config.tempo / 2).max(1),
        max_allowed_validators: config.validators as u16,
        immunity_period: 10_000,
        ..Hyperparameters::default()
    }
}

/// Parameters of the data subnet (only the producer's stake matters there).
pub fn data_hyperparameters(config: &LocalnetConfig) -> Hyperparameters {
    Hyperparameters {
        tempo: config.tempo,
        ..Hyperparameters::default()
    }
}

/// Creates (first run) or checks (later runs) the subnets, registrations and stakes, producing
/// blocks by hand: call it before the block producer starts.
pub async fn setup(
    layout: &Layout,
    config: &LocalnetConfig,
    chain: &Arc<LocalChain>,
) -> Result<Nodes> {
    let state_path = layout.state_file();
    let previous = State::load(&state_path)?;
    let (owner_cold, _) = layout.node_keys("owner")?;
    let (netuid, data_netuid) = match &previous {
        Some(state) => {
            if state.base_model != config.base_model.name() {
                return Err(LocalnetError::State {
                    path: state_path.clone(),
                    reason: format!(
                        "this home was set up with --base-model {}; use it again or a new --home",
                        state.base_model
                    ),
                });
            }
            for netuid in [state.netuid, state.data_netuid] {
                let subnet = chain
                    .subnet(netuid)
                    .await
                    .map_err(|e| LocalnetError::State {
                        path: state_path.clone(),
                        reason: format!(
                            "subnet {netuid} is not on the chain in {}: {e}",
                            layout.chain_dir().display()
                        ),
                    })?;
                if subnet.owner != owner_cold.public() {
                    return Err(LocalnetError::State {
                        path: state_path.clone(),
                        reason: format!(
                            "subnet {netuid} is owned by {}, not this home's owner wallet",
                            subnet.owner
                        ),
                    });
                }
            }
            (state.netuid, state.data_netuid)
        }
        None => {
            let a = chain
                .create_subnet(&owner_cold, competition_hyperparameters(config))
                .await?;
            let b = chain
                .create_subnet(&owner_cold, data_hyperparameters(config))
                .await?;
            chain.produce_block()?;
            let missing = || LocalnetError::service("chain", "create_subnet assigned no netuid");
            (
                a.assigned.ok_or_else(missing)?,
                b.assigned.ok_or_else(missing)?,
            )
        }
    };
    let mut state = previous.unwrap_or(State {
        version: STATE_VERSION,
        netuid,
        data_netuid,
        base_model: config.base_model.name().to_string(),
        nodes: Vec::new(),
    });

    // Register every node that is not yet on its subnet, in one block.
    let plans = config.miner_plans();
    let mut wanted: Vec<(String, &str, NetUid)> = plans
        .iter()
        .map(|p| (p.name.clone(), "miner", netuid))
        .collect();
    wanted.extend((1..=config.validators).map(|j| (format!("validator{j}"), "validator", netuid)));
    wanted.push(("producer".into(), "producer", data_netuid));
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    let mut pending: Vec<NetUid> = Vec::new();
    let mut replacing = Vec::new();
    for (name, role, net) in &wanted {
        let (cold, hot) = layout.node_keys(name)?;
        let metagraph = chain.metagraph(*net).await?;
        if metagraph.uid_of(&hot.public()).is_none() {
            let subnet = chain.subnet(*net).await?;
            let queued = pending.iter().filter(|n| *n == net).count();
            let cap = usize::from(subnet.hyperparameters.max_allowed_uids);
            let full = usize::from(subnet.n) + queued >= cap;
            // Where it was before, if a previous run registered it (`localnet.json`).
            let lost = state.node(name).map(|n| {
                let holder = metagraph
                    .neurons
                    .get(usize::from(n.uid))
                    .map_or("nobody".to_string(), |h| h.hotkey.ss58());
                format!(
                    "{name} is no longer registered on subnet {net} (its uid {} is now {holder})",
                    n.uid
                )
            });
            let what = lost.unwrap_or_else(|| format!("{name} is not registered on subnet {net}"));
            if full && !config.reregister {
                notes.push(format!(
                    "{what}; the subnet is full ({cap} uids), so registering it would replace \
                     someone else's neuron: running without it (pass --reregister to register it \
                     anyway)"
                ));
                state.nodes.retain(|n| n.name != *name);
                continue;
            }
            chain.register(&cold, *net, &hot.public()).await?;
            pending.push(*net);
            if full {
                replacing.push((what, name.clone(), *net, hot.public()));
            } else if state.node(name).is_some() {
                notes.push(format!(
                    "{what}; registered again (the subnet had a free uid)"
                ));
            }
        }
        keys.push((name.clone(), *role, *net, cold, hot));
    }
    chain.produce_block()?;
    for (what, name, net, hot) in replacing {
        let uid = chain.metagraph(net).await?.uid_of(&hot);
        notes.push(format!(
            "{what}; registered again with --reregister into the full subnet, replacing uid {} \
             (the neuron with the lowest emission)",
            uid.map_or("?".to_string(), |u| u.to_string())
        ));
        tracing::warn!(node = %name, netuid = net, ?uid, "registered into a full subnet");
    }
    for note in &notes {
        tracing::warn!("{note}");
    }

    // Stake validators and the producer up to their targets.
    for (name, role, net, cold, hot) in &keys {
        let target = match *role {
            "validator" => config.validator_stake(validator_index(name)),
            "producer" => PRODUCER_STAKE,
            _ => continue,
        };
        let have = stake_of(chain, *net, hot).await?;
        if have < target {
            chain
                .add_stake(cold, &hot.public(), *net, target - have)
                .await?;
        }
    }
    chain.produce_block()?;

    let mut nodes = Nodes {
        netuid,
        data_netuid,
        miners: Vec::new(),
        validators: Vec::new(),
        // Signs batches even when it lost its uid (validators then refuse them, and a note
        // says why).
        producer: layout.node_keys("producer")?.1,
        state: state.clone(),
        notes,
    };
    for (name, role, net, _, hot) in keys {
        let metagraph = chain.metagraph(net).await?;
        let Some(uid) = metagraph.uid_of(&hot.public()) else {
            // Only a registration into the full subnet (`--reregister`) can have taken it.
            nodes.notes.push(format!(
                "{name} lost its uid on subnet {net} to a registration of this start \
                 (the subnet is full): running without it"
            ));
            state.nodes.retain(|n| n.name != name);
            continue;
        };
        let stake = stake_of(chain, net, &hot).await?;
        let plan = plans.iter().find(|p| p.name == name).cloned();
        state.upsert(Node {
            name: name.clone(),
            role: role.to_string(),
            hotkey: hot.public().ss58(),
            uid,
            train_steps: plan.as_ref().map(|p| p.steps),
            stake: (role != "miner").then_some(stake),
        });
        match (role, plan) {
            ("miner", Some(plan)) => nodes.miners.push(MinerNode {
                plan,
                hotkey: hot,
                uid,
            }),
            ("validator", _) => nodes.validators.push(ValidatorNode {
                name,
                hotkey: hot,
                uid,
                stake,
            }),
            _ => {}
        }
    }
    state.save(&state_path)?;
    nodes.state = state;
    Ok(nodes)
}

/// `validator3` → 3.
fn validator_index(name: &str) -> usize {
    name.trim_start_matches("validator").parse().unwrap_or(1)
}

async fn stake_of(chain: &Arc<LocalChain>, netuid: NetUid, hot: &Keypair) -> Result<u64> {
    let metagraph = chain.metagraph(netuid).await?;
    Ok(metagraph
        .neurons
        .iter()
        .find(|n| n.hotkey == hot.public())
        .map_or(0, |n| n.stake))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_chain::LocalChainOptions;
    use arena_validator::worker::WorkerCommand;

    fn config(home: &std::path::Path, miners: usize) -> LocalnetConfig {
        let worker = WorkerCommand {
            program: "arena".into(),
            args: vec![],
            env: vec![],
        };
        LocalnetConfig {
            miners,
            ..LocalnetConfig::new(home.to_path_buf(), worker)
        }
    }

    #[tokio::test]
    async fn setup_registers_once_and_a_rerun_adds_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let open = || {
            Arc::new(LocalChain::open(layout.chain_dir(), LocalChainOptions::default()).unwrap())
        };
        let chain = open();
        let nodes = setup(&layout, &config(dir.path(), 3), &chain)
            .await
            .unwrap();
        assert_eq!(nodes.miners.len(), 3);
        assert_eq!(nodes.validators.len(), 2);
        assert_eq!(nodes.validators[0].stake, 2_000_000_000_000);
        assert_eq!(nodes.validators[1].stake, 1_000_000_000_000);
        let mg = chain.metagraph(nodes.netuid).await.unwrap();
        assert_eq!(mg.neurons.len(), 5);
        let data = chain.metagraph(nodes.data_netuid).await.unwrap();
        assert_eq!(data.neurons.len(), 1);
        assert_eq!(data.neurons[0].stake, PRODUCER_STAKE);
        let height = chain.block_number().await.unwrap();
        drop(chain);

        // Second run, one more miner: same subnets, same uids, stakes not added twice.
        let chain = open();
        assert_eq!(chain.block_number().await.unwrap(), height);
        let again = setup(&layout, &config(dir.path(), 4), &chain)
            .await
            .unwrap();
        assert_eq!(
            (again.netuid, again.data_netuid),
            (nodes.netuid, nodes.data_netuid)
        );
        for (a, b) in nodes.miners.iter().zip(&again.miners) {
            assert_eq!((a.uid, a.hotkey.public()), (b.uid, b.hotkey.public()));
        }
        assert_eq!(again.miners.len(), 4);
        assert_eq!(again.validators[0].stake, 2_000_000_000_000);
        assert_eq!(
            chain.metagraph(again.netuid).await.unwrap().neurons.len(),
            6
        );
        assert_eq!(again.state.role("miner").len(), 4);
    }

    fn hotkeys(mg: &arena_chain::Metagraph) -> Vec<String> {
        mg.neurons.iter().map(|n| n.hotkey.ss58()).collect()
    }

    /// Third parties fill the competition subnet and one more registration evicts miner1. A
    /// restart must not take a uid back from anyone: miner1 is left out, with a note naming
    /// the flag; only `--reregister` registers it (and says whose uid it took).
    #[tokio::test]
    async fn a_pruned_node_is_not_registered_into_a_full_subnet_without_reregister() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let chain =
            Arc::new(LocalChain::open(layout.chain_dir(), LocalChainOptions::default()).unwrap());
        let nodes = setup(&layout, &config(dir.path(), 3), &chain)
            .await
            .unwrap();
        let netuid = nodes.netuid;
        let miner1 = nodes.miners[0].clone();
        let subnet = chain.subnet(netuid).await.unwrap();
        let cold = Keypair::from_uri("//ThirdParty").unwrap();
        for i in subnet.n..subnet.hyperparameters.max_allowed_uids {
            let hot = Keypair::from_uri(&format!("//ThirdParty/{i}")).unwrap();
            chain.register(&cold, netuid, &hot.public()).await.unwrap();
        }
        chain.produce_block().unwrap();
        let intruder = Keypair::from_uri("//ThirdParty/last").unwrap();
        chain
            .register(&cold, netuid, &intruder.public())
            .await
            .unwrap();
        chain.produce_block().unwrap();
        let full = chain.metagraph(netuid).await.unwrap();
        assert_eq!(full.uid_of(&intruder.public()), Some(miner1.uid));
        assert_eq!(full.uid_of(&miner1.hotkey.public()), None);

        // Restart: nobody is registered, miner1 is left out, and the note says why.
        let again = setup(&layout, &config(dir.path(), 3), &chain)
            .await
            .unwrap();
        let after = chain.metagraph(netuid).await.unwrap();
        assert_eq!(hotkeys(&after), hotkeys(&full), "no registration happened");
        assert_eq!(after.uid_of(&intruder.public()), Some(miner1.uid));
        let names: Vec<&str> = again.miners.iter().map(|m| m.plan.name.as_str()).collect();
        assert_eq!(names, ["miner2", "miner3"]);
        assert_eq!(again.validators.len(), 2);
        assert_eq!(again.notes.len(), 1, "{:?}", again.notes);
        let note = &again.notes[0];
        assert!(
            note.contains("miner1 is no longer registered")
                && note.contains(&intruder.public().ss58())
                && note.contains("--reregister"),
            "{note}"
        );
        assert!(again.state.node("miner1").is_none());
        let saved = State::load(&layout.state_file()).unwrap().unwrap();
        assert!(
            saved.node("miner1").is_none(),
            "localnet.json lists no stale uid"
        );

        // With --reregister it is registered again, replacing exactly one neuron, and said so.
        let forced = LocalnetConfig {
            reregister: true,
            ..config(dir.path(), 3)
        };
        let third = setup(&layout, &forced, &chain).await.unwrap();
        assert!(third.miners.iter().any(|m| m.plan.name == "miner1"));
        let now = chain.metagraph(netuid).await.unwrap();
        let uid = now
            .uid_of(&miner1.hotkey.public())
            .expect("miner1 registered");
        let changed: Vec<usize> = (0..now.neurons.len())
            .filter(|&i| now.neurons[i].hotkey != after.neurons[i].hotkey)
            .collect();
        assert_eq!(changed, [usize::from(uid)]);
        assert!(
            third
                .notes
                .iter()
                .any(|n| n.contains("--reregister") && n.contains(&format!("replacing uid {uid}"))),
            "{:?}",
            third.notes
        );
        // The neuron replaced is the one with the lowest emission and earliest registration:
        // here one of the localnet's own (all emissions are 0), which is then left out too.
        let evicted = after.neurons[usize::from(uid)].hotkey.ss58();
        if let Some(node) = again.state.nodes.iter().find(|n| n.hotkey == evicted) {
            assert!(
                third
                    .notes
                    .iter()
                    .any(|n| n.contains(&format!("{} lost its uid", node.name))),
                "{:?}",
                third.notes
            );
            assert!(third.state.node(&node.name).is_none());
        }
    }
}
