//! Kept downloads past `job.download_retention_days`: removed at the end of a run (which audits them).

use std::path::Path;

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// What pruning removed (names, in order) and, when a file could not be removed, why: the run
/// audits the names removed, then fails on the error (exit 2).
pub(crate) struct PrunedDownloads {
    pub(crate) removed: Vec<String>,
    pub(crate) failed: Option<Error>,
}

/// Removes the reports kept in `downloads` (and any `.partial` left by an interrupted download)
/// whose name's business date (`<date>-<check>-<name>`) is before `before`, stopping at the
/// first file that cannot be removed.
pub(crate) fn prune_downloads(downloads: &Path, before: NaiveDate) -> Result<PrunedDownloads> {
    let mut removed = Vec::new();
    for name in expired(downloads, before)? {
        let path = downloads.join(&name);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(name),
            // Gone already: another run of the folder pruned it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let failed = Error::bad_input(format!(
                    "cannot remove {}, a download past job.download_retention_days: {e}",
                    path.display()
                ));
                return Ok(PrunedDownloads {
                    removed,
                    failed: Some(failed),
                });
            }
        }
    }
    Ok(PrunedDownloads {
        removed,
        failed: None,
    })
}

/// The names of the files in `downloads` whose business date is before `before`, sorted; none
/// when the folder does not exist. Names not starting `<YYYY-MM-DD>-` are not recon's and stay.
fn expired(downloads: &Path, before: NaiveDate) -> Result<Vec<String>> {
    let fail = |e: std::io::Error| {
        Error::bad_input(format!(
            "cannot read the downloads folder {}: {e}",
            downloads.display()
        ))
    };
    let entries = match std::fs::read_dir(downloads) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fail)?;
        if !entry.file_type().map_err(fail)?.is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if business_date(&name).is_some_and(|date| date < before) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The business date a kept download's name starts with.
fn business_date(name: &str) -> Option<NaiveDate> {
    let (date, rest) = name.split_at_checked(10)?;
    rest.starts_with('-').then_some(())?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_download_is_dated_by_the_business_date_its_name_starts_with() {
        assert_eq!(
            business_date("2026-10-20-stripe-report.csv"),
            Some(date("2026-10-20"))
        );
        assert_eq!(
            business_date("2026-10-20-x.partial"),
            Some(date("2026-10-20"))
        );
        assert_eq!(business_date("2026-10-20.csv"), None);
        assert_eq!(business_date("2026-13-20-stripe.csv"), None);
        assert_eq!(business_date("notes.txt"), None);
        assert_eq!(business_date("é"), None);
    }

    #[test]
    fn only_recon_files_dated_before_the_cut_expire() {
        let temp = tempfile::tempdir().unwrap();
        for name in [
            "2026-10-20-a-r.csv",
            "2026-10-21-a-r.csv",
            "2026-10-19-b-r.partial",
            "README",
        ] {
            std::fs::write(temp.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(temp.path().join("2026-01-01-folder")).unwrap();
        assert_eq!(
            expired(temp.path(), date("2026-10-21")).unwrap(),
            ["2026-10-19-b-r.partial", "2026-10-20-a-r.csv"]
        );
        assert!(
            expired(&temp.path().join("missing"), date("2026-10-21"))
                .unwrap()
                .is_empty()
        );
    }
}
