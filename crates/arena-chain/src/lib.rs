//! The chain side of finetune-arena: the [`Chain`] trait that miners, validators, the data
//! feed and the leaderboard program against, and an embedded chain that implements it.
//!
//! * [`LocalChain`]: subnets, registration (coldkey → hotkey → uid, replacement when full),
//!   stake, commitments with the Commitments pallet's rules, `set_weights` with subtensor's
//!   checks, and a Yuma Consensus epoch every `tempo` blocks (via `arena-yuma`). Every state
//!   change is an sr25519-signed extrinsic with a per-account nonce ([`extrinsic`]); state
//!   lives in SQLite (WAL), one transaction per block.
//! * [`rpc::serve`] exposes a `LocalChain` as JSON-RPC 2.0 over HTTP and [`ChainClient`]
//!   implements [`Chain`] over it, so other processes use it exactly like the in-process chain.
//!
//! ```no_run
//! # async fn demo() -> Result<(), arena_chain::ChainError> {
//! use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions};
//! use arena_keys::Keypair;
//!
//! let dir = std::env::temp_dir().join("arena-chain-demo");
//! let chain = LocalChain::open(&dir, LocalChainOptions::default())?;
//! let owner = Keypair::from_uri("//Alice").unwrap();
//! let hotkey = Keypair::from_uri("//Alice/hot").unwrap();
//! let netuid = chain
//!     .create_subnet(&owner, Hyperparameters { tempo: 10, ..Default::default() })
//!     .await?
//!     .assigned
//!     .unwrap();
//! chain.produce_block()?;
//! chain.register(&owner, netuid, &hotkey.public()).await?;
//! chain.produce_block()?;
//! chain.set_commitment(&hotkey, netuid, b"me:model:0123:hash:1").await?;
//! chain.produce_block()?;
//! let c = chain.commitment(netuid, &hotkey.public()).await?.unwrap();
//! assert_eq!(c.text(), Some("me:model:0123:hash:1"));
//! # Ok(()) }
//! ```

mod chain;
mod client;
mod epoch;
mod error;
pub mod extrinsic;
pub mod header;
pub mod local;
pub mod rpc;
mod runtime;
mod store;
pub mod types;

pub use chain::Chain;
pub use client::ChainClient;
pub use error::{ChainError, ChainResult};
pub use extrinsic::{BodyExtrinsic, Call, EncodedExtrinsic, SignedExtrinsic};
pub use header::Header;
pub use local::{LocalChain, LocalChainOptions};
pub use types::{
    BlockHash, BlockInfo, BlockNumber, Commitment, Hyperparameters, Metagraph, NetUid, NeuronInfo,
    Receipt, SubnetInfo, Uid, WeightRow,
};
