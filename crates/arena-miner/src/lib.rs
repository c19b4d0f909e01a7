//! The miner's side of finetune-arena: train a model, compare it with the
//! competition's incumbent, and publish it so validators can find, verify and evaluate it.
//!
//! [`train::train`] fine-tunes a base model (full or LoRA, f32 or bf16 products) on
//! prompt/response pairs with the validator's masking, resumably; [`fetch::fetch_uid`]
//! downloads and verifies a committed model exactly as a validator does.
//!
//! [`push::push`] first refuses what validators would reject ([`push::preflight`]: hotkey not
//! registered, competition not running, commitment too long, a folder failing the
//! competition's checks of [`check::folder_checks`]), then uploads a folder to the hub as a
//! private repo, computes the model hash of the
//! uploaded revision exactly as validators will (checked against what the hub reports for that
//! revision, or by downloading it back), commits `namespace:name:commit:secure_hash:competition`
//! to the chain within the Commitments pallet's budget, reads the commitment back, and only then
//! makes the repo public. Every stage reached is recorded in a small [`journal::PushJournal`],
//! so an interrupted push resumes where it stopped and never commits twice.
//!
//! ```no_run
//! # async fn demo(chain: std::sync::Arc<dyn arena_chain::Chain>) -> Result<(), arena_miner::MinerError> {
//! use arena_miner::push::{push, PushRequest};
//! let hub = arena_hub::client::HubClient::new("http://127.0.0.1:8700", Some("alice-token".into()))?;
//! let hotkey = arena_keys::Keypair::from_uri("//Alice/hot").unwrap();
//! let request = PushRequest::new("model/".into(), "alice/tiny-1", 1, 1, ".arena".into());
//! let outcome = push(&hub, chain.as_ref(), &hotkey, &request).await?;
//! println!("committed {} in block {:?}", outcome.journal.commitment.unwrap(), outcome.journal.commit_block);
//! # Ok(()) }
//! ```

mod budget;
pub mod check;
mod error;
pub mod fetch;
pub mod journal;
pub mod push;
pub mod train;
mod verify;

pub use error::MinerError;
