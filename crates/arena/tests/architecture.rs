//! The crate map of `ARCHITECTURE.md` is the crate map of the code.
//!
//! The block under "What depends on what" lists, for every workspace crate, the workspace crates
//! it depends on (normal dependencies). This test reads every `crates/*/Cargo.toml` and fails when
//! the two differ, when a crate depends on one listed above it (the block is ordered top-down),
//! when any crate but the engine declares candle, when the test-support crate is a normal
//! dependency of anything, or when a crate does not inherit the workspace lints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The one crate allowed to declare candle.
const ENGINE: &str = "arena-model";
/// The dev-only crate.
const TESTKIT: &str = "arena-testkit";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Normal (non-dev, non-build) dependencies of each workspace crate, by package name.
fn declared() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let name = doc["package"]["name"].as_str().unwrap().to_string();
        let mut deps = BTreeSet::new();
        let mut tables = vec![doc.get("dependencies").cloned()];
        if let Some(targets) = doc.get("target").and_then(|t| t.as_table()) {
            for cfg in targets.values() {
                tables.push(cfg.get("dependencies").cloned());
            }
        }
        for table in tables.into_iter().flatten() {
            for (key, value) in table.as_table().unwrap() {
                // `foo = { package = "bar" }` depends on bar.
                let package = value.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                deps.insert(package.to_string());
            }
        }
        out.insert(name, deps);
    }
    out
}

/// The documented graph, in the order the block lists the crates.
fn documented() -> Vec<(String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## What depends on what")
        .nth(1)
        .expect("ARCHITECTURE.md has a 'What depends on what' section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the section opens with a fenced block");
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in block.lines() {
        // An entry is `name ──▶ deps (comment)`; indented lines continue the entry above.
        let (name, deps) = match line.split_once("──▶") {
            Some((left, right)) => (Some(left.split_whitespace().next().unwrap()), right),
            None if line.starts_with(' ') => (None, line),
            None => continue,
        };
        // Comments are in parentheses and name no crate.
        let deps = deps.split('(').next().unwrap_or("");
        let names = deps
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("arena"))
            .map(str::to_string);
        match name {
            Some(name) => out.push((name.to_string(), names.collect())),
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.extend(names);
                }
            }
        }
    }
    out
}

#[test]
fn the_documented_crate_graph_is_the_declared_one_and_points_down() {
    let declared = declared();
    let documented = documented();
    let ours: BTreeSet<&String> = declared.keys().collect();
    let listed: BTreeSet<&String> = documented.iter().map(|(n, _)| n).collect();
    assert_eq!(listed, ours, "ARCHITECTURE.md must list every crate once");
    for (i, (name, deps)) in documented.iter().enumerate() {
        let actual: BTreeSet<String> = declared[name]
            .iter()
            .filter(|d| d.starts_with("arena"))
            .cloned()
            .collect();
        assert_eq!(
            &actual, deps,
            "{name}: Cargo.toml's workspace dependencies differ from ARCHITECTURE.md"
        );
        let above: Vec<&String> = documented[..i].iter().map(|(n, _)| n).collect();
        for dep in deps {
            assert!(
                !above.contains(&dep),
                "{name} depends on {dep}, which the map lists above it"
            );
        }
    }
}

#[test]
fn only_the_engine_depends_on_candle() {
    for (name, deps) in declared() {
        let candle: Vec<_> = deps.iter().filter(|d| d.starts_with("candle")).collect();
        // The binary declares no candle either: its `cuda` feature forwards to the engine.
        if name != ENGINE {
            assert!(
                candle.is_empty(),
                "{name} declares {candle:?}; only {ENGINE} may"
            );
        }
    }
}

#[test]
fn the_test_support_crate_is_never_a_normal_dependency() {
    for (name, deps) in declared() {
        assert!(
            !deps.contains(TESTKIT),
            "{name} depends on {TESTKIT} outside dev-dependencies"
        );
    }
}

#[test]
fn every_crate_inherits_the_workspace_lints() {
    let root: toml::Table =
        toml::from_str(&std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(
        root["workspace"]["lints"]["rust"]["missing_docs"].as_str(),
        Some("warn"),
        "the workspace lints must include missing_docs"
    );
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let inherits = doc
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool());
        assert_eq!(
            inherits,
            Some(true),
            "{}: add `[lints] workspace = true`",
            manifest.display()
        );
    }
}
