//! One module per subcommand group (`main` dispatches to these), and the modules of their
//! subcommands (their group dispatches to them). Shared glue lives in `crate::context`.
pub(crate) mod bench;
mod bench_model;
mod bench_train;
mod bench_validator;
pub(crate) mod chain;
mod chain_node;
mod chain_tx;
mod chain_yuma;
pub(crate) mod config;
pub(crate) mod data;
pub(crate) mod hub;
pub(crate) mod leaderboard;
pub(crate) mod localnet;
pub(crate) mod miner;
mod miner_check;
mod miner_train;
pub(crate) mod model;
mod model_check;
mod model_eval;
pub(crate) mod validator;
pub(crate) mod wallet;
