use super::*;
use crate::competition::{default_schedule, Normalization};
use crate::scoring::score_step;

/// splitmix64: a small seeded generator for the property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Competition 1 of the shipped schedule: two reference-loss tasks (inverse exponential),
/// multiple choice and if_eval, pairwise winner-takes-all.
fn competition() -> Competition {
    default_schedule().unwrap().entries[0].competitions[0].clone()
}

/// One model's full scores: per task, per-sample scores and the raw score.
type Full = Vec<Option<(Vec<f64>, f64)>>;

/// Random full scores of `models` models of spread quality on `usable` samples per task.
fn random_scores(
    rng: &mut Rng,
    tasks: &[Task],
    usable: &[Option<usize>],
    models: usize,
) -> Vec<Full> {
    let difficulty: Vec<Vec<f64>> = usable
        .iter()
        .map(|n| {
            (0..n.unwrap_or(0))
                .map(|_| 0.2 + 3.0 * rng.unit())
                .collect()
        })
        .collect();
    (0..models)
        .map(|_| {
            let quality = 0.6 + 0.8 * rng.unit();
            let fails = rng.unit() < 0.1;
            tasks
                .iter()
                .zip(usable)
                .zip(&difficulty)
                .map(|((task, n), diff)| {
                    (*n)?;
                    let samples: Vec<f64> = diff
                        .iter()
                        .map(|d| match task.method {
                            EvalMethod::MultipleChoice { .. } => {
                                f64::from(rng.unit() < 0.3 * quality * d)
                            }
                            EvalMethod::IfEval => (0.4 * quality * d).min(1.0) * rng.unit(),
                            _ if fails && rng.unit() < 0.05 => f64::INFINITY,
                            _ => d * quality * (0.8 + 0.4 * rng.unit()),
                        })
                        .collect();
                    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
                    let raw = match task.method {
                        // The duplicate rule sometimes sets the worst score.
                        EvalMethod::IfEval if rng.unit() < 0.1 => 1.0,
                        _ => mean,
                    };
                    Some((samples, raw))
                })
                .collect()
        })
        .collect()
}

fn full_score(tasks: &[Task], full: &Full) -> f64 {
    let raw: Vec<Option<f64>> = full.iter().map(|t| t.as_ref().map(|t| t.1)).collect();
    combine_task_scores(tasks, &raw).unwrap().total
}

/// Runs one model over the plan with `rule`, reading scores from `full`.
fn simulate(
    tasks: &[Task],
    usable: &[Option<usize>],
    plan: &[Chunk],
    rule: Option<&StopRule>,
    full: &Full,
) -> PlanRun {
    run_plan::<()>(tasks, usable, plan, rule, |chunk| {
        let (samples, raw) = full[chunk.task].as_ref().unwrap();
        Ok(ChunkScores {
            samples: chunk.samples.iter().map(|&i| samples[i as usize]).collect(),
            raw: Some(*raw),
        })
    })
    .unwrap()
}

struct Step {
    full: crate::scoring::StepResult,
    stopped: crate::scoring::StepResult,
    stops: usize,
    resumed: usize,
    chunks_saved: usize,
}

