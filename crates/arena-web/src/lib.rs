//! The leaderboard of finetune-arena: who leads each competition, by how much, and what the
//! chain pays them, read from the chain and from the validators' own state databases.
//!
//! * [`standings`] builds the `/api/standings` document: per competition, every model whose
//!   commitment names it, with its score, win rate and per-task scores from a validator's latest
//!   step, the weights each validator set on chain and their stake-weighted consensus, and the
//!   incentive and emission of the last epoch.
//! * [`history`] builds `/api/history`: scores, win rates and weights per uid over the steps a
//!   validator recorded, for the chart.
//! * [`router`] / [`serve`] expose both as JSON and as a page (`GET /`) whose HTML, CSS and
//!   JavaScript are compiled into the binary, so nothing is fetched from the internet.
//! * [`render_table`] prints the standings as plain text (`arena leaderboard show`, localnet).
//!
//! How several validators combine (see [`gather`]): the scores of a competition come from the
//! validator with the **highest stake** among those whose state has a step for it (ties: the
//! most recent step); each model's state (evaluated, waiting, queued, rejected, not evaluated)
//! comes from the highest-stake validator whose state knows the model's current commitment;
//! every validator's on-chain weight is listed separately, and `weight` is the stake-weighted
//! mean of those of validators holding a permit. A store that is missing or unreadable does not
//! fail the page: its error is reported in the document next to the other validators.
//!
//! The schedule ([`ScheduleSource`]) may be a file: it is re-read whenever it changes, so the
//! active competitions and rewards follow schedule edits without a restart.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use arena_web::Sources;
//!
//! let chain = Arc::new(arena_chain::ChainClient::new("http://127.0.0.1:9944")?);
//! let src = Arc::new(Sources {
//!     chain,
//!     netuid: 1,
//!     validator_stores: vec![".arena/validator/validator.sqlite".into()],
//!     schedule: arena_core::competition::default_schedule()?.into(),
//! });
//! println!("{}", arena_web::render_table(&arena_web::standings(&src).await?));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! arena_web::serve(listener, src, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod gather;
pub mod model;
mod schedule;
mod server;
mod table;

use std::path::PathBuf;
use std::sync::Arc;

use arena_chain::{Chain, ChainError, NetUid};

pub use model::{
    CompetitionHistory, CompetitionStandings, History, ModelStanding, ModelState, ModelStatus,
    Point, ScoredBy, Series, Standings, TaskScoreView, ValidatorInfo, ValidatorStatus,
    ValidatorWeight,
};
pub use schedule::{ScheduleLoadError, ScheduleSource};
pub use server::{router, serve};
pub use table::render_table;

/// Where the leaderboard reads from. Built once by the caller (CLI or localnet) and shared.
pub struct Sources {
    /// The chain: metagraph (stake, incentive, emission), commitments and weights.
    pub chain: Arc<dyn Chain>,
    /// The subnet shown.
    pub netuid: NetUid,
    /// Paths of validators' `validator.sqlite` (a directory means `<dir>/validator.sqlite`).
    pub validator_stores: Vec<PathBuf>,
    /// Competition names, rewards and task lists (a file is re-read when it changes).
    pub schedule: ScheduleSource,
}

/// Why a document could not be built at all (stores never fail it; their errors are listed
/// inside the document instead).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A chain read failed: the chain is down, or the subnet does not exist.
    #[error("chain: reading {what} of subnet {netuid}: {source}")]
    Chain {
        /// What was being read (`metagraph`, `hyperparameters`, `commitments`, `weights`).
        what: &'static str,
        /// The subnet.
        netuid: NetUid,
        /// The chain's error.
        source: ChainError,
    },
    /// A blocking store read was cancelled or panicked.
    #[error("reading validator state: background task failed: {0}")]
    Task(String),
}

/// The `/api/standings` document: the standings as of the chain's latest block.
pub async fn standings(src: &Sources) -> Result<Standings, WebError> {
    let snap = gather::Snapshot::take(src).await?;
    Ok(snap.standings())
}

/// The `/api/history` document: per competition, per uid, the series of the scoring validator.
pub async fn history(src: &Sources) -> Result<History, WebError> {
    let snap = gather::Snapshot::take(src).await?;
    snap.history().await
}
