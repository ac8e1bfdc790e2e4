//! Files and folders recon creates, its own user's only: files 0600, folders 0700, whatever the umask.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of every file recon creates: read and write for its user, nothing for anyone else.
pub const FILE_MODE: u32 = 0o600;

/// The mode of every folder recon creates.
pub const FOLDER_MODE: u32 = 0o700;

/// Sets the process's umask to 077, so that what a library creates on recon's behalf (SQLite's
/// journal, a temporary file) is its user's only too. Call it first thing, before any thread
/// starts: the umask is the process's.
pub fn restrict_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates folder `dir` and any missing parent, each 0700; folders that exist are left as they
/// are (a mounted volume is the deployment's).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, FOLDER_MODE);
    builder.create(dir)
}

/// Creates file `path` (emptied when it exists) for writing, 0600 even when it existed with a
/// looser mode.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = options().truncate(true).open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Opens file `path` for writing without emptying it, creating it 0600 when it does not exist (a
/// lock file, a SQLite database before SQLite opens it); an existing file keeps its mode.
pub fn open_or_create_file(path: &Path) -> io::Result<File> {
    options().truncate(false).open(path)
}

/// Writes `bytes` to a new (or emptied) 0600 file at `path`.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut create_file(path)?, bytes)
}

fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn folders_are_0700_and_files_0600_even_one_that_was_0644() {
        let temp = tempfile::tempdir().unwrap();
        let nested = temp.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&temp.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        let new = nested.join("new.csv");
        write_file(&new, b"x").unwrap();
        assert_eq!(mode(&new), 0o600);

        let loose = nested.join("loose.csv");
        std::fs::write(&loose, b"old").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_file(&loose, b"new").unwrap();
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(std::fs::read(&loose).unwrap(), b"new");
    }

    #[test]
    fn opening_keeps_what_a_file_holds_and_creates_a_missing_one_0600() {
        let temp = tempfile::tempdir().unwrap();
        let kept = temp.path().join("store.db");
        std::fs::write(&kept, b"pages").unwrap();
        drop(open_or_create_file(&kept).unwrap());
        assert_eq!(std::fs::read(&kept).unwrap(), b"pages");

        let missing = temp.path().join("new.db");
        drop(open_or_create_file(&missing).unwrap());
        assert_eq!(mode(&missing), 0o600);
        assert_eq!(std::fs::read(&missing).unwrap(), b"");
    }
}
