//! The binary's module layering (see `ARCHITECTURE.md`, `crates/arena`), checked on the source:
//! `context.rs` and `config.rs` import nothing from `cmd/`; a module under `cmd/` imports only
//! the modules of its own subcommands (`miner.rs` → `miner_*.rs`), never a group or another
//! group's module, except the edges listed in [`ALLOWED`].

use std::collections::BTreeSet;
use std::path::Path;

/// Edges between command modules allowed besides "group → its own subcommand module".
const ALLOWED: &[(&str, &str)] = &[
    // `arena miner check --constraints-only` prints `arena model check`'s report.
    ("miner_check", "model_check"),
];

/// Module names that follow `prefix` in `text` (`super::miner::chain` → `miner`).
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn command_modules_import_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for shared in ["context.rs", "config.rs", "reference.rs"] {
        let text = std::fs::read_to_string(src.join(shared)).unwrap();
        assert!(
            !text.contains("cmd::"),
            "{shared} imports from cmd/: shared glue must not depend on a command"
        );
    }
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src.join("cmd")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            modules.insert(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    let mut bad = Vec::new();
    for module in &modules {
        let text = std::fs::read_to_string(src.join("cmd").join(format!("{module}.rs"))).unwrap();
        let mut used = referenced(&text, "super::");
        used.extend(referenced(&text, "crate::cmd::"));
        for target in used.iter().filter(|t| modules.contains(*t)) {
            let own_subcommand = target.starts_with(&format!("{module}_"));
            let allowed = ALLOWED.contains(&(module.as_str(), target.as_str()));
            if !own_subcommand && !allowed {
                bad.push(format!("cmd/{module}.rs imports cmd/{target}.rs"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layering (move the shared piece to context.rs): {bad:#?}"
    );
}
