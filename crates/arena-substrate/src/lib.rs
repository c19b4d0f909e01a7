//! The embedded chain ([`arena_chain::LocalChain`]) behind Subtensor's protocol, so that the
//! Python `bittensor` SDK, btcli-style reads and arena's own Subtensor client work against
//! `arena chain serve` and `arena localnet` as against a local Subtensor node.
//!
//! * [`types`]: the SCALE types with Subtensor's names and shapes (one Rust type per registry
//!   type: they encode the answers, decode the extrinsics and describe both).
//! * [`metadata`]: the chain's own metadata (V14 and V15 over one registry), built with
//!   `frame-metadata`.
//! * [`storage`]: storage keys with Substrate's hashers, answered from the chain's state.
//! * [`extrinsic`]: signed extrinsics decoded and checked as Subtensor checks them.
//! * [`rpc`]: the Substrate JSON-RPC methods, merged with arena's own (`arena_*`) on one port.

pub mod extrinsic;
pub mod metadata;
pub mod rpc;
pub mod runtime_api;
pub mod storage;
pub mod types;

pub use rpc::{module, serve};
