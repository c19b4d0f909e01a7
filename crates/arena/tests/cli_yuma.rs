//! `arena chain yuma` on the golden scenario files of `crates/arena-yuma/scenarios`: the
//! output must equal the checked-in expected lines and reproduce subtensor's own numbers
//! (written below by hand, from subtensor's tests/epoch.rs).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../arena-yuma/scenarios")
}

/// Run the CLI on a scenario and return its output lines parsed as JSON.
fn run_yuma(name: &str) -> Vec<Value> {
    let input = scenario_dir().join(format!("{name}.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["chain", "yuma", "--input"])
        .arg(&input)
        .output()
        .expect("run arena");
    assert!(
        output.status.success(),
        "arena chain yuma {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let expected_path = scenario_dir().join(format!("{name}.expected.jsonl"));
    let expected = std::fs::read_to_string(&expected_path).expect("expected output file");
    assert_eq!(
        stdout,
        expected,
        "output differs from {}",
        expected_path.display()
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn u16s(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("integer"))
        .collect()
}

/// Stored bond of `row` towards uid `col` (0 when absent).
fn bond(epoch: &Value, row: usize, col: u64) -> u64 {
    epoch["bonds"][row]
        .as_array()
        .expect("bond row")
        .iter()
        .find(|pair| pair[0].as_u64() == Some(col))
        .map_or(0, |pair| pair[1].as_u64().expect("bond value"))
}

#[test]
fn test_10_graph_through_cli() {
    let epochs = run_yuma("test_10_graph");
    assert_eq!(epochs.len(), 1);
    assert_eq!(epochs[0]["epoch"], 0);
    assert_eq!(u16s(&epochs[0]["emission"]), vec![99_999_999; 10]);
}

#[test]
fn test_bonds_through_cli() {
    let epochs = run_yuma("test_bonds");
    let expected: [(usize, u64, [u64; 4]); 7] = [
        (1, 4, [16383, 32767, 49151, 65535]),
        (2, 4, [14582, 32767, 49151, 65535]),
        (3, 4, [12603, 28321, 49151, 65535]),
        (4, 7, [12602, 28320, 49150, 65535]),
        (5, 7, [10951, 24609, 49150, 65535]),
        (6, 7, [9559, 21482, 49150, 65535]),
        (7, 7, [8376, 18824, 49150, 65535]),
    ];
    for (epoch, col, want) in expected {
        let got: Vec<u64> = (0..4).map(|row| bond(&epochs[epoch], row, col)).collect();
        assert_eq!(got, want, "epoch {epoch}, bonds to uid {col}");
    }
}

fn check_dividends(name: &str, targets: [[f64; 3]; 6]) {
    let epochs = run_yuma(name);
    assert_eq!(epochs.len(), 7, "warm-up epoch plus six checked epochs");
    for (k, target) in targets.iter().enumerate() {
        let dividends = u16s(&epochs[k + 1]["dividends"]);
        for (v, want) in target.iter().enumerate() {
            let got = dividends[v] as f64 / 65535.0;
            assert!(
                (got - want).abs() <= 1e-3,
                "{name} epoch {k} validator {v}: {got:.4} vs {want}"
            );
        }
    }
}

#[test]
fn yuma3_kappa_moves_first_through_cli() {
    check_dividends(
        "yuma3_kappa_moves_first",
        [
            [0.8, 0.1, 0.1],
            [1.0, 0.0, 0.0],
            [0.9382, 0.0618, 0.0],
            [0.8819, 0.0773, 0.0407],
            [0.8564, 0.0844, 0.0592],
            [0.8418, 0.0884, 0.0697],
        ],
    );
}

#[test]
fn yuma3_kappa_moves_second_through_cli() {
    check_dividends(
        "yuma3_kappa_moves_second",
        [
            [0.8, 0.1, 0.1],
            [0.8446, 0.0498, 0.1056],
            [0.6868, 0.3132, 0.0],
            [0.7421, 0.2090, 0.0489],
            [0.7625, 0.1706, 0.0669],
            [0.7730, 0.1508, 0.0762],
        ],
    );
}

#[test]
fn rejected_weights_name_the_epoch_uid_and_chain_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.json");
    // uid 4 has no stake and hence no permit: setting non-self weights must fail.
    std::fs::write(
        &path,
        r#"{"n": 5, "stakes": [8,1,1,0,0], "max_validators": 3, "rao_emission": 1000000000,
            "epochs": [{"set_weights": []},
                       {"set_weights": [{"uid": 4, "dests": [3], "weights": [65535]}]}]}"#,
    )
    .expect("write scenario");
    let output = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["chain", "yuma", "--input"])
        .arg(&path)
        .output()
        .expect("run arena");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.json"), "{stderr}");
    assert!(
        stderr.contains("epoch 1: set_weights from uid 4 rejected: NeuronNoValidatorPermit"),
        "{stderr}"
    );
}
