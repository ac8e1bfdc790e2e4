//! The README stays true of the checkout it ships in: every relative link names a file a clone has.

/// Each `[text](target)` whose target is not a URL or an anchor resolves inside the repository.
#[test]
fn every_relative_link_in_the_readme_names_a_file_of_the_repository() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let root = repo.canonicalize().unwrap();
    let mut links = Vec::new();
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        links.push(rest[..end].to_string());
    }
    let broken: Vec<&String> = links
        .iter()
        .filter(|l| !l.contains("://") && !l.starts_with('#'))
        .filter(|l| {
            let path = repo.join(l.split('#').next().unwrap_or(l));
            !path.canonicalize().is_ok_and(|p| p.starts_with(&root))
        })
        .collect();
    assert!(links.len() > 10, "{links:?}");
    assert_eq!(broken, Vec::<&String>::new());
}
