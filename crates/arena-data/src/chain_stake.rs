//! Stake read through the chain: every [`arena_chain::Chain`] is a [`StakeOracle`].
//!
//! The stake of a producer is its neuron's stake in the data subnet's metagraph; a hotkey
//! without a uid there is unregistered.

use std::sync::Arc;

use arena_chain::Chain;
use arena_keys::PublicKey;
use async_trait::async_trait;

use crate::accept::StakeOracle;
use crate::error::DataError;

#[async_trait]
impl<C: Chain + ?Sized> StakeOracle for C {
    async fn producer_stake(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<u64>, DataError> {
        let metagraph = self
            .metagraph(netuid)
            .await
            .map_err(|e| DataError::Stake(format!("metagraph of subnet {netuid}: {e}")))?;
        Ok(metagraph
            .neurons
            .iter()
            .find(|n| &n.hotkey == hotkey)
            .map(|n| n.stake))
    }

    async fn validator_permit(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<bool>, DataError> {
        let metagraph = self
            .metagraph(netuid)
            .await
            .map_err(|e| DataError::Stake(format!("metagraph of subnet {netuid}: {e}")))?;
        Ok(Some(
            metagraph
                .neurons
                .iter()
                .any(|n| &n.hotkey == hotkey && n.validator_permit),
        ))
    }
}

/// Wraps a shared `dyn Chain` (local or remote) as a shared stake oracle.
pub fn chain_oracle(chain: Arc<dyn Chain>) -> Arc<dyn StakeOracle> {
    Arc::new(ChainStakes(chain))
}

/// A `dyn Chain` behind an `Arc`, usable where an `Arc<dyn StakeOracle>` is wanted.
pub struct ChainStakes(pub Arc<dyn Chain>);

#[async_trait]
impl StakeOracle for ChainStakes {
    async fn producer_stake(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<u64>, DataError> {
        self.0.as_ref().producer_stake(netuid, hotkey).await
    }

    async fn validator_permit(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<bool>, DataError> {
        self.0.as_ref().validator_permit(netuid, hotkey).await
    }
}
