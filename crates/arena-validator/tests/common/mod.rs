//! The validator tests' network (from `arena-testkit`): a local chain, a hub on 127.0.0.1:0
//! that logs every request, miners that upload fixture models (some crafted to be bad) and
//! commit them.

#![allow(dead_code, unused_imports)]

use std::sync::LazyLock;

use arena_chain::Hyperparameters;
pub use arena_testkit::eval::FixedQuality;
pub use arena_testkit::fixtures::{copy_fixture, write_one_tensor};
pub use arena_testkit::net::serve_logged;
pub use arena_testkit::{Miner, Net, TinyCompetition};

/// Competition 1 sized for the fixtures: 3 MB, 300k parameters, delay 5 blocks, one generated
/// task of 4 samples.
pub static SCHEDULE: LazyLock<String> = LazyLock::new(|| {
    TinyCompetition::new("tiny-instruct")
        .architectures(&["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"])
        .eval_block_delay(5)
        .samples(4)
        .toml()
});

/// The default network (tempo 10, weights every 5 blocks), its hub requests logged.
pub async fn net() -> Net {
    Net::builder().log_hub_requests().start().await
}

/// A network whose subnet has the hyperparameters `hp`, its hub requests logged.
pub async fn net_with(hp: Hyperparameters) -> Net {
    Net::builder()
        .hyperparameters(hp)
        .log_hub_requests()
        .start()
        .await
}
