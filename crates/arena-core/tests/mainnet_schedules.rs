//! The mainnet schedules shipped in `schedules/`: each loads, and the facts the reference notes
//! record hold at blocks just before and just after each recorded change.

use arena_core::competition::{
    Comparison, Competition, DatasetSpec, Decoding, Dtype, DuplicateRule, EvalMethod, HubFormat,
    MultipleChoiceMode, Normalization, RuleWeighting, Schedule, ScoringPolicy, StepWeightRule,
    TextLossMode, TokenizerSpec,
};
use arena_core::epsilon::EpsilonFunc;

const SN37: &str = include_str!("../../../schedules/sn37.toml");
const SN9: &str = include_str!("../../../schedules/sn9.toml");
const SN29: &str = include_str!("../../../schedules/sn29.toml");

const GIB: u64 = 1 << 30;

fn load(text: &str) -> Schedule {
    Schedule::from_toml_str(text).unwrap_or_else(|e| panic!("{e}"))
}

/// `(id, reward)` of every competition active at `block`.
fn active(s: &Schedule, block: u64) -> Vec<(u32, f64)> {
    s.active_at(block)
        .iter()
        .map(|c| (c.id, c.reward))
        .collect()
}

fn comp(s: &Schedule, id: u32, block: u64) -> &Competition {
    s.competition_at(id, block)
        .unwrap_or_else(|| panic!("competition {id} is not active at block {block}"))
}

/// `(task id, weight)` of a competition at `block`.
fn tasks(s: &Schedule, id: u32, block: u64) -> Vec<(String, f64)> {
    comp(s, id, block)
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.weight))
        .collect()
}

fn named(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(n, w)| (n.to_string(), *w)).collect()
}

fn decay(start: f64, end: f64, blocks: u64) -> EpsilonFunc {
    EpsilonFunc::LinearDecay { start, end, blocks }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn sn37_competitions_and_rewards_by_block() {
    let s = load(SN37);
    // Nothing before the genesis block; SN9_MODEL alone from it.
    assert!(s.active_at(3_138_610).is_empty());
    assert_eq!(active(&s, 3_138_611), vec![(1, 1.0)]);
    assert_eq!(active(&s, 3_790_399), vec![(1, 1.0)]);
    // B7_MULTI_CHOICE annealed in by 5 % per 3 600 blocks from 3 790 400.
    assert_eq!(active(&s, 3_790_400), vec![(1, 0.95), (2, 0.05)]);
    assert_eq!(active(&s, 3_793_999), vec![(1, 0.95), (2, 0.05)]);
    assert_eq!(active(&s, 3_794_000), vec![(1, 0.9), (2, 0.1)]);
    assert_eq!(active(&s, 3_819_199), vec![(1, 0.6), (2, 0.4)]);
    // SN9_MODEL sunset at 3 819 200.
    assert_eq!(active(&s, 3_819_200), vec![(2, 1.0)]);
    // INSTRUCT_8B at 4 451 695 (10 %), 25 % from 4 552 883.
    assert_eq!(active(&s, 4_451_694), vec![(2, 1.0)]);
    assert_eq!(active(&s, 4_451_695), vec![(2, 0.9), (3, 0.1)]);
    assert_eq!(active(&s, 4_552_882), vec![(2, 0.9), (3, 0.1)]);
    assert_eq!(active(&s, 4_552_883), vec![(2, 0.75), (3, 0.25)]);
    // SUNSET_B7_BLOCK and SUNSET_INSTRUCT_8B_BLOCK.
    assert_eq!(active(&s, 4_675_162), vec![(2, 0.75), (3, 0.25)]);
    assert_eq!(active(&s, 4_675_163), vec![(3, 1.0)]);
    assert_eq!(active(&s, 5_158_631), vec![(3, 1.0)]);
    assert_eq!(active(&s, 5_158_632), vec![(4, 1.0)]);
    assert_eq!(active(&s, 9_000_000), vec![(4, 1.0)]);
    let names: Vec<&str> = [
        (1, 3_138_611),
        (2, 3_819_200),
        (3, 4_675_163),
        (4, 5_158_632),
    ]
    .iter()
    .map(|&(id, b)| comp(&s, id, b).name.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "SN9_MODEL",
            "B7_MULTI_CHOICE",
            "INSTRUCT_8B",
            "DISTILLED_REASONING_3B"
        ]
    );
}

