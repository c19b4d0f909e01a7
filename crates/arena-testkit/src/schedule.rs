//! Competition schedules for tests.

use crate::fixtures::TOKENIZER_SHA256;

/// One competition sized for the tiny fixture models (100k to 300k parameters, at most 3 MB,
/// f32, sequence length 512, pairwise scoring, winner takes all) with one `word_sorting` task
/// scored by reference loss, alone in a schedule from block 0. The fields that tests vary are
/// set with the builder methods; [`TinyCompetition::toml`] writes the schedule.
#[derive(Debug, Clone)]
pub struct TinyCompetition {
    id: u32,
    name: String,
    architectures: Vec<String>,
    tokenizer: String,
    eval_block_delay: u64,
    epsilon: f64,
    dataset: String,
    samples: u32,
}

impl TinyCompetition {
    /// Competition 1 named `name`: Llama only, the fixtures' tokenizer pinned by hash, no
    /// evaluation delay, epsilon 0.005, 8 samples of generated word sorting.
    pub fn new(name: &str) -> TinyCompetition {
        TinyCompetition {
            id: 1,
            name: name.to_string(),
            architectures: vec!["LlamaForCausalLM".to_string()],
            tokenizer: format!(r#"{{ kind = "pinned", sha256 = "{TOKENIZER_SHA256}" }}"#),
            eval_block_delay: 0,
            epsilon: 0.005,
            dataset: r#"{ generator = "word_sorting" }"#.to_string(),
            samples: 8,
        }
    }

    /// The competition's id.
    pub fn id(mut self, id: u32) -> Self {
        self.id = id;
        self
    }

    /// The architectures it allows.
    pub fn architectures(mut self, names: &[&str]) -> Self {
        self.architectures = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// The TOML of its `tokenizer` (an inline table).
    pub fn tokenizer(mut self, toml: &str) -> Self {
        self.tokenizer = toml.to_string();
        self
    }

    /// Blocks between a commitment and its evaluation.
    pub fn eval_block_delay(mut self, blocks: u64) -> Self {
        self.eval_block_delay = blocks;
        self
    }

    /// The fixed epsilon a challenger must beat the incumbent by.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The TOML of the task's `dataset` (an inline table).
    pub fn dataset(mut self, toml: &str) -> Self {
        self.dataset = toml.to_string();
        self
    }

    /// Samples drawn for the task.
    pub fn samples(mut self, samples: u32) -> Self {
        self.samples = samples;
        self
    }

    /// The schedule's TOML text.
    pub fn toml(&self) -> String {
        let architectures = self
            .architectures
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            r#"
[[entries]]
start_block = 0
  [[entries.competitions]]
  id = {id}
  name = "{name}"
  reward = 1.0
  scoring = {{ policy = "pairwise", step_weights = "winner_takes_all" }}
  [entries.competitions.constraints]
  min_params = 100_000
  max_params = 300_000
  max_bytes = 3_000_000
  sequence_length = 512
  architectures = [{architectures}]
  tokenizer = {tokenizer}
  dtype = "f32"
  eval_block_delay = {delay}
  epsilon = {{ kind = "fixed", value = {epsilon} }}
  [[entries.competitions.tasks]]
  id = "word_sorting"
  method = {{ kind = "reference_loss" }}
  dataset = {dataset}
  samples = {samples}
  weight = 1.0
"#,
            id = self.id,
            name = self.name,
            tokenizer = self.tokenizer,
            delay = self.eval_block_delay,
            epsilon = self.epsilon,
            dataset = self.dataset,
            samples = self.samples,
        )
    }
}
