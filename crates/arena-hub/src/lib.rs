//! A model hub that speaks the Hugging Face Hub HTTP API: a server ([`server`]), a client
//! ([`client::HubClient`]) that works against it and against huggingface.co, a snapshot cache
//! laid out by repo and revision, the model hash miners commit to ([`model_hash`]), and the
//! download-and-verify of a committed model that validators and miners share ([`verify`]).
//!
//! Large files always travel through Git LFS (never Xet); small ones inline in the commit.
//! Every byte received is checked against its digest before it becomes visible.
//!
//! ```no_run
//! # async fn demo() -> Result<(), arena_hub::HubError> {
//! use arena_hub::client::{DownloadOptions, HubClient};
//! let hub = HubClient::new("http://127.0.0.1:8700", Some("alice-token".into()))?;
//! hub.create_repo("alice/tiny", true, true).await?;
//! let commit = hub.upload_folder("alice/tiny", std::path::Path::new("model/"), "v1").await?;
//! let snapshot = hub
//!     .download("alice/tiny", &commit, std::path::Path::new("cache/"), &DownloadOptions::default())
//!     .await?;
//! println!("{} {}", snapshot.commit, snapshot.model_hash.directory_hash);
//! # Ok(()) }
//! ```

pub mod client;
pub mod datasets_server;
mod error;
pub mod gitobj;
pub mod model_hash;
pub mod paths;
pub mod server;
pub mod verify;

pub use error::{HubError, Result};
pub use paths::RepoType;
