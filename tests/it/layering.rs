//! The crate's modules depend one way: each may use only modules of lower layers, so no cycle
//! can come back and no check reaches into the configuration or the store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crate's top-level modules, lowest layer first. A module may use only modules of a lower
/// layer; modules of one layer never use each other. `lib.rs` and `main.rs` stand above all.
const LAYERS: &[&[&str]] = &[
    // How keys from the environment are written, for every kind of key.
    &["key_text"],
    &[
        "at_rest",
        "audit_key",
        "canonical",
        "exit",
        "mask",
        "money",
        "private_fs",
        "progress",
        "run_id",
        "secret",
        "shard",
    ],
    // Logging, whose every line passes the masks of the leaves.
    &["telemetry"],
    &["error"],
    // An endpoint's circuit breaker, which every retried sync passes.
    &["breaker"],
    &["day", "retry"],
    // What checks are built from and what they produce.
    &["source", "discrepancy"],
    // The contract every check kind hands the run.
    &["check"],
    // The checks, and recon's own state: a check never touches the store.
    &["integrity", "settlement", "store"],
    // The bank leg, reading statements as settlement reads reports, and tracing payouts to them.
    &["bank"],
    // The nightly's standing in the store: missed dates, last success.
    &["catch_up"],
    &["output", "seal"],
    // The run and what drives it.
    &["config", "cli"],
    // The run, an ad hoc diff, and the daily check of the controls around them.
    &["run", "diff", "controls"],
    &["demo", "operator"],
    // The triage pages served to people, over the store and the outputs.
    &["serve"],
    // The doors of the fuzz targets (fuzz/) into the parsers.
    &["fuzzing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every top-level module `text` names through a `crate::` path, grouped imports included.
fn crate_modules_used(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mycrate::…`, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            used.extend(group_heads(group));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

/// The first name of each path in a `{…}` group (the text after its opening brace).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 1;
    let mut at_item_start = true;
    let mut name = String::new();
    for c in group.chars() {
        if c.is_alphanumeric() || c == '_' {
            if at_item_start && depth == 1 {
                name.push(c);
            }
            continue;
        }
        if !name.is_empty() {
            heads.push(std::mem::take(&mut name));
            at_item_start = false;
        }
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => at_item_start = true,
            _ => {}
        }
    }
    heads.retain(|h| h != "self");
    heads
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("a file under src/");
        let first = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default();
        let module = first.strip_suffix(".rs").unwrap_or(first);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(module) else {
            problems.push(format!(
                "src/{}: module {module} is in no layer of tests/layering.rs; place it",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for used in crate_modules_used(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                _ => problems.push(format!(
                    "src/{}: {module} uses crate::{used}, which is not below it",
                    relative.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_plain_and_grouped_imports() {
    let text = "use crate::config::Config;\n\
                use crate::{store::{Store, Seal}, discrepancy, self};\n\
                let x = crate::money::parse(y); let z = notcrate::store::X;";
    let used: Vec<String> = crate_modules_used(text).into_iter().collect();
    assert_eq!(used, ["config", "discrepancy", "money", "store"]);
}
