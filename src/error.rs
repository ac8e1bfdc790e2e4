//! recon's error type: every failure carries the exit code it ends the process with.

use crate::exit::Exit;

/// A failure with a message written for the person who has to act on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Bad configuration, command line or input data (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// A source or report could not be read for a reason that may pass (exit 3).
    #[error("{0}")]
    Unavailable(String),
    /// Another run holds the lock (exit 4).
    #[error("{0}")]
    Locked(String),
    /// recon's own store or an invariant failed (exit 5).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::BadInput(_) => Exit::BadInput,
            Error::Unavailable(_) => Exit::Incomplete,
            Error::Locked(_) => Exit::Locked,
            Error::Internal(_) => Exit::Internal,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::BadInput(message.into())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// Adds context in front of the message, keeping the kind.
    pub fn context(self, prefix: impl std::fmt::Display) -> Self {
        let wrap = |m: String| format!("{prefix}: {m}");
        match self {
            Error::BadInput(m) => Error::BadInput(wrap(m)),
            Error::Unavailable(m) => Error::Unavailable(wrap(m)),
            Error::Locked(m) => Error::Locked(wrap(m)),
            Error::Internal(m) => Error::Internal(wrap(m)),
        }
    }

    /// Classifies a database error met while reading a source: a missing table, a refused
    /// login or an unreadable file is the user's to fix; a dropped connection may pass.
    pub fn from_source(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Error::Unavailable(describe_sqlx(&err)),
            sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => {
                Error::BadInput(describe_sqlx(&err))
            }
            sqlx::Error::Database(db) if is_transient_code(db.code().as_deref()) => {
                Error::Unavailable(describe_sqlx(&err))
            }
            _ => Error::BadInput(describe_sqlx(&err)),
        }
    }

    /// Wraps a failure of recon's own store.
    pub fn from_store(err: sqlx::Error) -> Self {
        Error::Internal(format!("store: {}", describe_sqlx(&err)))
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
pub fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_string(),
        },
        other => crate::secret::redact_urls(&other.to_string()),
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Internal(err.to_string())
    }
}
