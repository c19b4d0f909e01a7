//! A client of Subtensor, the Bittensor chain: finney, testnet or any Subtensor node.
//!
//! Everything is driven by the runtime's metadata (V14, V15 or V16): pallet and call indices,
//! argument types, storage keys and hashers, runtime-API types, transaction extensions and
//! pallet error names are read from it, never written here. Metadata comes from the node at
//! connect time (and again when the runtime's spec version changes) or from a file, for
//! offline signing review.
//!
//! * [`Runtime`]: one runtime's metadata; [`SubtensorCall`] encodes calls with it;
//!   [`tx`] builds signing payloads and signed extrinsics.
//! * [`Value`]: dynamic SCALE over the metadata's type registry, bounded against hostile
//!   input.

mod calls;
mod client;
mod error;
pub mod events;
mod meta;
#[cfg(feature = "replay")]
pub mod replay;
mod rpc;
pub mod tx;
mod value;
pub mod weights;

pub use calls::{raw_data, SubtensorCall, MAX_RAW_COMMITMENT};
pub use client::{Options, Subtensor, FINNEY, TESTNET};
pub use error::{Error, Result};
pub use meta::{compact, decode_metadata, Runtime};
pub use value::{decode_all, decode_as, encode_as, Value};
pub use weights::{DrandQuicknet, WeightsSealer};
