//! One module per subcommand group.
pub mod bench;
pub mod chain;
pub mod chain_node;
pub mod chain_yuma;
pub mod config;
pub mod data;
pub mod hub;
pub mod localnet;
pub mod leaderboard;
pub mod miner;
pub mod model;
pub mod model_check;
pub mod model_eval;
pub mod validator;
pub mod wallet;
