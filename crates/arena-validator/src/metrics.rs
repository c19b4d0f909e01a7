//! Prometheus metrics of the service, rendered by hand in the text exposition format (a few
//! gauges and counters do not justify a metrics framework), served on `/metrics` with axum.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// The service's current numbers. Cheap to update; rendered on each scrape.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Values>,
}

#[derive(Debug, Default, Clone)]
struct Values {
    block: u64,
    steps_total: u64,
    worker_failures_total: u64,
    weights_set_total: u64,
    last_step_seconds: f64,
    models_by_verdict: BTreeMap<String, u64>,
    queued: u64,
    weights: BTreeMap<u16, f64>,
    scores: BTreeMap<u16, f64>,
}

impl Metrics {
    /// A shared, empty set of metrics.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    fn with(&self, f: impl FnOnce(&mut Values)) {
        if let Ok(mut v) = self.inner.lock() {
            f(&mut v);
        }
    }

    /// The chain block last seen.
    pub fn set_block(&self, block: u64) {
        self.with(|v| v.block = block);
    }

    /// Models per verdict (`waiting`, `accepted`, `rejected`) and queued models.
    pub fn set_models(&self, by_verdict: BTreeMap<String, u64>, queued: u64) {
        self.with(|v| {
            v.models_by_verdict = by_verdict;
            v.queued = queued;
        });
    }

    /// A step finished: its duration, failures and per-uid scores.
    pub fn step_done(&self, seconds: f64, failures: u64, scores: &[(u16, f64)]) {
        self.with(|v| {
            v.steps_total += 1;
            v.last_step_seconds = seconds;
            v.worker_failures_total += failures;
            v.scores = scores.iter().copied().collect();
        });
    }

    /// Weights were accepted by the chain.
    pub fn weights_set(&self, weights: &[f64]) {
        self.with(|v| {
            v.weights_set_total += 1;
            v.weights = weights
                .iter()
                .enumerate()
                .filter(|(_, w)| **w > 0.0)
                .map(|(uid, w)| (uid as u16, *w))
                .collect();
        });
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let v = self.inner.lock().map(|v| v.clone()).unwrap_or_default();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |x: String| vec![(String::new(), x)];
        metric(
            "arena_validator_block",
            "gauge",
            "Chain block last seen.",
            one(v.block.to_string()),
        );
        metric(
            "arena_validator_steps_total",
            "counter",
            "Evaluation steps recorded.",
            one(v.steps_total.to_string()),
        );
        metric(
            "arena_validator_worker_failures_total",
            "counter",
            "Evaluations that ended in a worker failure (timeout, memory cap, crash).",
            one(v.worker_failures_total.to_string()),
        );
        metric(
            "arena_validator_weights_set_total",
            "counter",
            "set_weights calls accepted.",
            one(v.weights_set_total.to_string()),
        );
        metric(
            "arena_validator_last_step_seconds",
            "gauge",
            "Duration of the last step.",
            one(v.last_step_seconds.to_string()),
        );
        metric(
            "arena_validator_queued_models",
            "gauge",
            "Models queued for evaluation.",
            one(v.queued.to_string()),
        );
        let verdicts = v
            .models_by_verdict
            .iter()
            .map(|(k, n)| (format!("{{verdict=\"{k}\"}}"), n.to_string()))
            .collect();
        metric(
            "arena_validator_models",
            "gauge",
            "Tracked models per verdict.",
            verdicts,
        );
        let weights = v
            .weights
            .iter()
            .map(|(uid, w)| (format!("{{uid=\"{uid}\"}}"), w.to_string()))
            .collect();
        metric(
            "arena_validator_weight",
            "gauge",
            "Last weight set per uid.",
            weights,
        );
        let scores = v
            .scores
            .iter()
            .filter(|(_, s)| s.is_finite())
            .map(|(uid, s)| (format!("{{uid=\"{uid}\"}}"), s.to_string()))
            .collect();
        metric(
            "arena_validator_score",
            "gauge",
            "Competition score per uid in the last step (lower is better).",
            scores,
        );
        out
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    // `GET /metrics` takes no body; the shared timeouts and connection limit apply.
    let limits = arena_net::Limits {
        max_body_bytes: Some(16 << 10),
        ..arena_net::Limits::default()
    };
    arena_net::serve(listener, app, limits, std::future::pending()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_format_with_labels() {
        let m = Metrics::new();
        m.set_block(42);
        m.set_models(
            [("accepted".to_string(), 2), ("rejected".to_string(), 1)].into(),
            2,
        );
        m.step_done(1.5, 1, &[(0, 0.25), (3, f64::INFINITY)]);
        m.weights_set(&[0.0, 1.0]);
        let text = m.render();
        assert!(
            text.contains("# TYPE arena_validator_block gauge\narena_validator_block 42\n"),
            "{text}"
        );
        assert!(text.contains("arena_validator_models{verdict=\"rejected\"} 1\n"));
        assert!(text.contains("arena_validator_weight{uid=\"1\"} 1\n"));
        assert!(!text.contains("arena_validator_weight{uid=\"0\"}"));
        assert!(text.contains("arena_validator_score{uid=\"0\"} 0.25\n"));
        assert!(
            !text.contains("uid=\"3\""),
            "non-finite scores are not exported"
        );
        assert!(text.contains("arena_validator_worker_failures_total 1\n"));
    }
}
