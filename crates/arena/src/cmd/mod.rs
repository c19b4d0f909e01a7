//! One module per subcommand group.
pub mod chain;
pub mod chain_node;
pub mod chain_yuma;
pub mod config;
pub mod wallet;