#[test]
fn sn37_constraints() {
    let s = load(SN37);
    let gpt4 = TokenizerSpec::Hub {
        repo: "Xenova/gpt-4".into(),
        revision: None,
        sha256: None,
        files: Default::default(),
    };
    // B7_MULTI_CHOICE.
    let b7 = &comp(&s, 2, 4_000_000).constraints;
    assert_eq!((b7.min_params, b7.max_params), (0, 6_900_000_000));
    assert_eq!((b7.max_bytes, b7.sequence_length), (15 * GIB, 4096));
    assert_eq!(b7.tokenizer, gpt4);
    assert_eq!(b7.dtype, Dtype::Bf16);
    assert_eq!(b7.eval_block_delay, 460);
    assert_eq!(b7.epsilon, decay(0.05, 0.01, 36_000));
    assert_eq!(b7.architectures.len(), 7);
    assert!(b7.architectures.contains(&"GemmaForCausalLM".to_string()));
    assert!(!b7.architectures.contains(&"Gemma2ForCausalLM".to_string()));
    // INSTRUCT_8B: bring your own tokenizer, 20 GiB, 1 600-block delay, 1-day decay.
    let i8 = &comp(&s, 3, 4_600_000).constraints;
    assert_eq!((i8.max_params, i8.max_bytes), (8_100_000_000, 20 * GIB));
    assert_eq!(i8.tokenizer, TokenizerSpec::BringYourOwn);
    assert_eq!(i8.eval_block_delay, 1600);
    assert_eq!(i8.epsilon, decay(0.05, 0.01, 7_200));
    assert_eq!(i8.architectures.len(), 9);
    assert!(i8.architectures.contains(&"Phi3ForCausalLM".to_string()));
    // DISTILLED_REASONING_3B.
    let d3 = &comp(&s, 4, 5_158_632).constraints;
    assert_eq!(
        (d3.min_params, d3.max_params),
        (3_200_000_000, 3_400_000_000)
    );
    assert_eq!((d3.max_bytes, d3.sequence_length), (15 * GIB, 16_384));
    assert_eq!(d3.tokenizer, gpt4);
    assert_eq!(d3.eval_block_delay, 460);
    assert_eq!(d3.epsilon, decay(0.05, 0.01, 21_600));
    assert_eq!(d3.architectures, i8.architectures);
    for (id, block) in [
        (1, 3_138_611),
        (2, 4_000_000),
        (3, 4_600_000),
        (4, 5_500_000),
    ] {
        let n = comp(&s, id, block).constraints.norm_validation;
        assert_eq!((n.hard, n.soft, n.soft_fraction), (1000.0, 200.0, 0.15));
    }
    // Epsilon values the pairwise rule will use: comp 4 at half and past its decay window.
    assert!(close(
        d3.epsilon.epsilon(5_200_000 + 10_800, 5_200_000),
        0.03
    ));
    assert!(close(d3.epsilon.epsilon(5_300_000, 5_200_000), 0.01));
    // SN9_MODEL: fixed epsilon 0.005, 1 200-block delay, per-sample wins under a softmax.
    let sn9 = comp(&s, 1, 3_500_000);
    assert_eq!(sn9.constraints.epsilon, EpsilonFunc::Fixed { value: 0.005 });
    assert_eq!(sn9.constraints.eval_block_delay, 1200);
    assert_eq!(
        sn9.scoring,
        ScoringPolicy::Pairwise {
            step_weights: StepWeightRule::Softmax,
            temperature: 0.01,
            comparison: Comparison::PerUnit
        }
    );
}

