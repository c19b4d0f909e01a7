//! The competition schedule of a localnet, written to `<home>/schedule.toml` on first start.
//!
//! One competition fitted to the base model: its architecture and pinned tokenizer, a size
//! limit of twice its weights, and three reference-loss tasks the miners' fine-tuning can
//! improve — word sorting and arithmetic from the seeded generators, and the same kinds of
//! samples from the data subnet's signed feed, so fresh producer data is part of every score.
//! Pairwise scoring with a softmax over win rates gives graded weights (a clear leader, a
//! runner-up, nothing for the base model) rather than winner-takes-all, so the table shows
//! the whole ranking. The file is kept on later runs: edit it and validators reload it.

use std::path::Path;

use arena_core::competition::Schedule;

use crate::base::Base;
use crate::error::{LocalnetError, Result};
use crate::home::write_atomic;

/// Dataset name of the feed task; validators map it to their feed source.
pub const FEED_DATASET: &str = "localnet-feed";

/// Competition id miners commit to.
pub const COMPETITION_ID: u32 = 1;

/// Sample kinds the producer publishes and the feed task uses.
pub const FEED_TASKS: [&str; 2] = ["word_sorting", "arithmetic"];

/// The schedule text for `base`, with `eval_block_delay` blocks between commit and evaluation.
pub fn schedule_toml(base: &Base, eval_block_delay: u64) -> String {
    // f32 weights: four bytes per parameter.
    let params = base.weight_bytes / 4;
    let max_params = params * 2;
    let max_bytes = base.weight_bytes * 2 + (16 << 20);
    format!(
        r#"# Competition schedule of this localnet. Validators reload it when it changes.
# Written for base model "{name}"; delete it to get the default back on the next start.

[[entries]]
start_block = 0

  [[entries.competitions]]
  id = {COMPETITION_ID}
  name = "localnet-{name}"
  reward = 1.0
  # Graded weights: softmax over win rates (SN9 style) instead of winner-takes-all.
  scoring = {{ policy = "pairwise", step_weights = "softmax", temperature = 0.5 }}

  [entries.competitions.constraints]
  max_params = {max_params}
  max_bytes = {max_bytes}
  sequence_length = 512
  architectures = ["{arch}"]
  tokenizer = {{ kind = "pinned", sha256 = "{tok}", name = "{name}" }}
  dtype = "f32"
  eval_block_delay = {eval_block_delay}
  epsilon = {{ kind = "fixed", value = 0.005 }}

  [[entries.competitions.tasks]]
  id = "word_sorting"
  method = {{ kind = "reference_loss" }}
  dataset = {{ generator = "word_sorting" }}
  samples = 24
  weight = 0.4

  [[entries.competitions.tasks]]
  id = "arithmetic"
  method = {{ kind = "reference_loss" }}
  dataset = {{ generator = "arithmetic" }}
  samples = 24
  weight = 0.3

  [[entries.competitions.tasks]]
  id = "feed"
  method = {{ kind = "reference_loss" }}
  dataset = {{ feed = "{FEED_DATASET}" }}
  samples = 24
  weight = 0.3
"#,
        name = base.name,
        arch = base.architecture,
        tok = base.tokenizer_sha256,
    )
}

/// Writes the schedule unless the file exists; either way returns the schedule in force,
/// refusing a file that does not parse (naming it).
pub fn ensure(path: &Path, base: &Base, eval_block_delay: u64) -> Result<Schedule> {
    if !path.is_file() {
        write_atomic(path, schedule_toml(base, eval_block_delay).as_bytes())?;
    }
    let text = std::fs::read_to_string(path).map_err(LocalnetError::io(path))?;
    Schedule::from_toml_str(&text).map_err(|e| LocalnetError::State {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_core::competition::{DatasetSpec, TokenizerSpec};

    #[test]
    fn the_schedule_parses_and_fits_the_base_model() {
        let base = Base {
            name: "tiny",
            dir: "x".into(),
            architecture: "LlamaForCausalLM".into(),
            tokenizer_sha256: "62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a"
                .into(),
            weight_bytes: 896_360,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.toml");
        let schedule = ensure(&path, &base, 4).unwrap();
        let comps = schedule.active_at(1_000);
        assert_eq!(comps.len(), 1);
        let c = &comps[0];
        assert_eq!(c.id, COMPETITION_ID);
        assert_eq!(c.constraints.max_params, 448_180);
        assert_eq!(c.constraints.eval_block_delay, 4);
        assert!(
            matches!(&c.constraints.tokenizer, TokenizerSpec::Pinned { sha256, .. } if sha256 == &base.tokenizer_sha256)
        );
        assert!(c
            .tasks
            .iter()
            .any(|t| t.dataset == DatasetSpec::Feed(FEED_DATASET.into())));
        // An edited file is kept; a broken one is refused by name.
        std::fs::write(&path, "garbage = [").unwrap();
        let err = ensure(&path, &base, 4).unwrap_err().to_string();
        assert!(err.contains("schedule.toml"), "{err}");
    }
}
