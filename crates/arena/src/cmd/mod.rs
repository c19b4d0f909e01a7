//! One module per subcommand group.
pub mod chain;
pub mod chain_node;
pub mod chain_yuma;
pub mod bench;
pub mod config;
pub mod hub;
pub mod miner;
pub mod model;
pub mod model_check;
pub mod wallet;