#[test]
fn sn37_tasks_and_weights_by_block() {
    let s = load(SN37);
    assert_eq!(tasks(&s, 2, 3_819_200), named(&[("SYNTHETIC_MMLU", 1.0)]));
    assert_eq!(
        tasks(&s, 2, 4_164_408),
        named(&[("SYNTHETIC_MMLU", 0.975), ("WORD_SORTING", 0.025)])
    );
    assert_eq!(
        tasks(&s, 2, 4_250_807),
        named(&[("SYNTHETIC_MMLU", 0.975), ("WORD_SORTING", 0.025)])
    );
    assert_eq!(
        tasks(&s, 2, 4_250_808),
        named(&[
            ("SYNTHETIC_MMLU", 0.9),
            ("WORD_SORTING", 0.05),
            ("FINEWEB", 0.05)
        ])
    );
    // IF_EVAL_V2 at 4 503 159: 75 / 5 / 10 / 10 in both competitions.
    let v2 = named(&[
        ("SYNTHETIC_MMLU", 0.75),
        ("WORD_SORTING", 0.05),
        ("FINEWEB", 0.1),
        ("IF_EVAL_V2", 0.1),
    ]);
    assert_eq!(tasks(&s, 2, 4_503_158)[3].0, "IF_EVAL");
    assert_eq!(tasks(&s, 2, 4_503_159), v2);
    assert_eq!(tasks(&s, 3, 4_503_159), v2);
    assert_eq!(tasks(&s, 3, 4_675_163), v2);
    // Feb 2025: Macrobench on the hub and 30 / 5 / 35 / 30.
    assert_eq!(
        tasks(&s, 3, 5_000_000),
        named(&[
            ("SYNTHETIC_MMLU", 0.3),
            ("WORD_SORTING", 0.05),
            ("FINEWEB", 0.35),
            ("IF_EVAL_V2", 0.3)
        ])
    );
    let mmlu = |block| comp(&s, 3, block).tasks[0].dataset.clone();
    assert_eq!(mmlu(4_800_000), DatasetSpec::Feed("multiple_choice".into()));
    match mmlu(5_000_000) {
        DatasetSpec::Hub(h) => {
            assert_eq!(h.repo, "macrocosm-os/macrobench-bittensor-01");
            assert_eq!(h.format, HubFormat::Macrobench);
        }
        other => panic!("{other:?}"),
    }
    // DISTILLED_REASONING_3B: SYNTHETIC_1_SFT alone, CODEFORCES_COTS 50/50 from v3.0.3, 120
    // samples from v3.0.5.
    assert_eq!(tasks(&s, 4, 5_158_632), named(&[("SYNTHETIC_1_SFT", 1.0)]));
    assert_eq!(
        tasks(&s, 4, 5_201_837),
        named(&[("SYNTHETIC_1_SFT", 0.5), ("CODEFORCES_COTS", 0.5)])
    );
    assert_eq!(comp(&s, 4, 5_504_236).tasks[1].samples, 80);
    assert_eq!(comp(&s, 4, 5_504_237).tasks[1].samples, 120);
    for task in &comp(&s, 4, 5_504_237).tasks {
        let settings = task.settings();
        let prompt = settings
            .system_prompt
            .expect("comp 4 tasks have a system prompt");
        assert!(prompt.starts_with("You are a reflective AI"));
        assert!(prompt.contains("<think>"));
        assert!(settings.reference_special_tokens);
        assert_eq!(task.normalization, Normalization::None);
        let DatasetSpec::Hub(h) = &task.dataset else {
            panic!("{task:?}")
        };
        assert_eq!(h.pages, Some(1));
        assert!([
            "PrimeIntellect/SYNTHETIC-1-SFT-Data",
            "open-r1/codeforces-cots"
        ]
        .contains(&h.repo.as_str()));
    }
    // Winner takes all from v2.3.0 (estimated 4 164 408), softmax before.
    let rule = |block| match comp(&s, 2, block).scoring {
        ScoringPolicy::Pairwise { step_weights, .. } => step_weights,
        other => panic!("{other:?}"),
    };
    assert_eq!(rule(4_164_407), StepWeightRule::Softmax);
    assert_eq!(rule(4_164_408), StepWeightRule::WinnerTakesAll);
}

