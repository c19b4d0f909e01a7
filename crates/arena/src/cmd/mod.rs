//! One module per subcommand group.
pub mod config;
pub mod wallet;
