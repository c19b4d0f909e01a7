//! The Commitments pallet's budget as a miner sees it: each `set_commitment` costs
//! `max(100, bytes)` from `max_commitment_space` per hotkey per epoch, and the budget resets
//! when the subnet's epoch index changes (an epoch runs at the end of the first block `b` with
//! `b − last_epoch_block ≥ tempo`).

use std::time::Duration;

use arena_chain::{Chain, ChainError, NetUid, SubnetInfo};

/// First block whose extrinsics are charged to the next epoch's budget, seen from `head`.
pub fn next_budget_block(subnet: &SubnetInfo, head: u64) -> u64 {
    let epoch_block = subnet.last_epoch_block + u64::from(subnet.hyperparameters.tempo);
    if epoch_block > head {
        epoch_block + 1
    } else {
        // Due already: the epoch runs at the end of the next block.
        head + 2
    }
}

/// Waits until the subnet's epoch index moves past `epoch_index` (its budget reset), polling
/// every `poll`.
pub async fn wait_for_new_epoch(
    chain: &dyn Chain,
    netuid: NetUid,
    epoch_index: u64,
    poll: Duration,
) -> Result<(), ChainError> {
    loop {
        if chain.subnet(netuid).await?.epoch_index > epoch_index {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_budget_block_follows_the_dynamic_tempo() {
        let owner = arena_keys::Keypair::from_uri("//Owner").unwrap().public();
        let mut subnet = SubnetInfo {
            netuid: 1,
            owner,
            created_block: 1,
            last_epoch_block: 21,
            epoch_index: 1,
            n: 2,
            hyperparameters: arena_chain::Hyperparameters {
                tempo: 20,
                ..Default::default()
            },
        };
        // The epoch runs at the end of block 41, so block 42 is charged to the new budget.
        assert_eq!(next_budget_block(&subnet, 30), 42);
        // A due epoch runs at the end of the next block.
        subnet.last_epoch_block = 10;
        assert_eq!(next_budget_block(&subnet, 30), 32);
    }
}