#[test]
fn sn37_evaluation_settings() {
    let s = load(SN37);
    let c = comp(&s, 3, 4_600_000);
    let by_id = |id: &str| c.tasks.iter().find(|t| t.id == id).unwrap();
    let mc = by_id("SYNTHETIC_MMLU");
    assert_eq!(
        mc.method,
        EvalMethod::MultipleChoice {
            mode: MultipleChoiceMode::Generate
        }
    );
    let mc = mc.settings();
    assert_eq!((mc.max_new_tokens, mc.repetition_penalty), (20, 1.1));
    assert_eq!(mc.decoding, Decoding::Greedy);
    assert_eq!(mc.system_prompt, None);
    let ife = by_id("IF_EVAL_V2");
    assert_eq!(ife.samples, 40);
    let ife = ife.settings();
    assert_eq!((ife.max_new_tokens, ife.repetition_penalty), (200, 1.2));
    assert_eq!(
        ife.duplicates,
        DuplicateRule::Pairs {
            similarity: 0.6,
            max_fraction: 0.1
        }
    );
    assert_eq!(ife.rule_weighting, RuleWeighting::RuleCount);
    let sort = by_id("WORD_SORTING");
    assert_eq!(
        sort.normalization,
        Normalization::InverseExponential { ceiling: 40.0 }
    );
    assert!(sort.settings().reference_special_tokens);
    let fineweb = by_id("FINEWEB");
    assert_eq!(
        fineweb.normalization,
        Normalization::InverseExponential { ceiling: 20.0 }
    );
    match &fineweb.dataset {
        DatasetSpec::Hub(h) => {
            assert_eq!(h.repo, "HuggingFaceFW/fineweb-edu-score-2");
            assert_eq!((h.pages, h.rows_per_page), (Some(4), Some(100)));
            assert_eq!(h.format, HubFormat::Text);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sn9_competitions_by_block() {
    let s = load(SN9);
    assert!(s.active_at(2_405_919).is_empty());
    let m772 = comp(&s, 0, 2_405_920);
    assert_eq!(m772.name, "M772_MODEL");
    assert_eq!(
        (m772.constraints.max_params, m772.constraints.max_bytes),
        (772_000_000, 5 * GIB)
    );
    assert_eq!(m772.constraints.sequence_length, 1024);
    let b7 = comp(&s, 0, 2_786_061);
    assert_eq!(
        (b7.name.as_str(), b7.constraints.max_params),
        ("B7_MODEL", 6_900_000_000)
    );
    let data = |id, block| match &comp(&s, id, block).tasks[0].dataset {
        DatasetSpec::Hub(h) => h.repo.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(data(0, 3_256_603), "tiiuae/falcon-refinedweb");
    assert_eq!(data(0, 3_256_604), "HuggingFaceFW/fineweb-edu-score-2");
    // 14B launched and 7B sunset at 3 750 683.
    assert_eq!(active(&s, 3_750_682), vec![(0, 1.0)]);
    assert_eq!(active(&s, 3_750_683), vec![(2, 0.3), (4, 0.7)]);
    let b14 = &comp(&s, 4, 3_750_683).constraints;
    assert_eq!(
        (b14.min_params, b14.max_params, b14.max_bytes),
        (13_700_000_000, 13_900_000_000, 29 * GIB)
    );
    // 14B* and the 250-block eval delay at 4 252 646.
    assert_eq!(comp(&s, 2, 4_252_645).constraints.eval_block_delay, 0);
    assert_eq!(active(&s, 4_252_646), vec![(2, 0.2), (4, 0.4), (5, 0.4)]);
    assert_eq!(comp(&s, 2, 4_252_646).constraints.eval_block_delay, 250);
    assert_eq!(
        tasks(&s, 5, 4_453_709),
        named(&[("FINEWEB_EDU2", 0.85), ("STACKV2_DEDUP", 0.15)])
    );
    assert_eq!(
        comp(&s, 2, 4_453_709).constraints.epsilon,
        decay(0.005, 0.0002, 4 * 7200)
    );
    assert_eq!(
        comp(&s, 4, 4_453_709).constraints.epsilon,
        decay(0.005, 0.0002, 5 * 7200)
    );
    // The six-dataset mix, B3 0.3 / B14 0.7 before 5 177 981; HEAD's epsilon after.
    let mix = named(&[
        ("FINEWEB", 0.3),
        ("FINEWEB_EDU2", 0.25),
        ("STACKV2_DEDUP", 0.35),
        ("PES2OX", 0.05),
        ("FINEMATH_3P", 0.03),
        ("INFIWEBMATH_3P", 0.02),
    ]);
    assert_eq!(active(&s, 5_177_980), vec![(2, 0.3), (4, 0.7)]);
    assert_eq!(tasks(&s, 4, 5_177_980), mix);
    assert_eq!(
        comp(&s, 2, 5_177_980).constraints.epsilon,
        decay(0.005, 0.0005, 7 * 7200)
    );
    assert_eq!(
        comp(&s, 4, 5_177_980).constraints.epsilon,
        decay(0.005, 0.0005, 10 * 7200)
    );
    let head = active(&s, 5_177_981);
    assert_eq!(head.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 4]);
    assert!(close(head[0].1, 0.15 / 0.45) && close(head[1].1, 0.30 / 0.45));
    assert_eq!(
        comp(&s, 4, 5_177_981).constraints.epsilon,
        decay(0.005, 0.0001, 14_400)
    );
    let pes2o = &comp(&s, 2, 5_177_981).tasks[3];
    match &pes2o.dataset {
        DatasetSpec::Hub(h) => {
            assert_eq!(h.repo, "laion/Pes2oX-fulltext");
            assert_eq!(h.config.as_deref(), Some("pes2ov2"));
            assert_eq!((h.pages, h.rows_per_page), (Some(2), Some(50)));
        }
        other => panic!("{other:?}"),
    }
    for c in s.entries.iter().flat_map(|e| &e.competitions) {
        assert!(matches!(
            c.scoring,
            ScoringPolicy::Pairwise {
                step_weights: StepWeightRule::Softmax,
                ..
            }
        ));
        for t in &c.tasks {
            assert_eq!(
                t.method,
                EvalMethod::TextLoss {
                    mode: TextLossMode::Packed
                }
            );
        }
    }
}

#[test]
fn sn29_competitions_by_block() {
    let s = load(SN29);
    let params = |block| {
        s.active_at(block)
            .iter()
            .map(|c| (c.name.clone(), c.reward, c.constraints.max_params))
            .collect::<Vec<_>>()
    };
    let p = |a: &str, r, m| (a.to_string(), r, m);
    assert_eq!(
        params(3_315_200),
        vec![p("c00", 0.9, 7_500_000_000), p("c01", 0.1, 3_900_000_000)]
    );
    assert_eq!(
        params(3_567_200),
        vec![p("c00", 0.75, 7_000_000_000), p("c01", 0.25, 3_900_000_000)]
    );
    assert_eq!(
        params(3_617_600),
        vec![p("c00", 0.5, 7_000_000_000), p("c01", 0.5, 7_000_000_000)]
    );
    let c00 = |block| comp(&s, 0, block).constraints.clone();
    assert_eq!(
        c00(3_682_399).tokenizer,
        TokenizerSpec::Hub {
            repo: "Xenova/gpt-4".into(),
            revision: None,
            sha256: None,
            files: Default::default(),
        }
    );
    assert_eq!(c00(3_682_400).tokenizer, TokenizerSpec::BringYourOwn);
    assert_eq!(
        (c00(3_682_400).max_params, c00(3_682_400).max_bytes),
        (10_500_000_000, 24_160_000_000)
    );
    assert_eq!(
        (c00(4_451_695).max_params, c00(4_451_695).max_bytes),
        (20_100_000_000, 42_000_000_000)
    );
    let phi = |block| {
        comp(&s, 1, block)
            .constraints
            .architectures
            .contains(&"PhiForCausalLM".to_string())
    };
    assert!(phi(4_437_294) && !phi(4_437_295));
    let scoring = |block| match comp(&s, 0, block).scoring {
        ScoringPolicy::LeaderPerUnit {
            skew,
            group_samples,
            advantage_initial,
            advantage_decay,
            epoch_blocks,
        } => {
            assert_eq!(
                (advantage_initial, advantage_decay, epoch_blocks),
                (0.004, 0.995, 361)
            );
            (skew, group_samples)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(scoring(4_099_607), (1.2, 1));
    assert_eq!(scoring(4_099_608), (1.2, 5));
    assert_eq!(scoring(5_014_636), (1.2, 5));
    assert_eq!(scoring(5_014_637), (2.0, 10));
    for c in s.entries.iter().flat_map(|e| &e.competitions) {
        assert_eq!(c.constraints.epsilon, EpsilonFunc::Fixed { value: 0.0 });
        let t = &c.tasks[0];
        assert_eq!(
            t.method,
            EvalMethod::TextLoss {
                mode: TextLossMode::PerDocument
            }
        );
        assert!(
            matches!(&t.dataset, DatasetSpec::Hub(h) if h.repo == "HuggingFaceFW/fineweb-edu-score-2")
        );
    }
}

#[test]
fn shipped_schedules_round_trip_through_toml() {
    for text in [SN37, SN9, SN29] {
        let s = load(text);
        let again = toml::to_string(&s).unwrap();
        assert_eq!(load(&again), s);
    }
}
