//! Test support for finetune-arena, used only as a `[dev-dependencies]` entry (never by a
//! production crate, never published). Test set-up that more than one test file needs lives
//! here instead of being copied from file to file:
//!
//! * [`fixtures`]: where the fixture models are (`ARENA_TEST_FIXTURES`, else the workspace's
//!   `fixtures/`), writable copies of them, and the tiny Llama with a scaled output head.
//! * [`schedule`]: the competition TOML sized for the tiny fixture models ([`TinyCompetition`]).
//! * [`net`]: an in-process network: a local chain with one subnet, a hub, optionally the
//!   chain's JSON-RPC server and a signed data feed; registration, upload and commitment.
//! * [`process`]: running the `arena` binary from a test: a clean environment, its output as
//!   text or JSON, ANSI colour codes stripped.
//! * [`datasets`]: Subnet 37's reasoning datasets in their real schemas, as Parquet uploaded
//!   by the official Python client to a hub.
//! * [`eval`]: an evaluation engine with fixed scores, for the validator's service tests.
//! * [`demo`]: the recorded network the leaderboard's tests and demos read (two validators,
//!   four miners, three steps per competition).

pub mod datasets;
pub mod demo;
pub mod eval;
pub mod fixtures;
pub mod net;
pub mod process;
mod schedule;

pub use fixtures::{copy_fixture, fixtures};
pub use net::{Miner, Net, NetBuilder};
pub use schedule::TinyCompetition;