/// One random step: scores with and without early stopping (the validator's procedure: the
/// leader in full, the others stopped by the rule, the undecided ones resumed in full).
fn random_step(rng: &mut Rng, mode: StopMode) -> Step {
    let mut comp = competition();
    comp.early_stop.mode = mode;
    comp.early_stop.chunk = 1 + rng.below(8) as u32;
    comp.early_stop.min_samples = 2 + rng.below(6) as u32;
    comp.early_stop.error = 0.05;
    if rng.unit() < 0.5 {
        for t in &mut comp.tasks {
            t.normalization = Normalization::None;
        }
    }
    let usable: Vec<Option<usize>> = comp
        .tasks
        .iter()
        .map(|_| (rng.unit() < 0.9).then(|| 1 + rng.below(40) as usize))
        .collect();
    if usable.iter().all(Option::is_none) {
        return random_step(rng, mode);
    }
    let models = 2 + rng.below(6) as usize;
    let scores = random_scores(rng, &comp.tasks, &usable, models);
    let epsilon = if rng.unit() < 0.5 {
        EpsilonFunc::Fixed {
            value: 0.05 * rng.unit(),
        }
    } else {
        EpsilonFunc::LinearDecay {
            start: 0.05,
            end: 0.001,
            blocks: 1 + rng.below(500),
        }
    };
    let current_block = 1000;
    let blocks: Vec<u64> = (0..models).map(|_| rng.below(1000)).collect();
    let contenders: Vec<Contender> = (0..models)
        .map(|i| Contender::new(i as u16, blocks[i], full_score(&comp.tasks, &scores[i])))
        .collect();
    let seed = Seed([rng.below(256) as u8; 32]);
    let plan = chunk_plan(&comp.tasks, &usable, &seed, comp.early_stop.chunk);
    // The validator's leader is the EMA's favourite: mostly the best model, not always.
    let best = (0..models)
        .min_by(|&a, &b| contenders[a].score.total_cmp(&contenders[b].score))
        .unwrap_or(0);
    let leader = if rng.unit() < 0.7 {
        best
    } else {
        rng.below(models as u64) as usize
    };
    let policy = comp.scoring.clone();
    let full = score_step(&policy, &contenders, current_block, &epsilon).unwrap();

    let mut stopped_contenders = contenders.clone();
    let mut stopped = Vec::new();
    let mut chunks_saved = 0;
    if contenders[leader].score.is_finite() {
        let leader_tasks = scores[leader]
            .iter()
            .map(|t| {
                t.as_ref().map(|(s, raw)| LeaderTask {
                    samples: s.clone(),
                    raw: *raw,
                })
            })
            .collect();
        for i in (0..models).filter(|&i| i != leader) {
            let rule = StopRule {
                settings: comp.early_stop,
                leader: contenders[leader].clone(),
                leader_tasks: Vec::clone(&leader_tasks),
                block: blocks[i],
                current_block,
                epsilon,
            };
            let run = simulate(&comp.tasks, &usable, &plan, Some(&rule), &scores[i]);
            if let Some((_, bounds)) = run.stopped {
                chunks_saved += plan.len() - run.chunks;
                stopped_contenders[i].score = estimate(&comp.tasks, &run.partial);
                let exact = exact_bounds(&comp.tasks, &run.partial);
                assert!(
                    exact.lo <= contenders[i].score && contenders[i].score <= exact.hi,
                    "the exact interval holds the full score"
                );
                assert!(
                    exact.lo <= stopped_contenders[i].score
                        && stopped_contenders[i].score <= exact.hi
                );
                stopped.push(Stopped {
                    uid: i as u16,
                    bounds,
                });
            }
        }
    }
    let stops = stopped.len();
    let mut resumed = 0;
    loop {
        let open = undecided(&stopped_contenders, &stopped, current_block, &epsilon);
        if open.is_empty() {
            break;
        }
        for uid in &open {
            stopped_contenders[*uid as usize].score = contenders[*uid as usize].score;
        }
        stopped.retain(|s| !open.contains(&s.uid));
        resumed += open.len();
    }
    let with_stops = score_step(&policy, &stopped_contenders, current_block, &epsilon).unwrap();
    Step {
        full,
        stopped: with_stops,
        stops,
        resumed,
        chunks_saved,
    }
}

#[test]
fn the_exact_stop_never_changes_a_step() {
    let mut rng = Rng(7);
    let (mut stops, mut resumed, mut saved) = (0, 0, 0);
    for trial in 0..4000 {
        let step = random_step(&mut rng, StopMode::Exact);
        let key = |r: &crate::scoring::StepResult| {
            let o: Vec<_> = r.outcomes.iter().map(|o| (o.uid, o.step_weight)).collect();
            (o, r.top_uid)
        };
        assert_eq!(key(&step.stopped), key(&step.full), "trial {trial}");
        stops += step.stops;
        resumed += step.resumed;
        saved += step.chunks_saved;
    }
    // The property is only worth something if stops happen, and most stand.
    assert!(stops > 2000, "{stops} stops");
    assert!(
        resumed * 4 < stops,
        "{resumed} of {stops} stops were resumed"
    );
    assert!(saved > 10_000, "{saved} chunks saved");
}

#[test]
fn the_statistical_stop_errs_within_its_bound() {
    // error = 0.05 per decision; the interval of a stopped model must hold its full score in
    // at least 95 % of stops (a weaker statement would not test the bound).
    let mut rng = Rng(11);
    let (mut stops, mut differing) = (0, 0);
    for _ in 0..3000 {
        let step = random_step(&mut rng, StopMode::Statistical);
        stops += step.stops;
        let weights = |r: &crate::scoring::StepResult| {
            let w: Vec<f64> = r.outcomes.iter().map(|o| o.step_weight).collect();
            (w, r.top_uid)
        };
        if weights(&step.stopped) != weights(&step.full) {
            differing += 1;
        }
    }
    assert!(stops > 2000, "{stops} stops");
    assert!(
        (differing as f64) <= 0.05 * stops as f64,
        "{differing} steps differ over {stops} stops"
    );
}

