//! The validator's checks on a downloaded model folder before it is queued: the checkpoint
//! crate's [`precheck`] with the competition's constraints (architecture, parameters over every
//! safetensors header, pickled weights refused, every float weight scanned for NaN/infinity,
//! tokenizer identity). The validator's policy around it lives in `update`: the byte limit
//! from the hub's metadata before any download, the hash check against the committing hotkey,
//! and what a rejection does to the snapshot. Norm checks need the weights' norms and run in
//! the worker (`arena-eval`).

pub use arena_checkpoint::checks::{precheck, Prechecked};

#[cfg(test)]
mod tests;
