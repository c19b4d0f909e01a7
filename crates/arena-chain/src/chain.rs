//! The `Chain` trait: what miners, validators, the data feed and the leaderboard need from a
//! chain, shaped after subtensor's storage, runtime APIs and dispatchables so that a client of
//! the real Subtensor chain can implement it too.
//!
//! It is object-safe (`async_trait`): hold an `Arc<dyn Chain>` and swap the in-process
//! [`crate::LocalChain`] for the JSON-RPC [`crate::ChainClient`] (or a later Subtensor client)
//! without touching the caller.
//!
//! Reads return the state as of the latest produced block. Signed calls return a
//! [`Receipt`] once the extrinsic is accepted into the block being built; their effects become
//! readable when that block is produced (as on Substrate, after inclusion).

use arena_keys::{Keypair, PublicKey};
use async_trait::async_trait;

use crate::error::ChainResult;
use crate::extrinsic::Call;
use crate::types::{
    BlockHash, BlockInfo, BlockNumber, Commitment, Hyperparameters, Metagraph, NetUid, Receipt,
    SubnetInfo, WeightRow,
};

/// A chain: reads of blocks and subnet state, and signed calls.
#[async_trait]
pub trait Chain: Send + Sync {
    /// Height of the latest produced block.
    async fn block_number(&self) -> ChainResult<BlockNumber>;

    /// Hash of block `number`, or of the latest block when `None`; `Ok(None)` if no such
    /// block exists yet. Validators seed their sampling with it.
    async fn block_hash(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockHash>>;

    /// Header data of block `number` (latest when `None`); `Ok(None)` if not produced yet.
    async fn block(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockInfo>>;

    /// Hash of block 0. Signatures commit to it, so extrinsics cannot move between chains.
    async fn genesis_hash(&self) -> ChainResult<BlockHash>;

    /// Netuids of all subnets.
    async fn subnets(&self) -> ChainResult<Vec<NetUid>>;

    /// A subnet's bookkeeping (owner, epochs, size, parameters).
    async fn subnet(&self, netuid: NetUid) -> ChainResult<SubnetInfo>;

    /// A subnet's parameters (`get_subnet_hyperparams`).
    async fn hyperparameters(&self, netuid: NetUid) -> ChainResult<Hyperparameters>;

    /// Every uid of a subnet with stake, permits and the last epoch's results.
    async fn metagraph(&self, netuid: NetUid) -> ChainResult<Metagraph>;

    /// A hotkey's current commitment on a subnet (`CommitmentOf`).
    async fn commitment(
        &self,
        netuid: NetUid,
        hotkey: &PublicKey,
    ) -> ChainResult<Option<Commitment>>;

    /// All commitments of a subnet (`get_all_commitments`), ordered by hotkey.
    async fn commitments(&self, netuid: NetUid) -> ChainResult<Vec<Commitment>>;

    /// Stored weight rows of a subnet (only uids that set weights), ordered by uid.
    async fn weights(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>>;

    /// Stored bond rows of a subnet (only non-empty rows), ordered by uid: the epoch's memory
    /// (`Bonds`; u16 fractions under Yuma 3, column max-upscaled under classic bonds).
    async fn bonds(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>>;

    /// The next nonce of an account, counting extrinsics accepted into the block being built
    /// (`system_accountNextIndex`).
    async fn account_nonce(&self, account: &PublicKey) -> ChainResult<u64>;

    /// Signs `call` with `signer` (the account's next nonce) and submits it; every signed call
    /// below goes through here, so an implementation writes the signing path once.
    async fn submit_call(&self, signer: &Keypair, call: Call) -> ChainResult<Receipt>;

    /// `register_network`: a new subnet owned by `owner_coldkey`; the receipt's `assigned`
    /// holds the netuid.
    async fn create_subnet(
        &self,
        owner_coldkey: &Keypair,
        hyperparameters: Hyperparameters,
    ) -> ChainResult<Receipt> {
        self.submit_call(owner_coldkey, Call::CreateSubnet { hyperparameters })
            .await
    }

    /// `burned_register`: gives `hotkey` a uid on `netuid`, owned by `coldkey`; the receipt's
    /// `assigned` holds the uid.
    async fn register(
        &self,
        coldkey: &Keypair,
        netuid: NetUid,
        hotkey: &PublicKey,
    ) -> ChainResult<Receipt> {
        let hotkey = *hotkey;
        self.submit_call(coldkey, Call::BurnedRegister { netuid, hotkey })
            .await
    }

    /// `add_stake`: adds `amount` rao of stake to `hotkey` on `netuid`.
    async fn add_stake(
        &self,
        coldkey: &Keypair,
        hotkey: &PublicKey,
        netuid: NetUid,
        amount: u64,
    ) -> ChainResult<Receipt> {
        let call = Call::AddStake {
            hotkey: *hotkey,
            netuid,
            amount,
        };
        self.submit_call(coldkey, call).await
    }

    /// `Commitments.set_commitment` with one `Raw` field (≤ 128 bytes), signed by the hotkey.
    async fn set_commitment(
        &self,
        hotkey: &Keypair,
        netuid: NetUid,
        data: &[u8],
    ) -> ChainResult<Receipt> {
        let data = data.to_vec();
        self.submit_call(hotkey, Call::SetCommitment { netuid, data })
            .await
    }

    /// `set_weights`, signed by the validator's hotkey. Values are max-upscaled by the chain.
    async fn set_weights(
        &self,
        hotkey: &Keypair,
        netuid: NetUid,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> ChainResult<Receipt> {
        let call = Call::SetWeights {
            netuid,
            uids: uids.to_vec(),
            weights: weights.to_vec(),
            version_key,
        };
        self.submit_call(hotkey, call).await
    }
}