#[test]
fn the_plan_is_seeded_covers_every_sample_once_and_puts_whole_tasks_last() {
    let comp = competition();
    let usable = [Some(10), Some(3), None, Some(4)];
    let a = chunk_plan(&comp.tasks, &usable, &Seed([1; 32]), 4);
    assert_eq!(a, chunk_plan(&comp.tasks, &usable, &Seed([1; 32]), 4));
    assert_ne!(a, chunk_plan(&comp.tasks, &usable, &Seed([2; 32]), 4));
    // Round-robin over the splittable tasks 0 and 1; if_eval (task 3) last and whole.
    let tasks: Vec<usize> = a.iter().map(|c| c.task).collect();
    assert_eq!(tasks, [0, 1, 0, 0, 3]);
    assert_eq!(a[4].samples, [0, 1, 2, 3]);
    for (t, n) in [(0usize, 10u32), (1, 3)] {
        let mut all: Vec<u32> = a
            .iter()
            .filter(|c| c.task == t)
            .flat_map(|c| c.samples.clone())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }
    assert!(a.iter().all(|c| c.samples.len() <= 4));
}

#[test]
fn bounds_follow_the_best_and_worst_remaining_samples() {
    let mut comp = competition();
    for t in &mut comp.tasks {
        t.normalization = Normalization::None;
    }
    // Only the multiple-choice task (weight renormalised to 1): 2 of 4 answered, one wrong.
    let partial = vec![
        None,
        None,
        Some(TaskPartial {
            samples: vec![Some(1.0), None, Some(0.0), None],
            raw: None,
        }),
        None,
    ];
    let b = exact_bounds(&comp.tasks, &partial);
    assert!(
        (b.lo - 0.25).abs() < 1e-6 && (b.hi - 0.75).abs() < 1e-6,
        "{b:?}"
    );
    assert!((estimate(&comp.tasks, &partial) - 0.5).abs() < 1e-12);
    assert_eq!(progress(&partial), (2, 4));
    // A loss task is unbounded above until done; a failed sample fails the model.
    let mut loss = partial.clone();
    loss[0] = Some(TaskPartial {
        samples: vec![Some(2.0), None],
        raw: None,
    });
    assert_eq!(exact_bounds(&comp.tasks, &loss).hi, f64::INFINITY);
    loss[0].as_mut().unwrap().samples[1] = Some(f64::INFINITY);
    assert_eq!(exact_bounds(&comp.tasks, &loss).lo, f64::INFINITY);
}

#[test]
fn decisions_include_epsilon() {
    let eps = EpsilonFunc::Fixed { value: 0.1 };
    let leader = Contender::new(0, 10, 1.0); // older: 1.0 · 0.9 = 0.9 to beat
    let d = |lo: f64, hi: f64| decide(Bounds { lo, hi }, 20, &leader, 100, &eps);
    assert_eq!(
        d(0.95, f64::INFINITY),
        Decision::CannotWin,
        "0.95 < 1.0 but not < 0.9"
    );
    assert_eq!(d(0.5, f64::INFINITY), Decision::Continue);
    assert_eq!(d(0.5, 0.89), Decision::CannotLose);
    assert_eq!(d(0.9, 0.95), Decision::CannotWin, "a tie is no win");
}

#[test]
fn settings_are_validated_and_parse_from_the_schedule() {
    assert!(EarlyStop::default().validate().is_ok());
    let bad = |f: fn(&mut EarlyStop)| {
        let mut s = EarlyStop::default();
        f(&mut s);
        s.validate().unwrap_err().0
    };
    assert_eq!(bad(|s| s.chunk = 0), "chunk");
    assert_eq!(bad(|s| s.error = 0.5), "error");
    assert_eq!(bad(|s| s.error = f64::NAN), "error");
    assert_eq!(bad(|s| s.min_samples = 1), "min_samples");
    let parsed: EarlyStop = toml::from_str("mode = \"statistical\"\nerror = 0.01").unwrap();
    assert_eq!(parsed.mode, StopMode::Statistical);
    assert_eq!((parsed.error, parsed.chunk), (0.01, 16));
    assert!(toml::from_str::<EarlyStop>("mode = \"sometimes\"").is_err());
    assert!(toml::from_str::<EarlyStop>("chunks = 3").is_err());
    let comp = competition();
    assert!(applies(&comp));
    let mut off = comp.clone();
    off.early_stop.mode = StopMode::Off;
    assert!(!applies(&off));
    let softmax = default_schedule().unwrap().entries[0].competitions[1].clone();
    assert!(
        !applies(&softmax),
        "softmax weights need every model's exact win rate"
    );
}

#[test]
fn the_normal_quantile_is_accurate() {
    for (p, z) in [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.999, 3.090_232_306_167_813),
        (1.0 - 1e-6, 4.753_424_308_822_899),
        (0.01, -2.326_347_874_040_841),
    ] {
        assert!(
            (normal_quantile(p) - z).abs() < 1e-6,
            "{p}: {}",
            normal_quantile(p)
        );
    }
    assert_eq!(normal_quantile(1.0), f64::INFINITY);
    assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
}
