//! recon's error type: every failure carries the exit code it ends the process with.

use std::sync::Arc;

use crate::exit::Exit;

/// Which class of failure it is, and so how the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Bad configuration, command line or input data (exit 2).
    BadInput,
    /// A source or report could not be read for a reason that may pass (exit 3).
    Unavailable,
    /// recon's own store could not be reached, or stopped answering (exit 3: a failover passes).
    StoreUnreachable,
    /// Another run holds the lock (exit 4).
    Locked,
    /// recon's own store or an invariant failed (exit 5).
    Internal,
}

/// The error beneath a failure (a database's, the file system's, HTTP's), kept for its chain.
type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// A failure: its class, a one-line message written for the person who has to act on it, and
/// the error that caused it, if any. The message already says what the cause means; the cause
/// is kept for code that walks the chain (`source()`), never printed in place of the message.
/// Boxed, so that a `Result` on a hot path (one per row batch) stays one pointer wide.
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    cause: Option<Cause>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            cause: None,
        }))
    }

    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadInput, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    pub(crate) fn store_unreachable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::StoreUnreachable, message)
    }

    pub(crate) fn locked(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Locked, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// A temporary file (`what`: `the seal's spool file`) that cannot be created, or written
    /// when `writing`, in the temp folder `dir`: the deployment's to fix, not a bug in recon
    /// (bad input, exit 2), naming the folder, the OS error and the setting.
    pub(crate) fn temp_file(
        what: &str,
        dir: &std::path::Path,
        writing: bool,
        cause: std::io::Error,
    ) -> Self {
        let (verb, fix) = match writing {
            false => (
                "create",
                "set job.temp_dir (or RECON_TEMP_DIR) to a writable folder, e.g. an emptyDir mounted there",
            ),
            true => (
                "write",
                "give job.temp_dir (or RECON_TEMP_DIR) more room, e.g. a larger emptyDir sizeLimit",
            ),
        };
        Error::bad_input(format!(
            "cannot {verb} {what} in {}: {cause}; {fix}",
            dir.display()
        ))
        .caused_by(cause)
    }

    /// Keeps `cause` as the error's source.
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.cause = Some(Arc::new(cause));
        self
    }

    /// True for a failure that may pass (a dropped connection, a busy server): worth a retry.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::Unavailable | ErrorKind::StoreUnreachable
        )
    }

    /// True when recon's own store could not be reached (see [`Error::from_store`]).
    pub(crate) fn is_store_unreachable(&self) -> bool {
        self.0.kind == ErrorKind::StoreUnreachable
    }

    /// A store-unreachable error named after the store (`shown`, its URL without a password);
    /// any other error as it is.
    pub(crate) fn naming_store(self, shown: &str) -> Self {
        match self.0.message.strip_prefix("store: ") {
            Some(what) if self.is_store_unreachable() => {
                let message =
                    format!("store {shown} unreachable: {what}; the run may pass on rerun");
                let mut named = self;
                named.0.message = message;
                named
            }
            _ => self,
        }
    }

    pub fn exit(&self) -> Exit {
        match self.0.kind {
            ErrorKind::BadInput => Exit::BadInput,
            ErrorKind::Unavailable | ErrorKind::StoreUnreachable => Exit::Incomplete,
            ErrorKind::Locked => Exit::Locked,
            ErrorKind::Internal => Exit::Internal,
        }
    }

    /// Adds `suffix` to the end of the message, keeping the kind and the cause.
    pub(crate) fn suffixed(mut self, suffix: impl std::fmt::Display) -> Self {
        self.0.message = format!("{}{suffix}", self.0.message);
        self
    }

    /// Adds context in front of the message, keeping the kind and the cause.
    pub(crate) fn context(mut self, prefix: impl std::fmt::Display) -> Self {
        self.0.message = format!("{prefix}: {}", self.0.message);
        self
    }

    /// Classifies a database error met while reading a source: a missing table, a refused
    /// login or an unreadable file is the user's to fix; a dropped connection may pass.
    pub(crate) fn from_source(err: sqlx::Error) -> Self {
        let kind = if may_pass(&err) {
            ErrorKind::Unavailable
        } else {
            ErrorKind::BadInput
        };
        Error::new(kind, describe_sqlx(&err)).caused_by(err)
    }

    /// Wraps a failure of recon's own store: one to reach it (refused, dropped, timed out, a
    /// failover's admin shutdown) may pass and is retried; anything else is recon's defect.
    pub(crate) fn from_store(err: sqlx::Error) -> Self {
        let kind = if may_pass(&err) {
            ErrorKind::StoreUnreachable
        } else {
            ErrorKind::Internal
        };
        Error::new(kind, format!("store: {}", describe_sqlx(&err))).caused_by(err)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// The kind and message, and the cause with any URL's password masked: a `{:?}` in a log
/// line must not leak what the message was written to keep out.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(cause) = &self.0.cause {
            debug.field("cause", &crate::secret::redact_urls(&cause.to_string()));
        }
        debug.finish()
    }
}

/// Whether a database error may pass: the server could not be reached or dropped the
/// connection, or answered with a code that means "try again later".
fn may_pass(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => is_transient_code(db.code().as_deref()),
        _ => false,
    }
}

/// SQLSTATE / engine codes that mean "try again later".
fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        // PostgreSQL: serialization failure, deadlock, admin/crash shutdown, cannot connect now,
        // too many connections, query canceled by statement timeout.
        Some("40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300" | "57014" | "08006" | "08001" | "08004")
        // MySQL/MariaDB: lock wait timeout, deadlock, server gone, lost connection, too many
        // connections, connection killed, query interrupted, statement timeout (MariaDB, MySQL).
        | Some("1205" | "1213" | "2006" | "2013" | "1040" | "1927" | "1317" | "1969" | "3024")
        // SQLite: busy, locked.
        | Some("5" | "6")
    )
}

/// One line describing a sqlx error, without connection strings.
pub(crate) fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_string(),
        },
        // sqlx words it "error communicating with database: Connection refused (os error 111)".
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_string()
        }
        // sqlx's "pool timed out while waiting for an open connection" names no cause.
        sqlx::Error::PoolTimedOut => {
            "no connection could be made within the connect timeout (the server stopped answering or refuses connections)".to_string()
        }
        other => crate::secret::redact_urls(&other.to_string()),
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::internal(err.to_string()).caused_by(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_cause_is_kept_behind_the_one_line_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::from(io).context("reading x");
        assert_eq!(e.to_string(), "reading x: no such file");
        assert_eq!(e.exit(), Exit::Internal);
        assert_eq!(
            e.source().map(|c| c.to_string()),
            Some("no such file".to_string())
        );
        assert!(Error::bad_input("bad").source().is_none());
    }

    #[test]
    fn a_cause_shown_in_debug_keeps_its_password_masked() {
        let e = Error::unavailable("source ledger: connection refused").caused_by(
            std::io::Error::other("connecting to postgres://u:hunter2@db/x"),
        );
        assert!(e.is_transient());
        assert_eq!(e.exit(), Exit::Incomplete);
        let debug = format!("{e:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("postgres://u:***@db/x"), "{debug}");
    }

    #[test]
    fn an_error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
