//! The process exit codes: the one place their numbers live (the README and deploy/ mirror them).

/// How a command ended, as the CronJob, `podFailurePolicy` and a human read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Everything compared and nothing differs.
    Clean,
    /// The comparison completed and found discrepancies.
    Discrepancies,
    /// Bad configuration, command line or input: fix it, rerunning will not help.
    BadInput,
    /// A sync still failed after its retries; what completed is saved: safe to rerun.
    Incomplete,
    /// Another run holds the lock for this store and business date.
    Locked,
    /// A bug or an unexpected failure of recon's own store.
    Internal,
}

impl Exit {
    pub const fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Discrepancies => 1,
            Exit::BadInput => 2,
            Exit::Incomplete => 3,
            Exit::Locked => 4,
            Exit::Internal => 5,
        }
    }

    pub(crate) const ALL: [Exit; 6] = [
        Exit::Clean,
        Exit::Discrepancies,
        Exit::BadInput,
        Exit::Incomplete,
        Exit::Locked,
        Exit::Internal,
    ];

    /// Of two outcomes, the one that needs the most attention: internal, locked, bad input,
    /// incomplete, discrepancies, clean.
    pub fn worse(self, other: Exit) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Clean => 0,
            Exit::Discrepancies => 1,
            Exit::Incomplete => 2,
            Exit::BadInput => 3,
            Exit::Locked => 4,
            Exit::Internal => 5,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// The outcome a stored exit code stands for.
    pub(crate) fn from_code(code: i64) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| i64::from(e.code()) == code)
    }

    /// The outcome with this name (as [`Exit::as_str`] writes it).
    pub(crate) fn parse(text: &str) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| e.as_str() == text)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Exit::Clean => "clean",
            Exit::Discrepancies => "discrepancies",
            Exit::BadInput => "bad_input",
            Exit::Incomplete => "incomplete",
            Exit::Locked => "locked",
            Exit::Internal => "internal",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
