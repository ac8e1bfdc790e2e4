//! Which camt message and version a file is, from its namespace: the element names of its message and statements, and the kind of statement it gives.

use crate::bank::StatementKind;

/// The camt messages and versions read, as their namespaces name them.
const FORMATS: [&str; 21] = [
    "camt.052.001.02",
    "camt.052.001.03",
    "camt.052.001.04",
    "camt.052.001.05",
    "camt.052.001.06",
    "camt.052.001.07",
    "camt.052.001.08",
    "camt.053.001.02",
    "camt.053.001.03",
    "camt.053.001.04",
    "camt.053.001.05",
    "camt.053.001.06",
    "camt.053.001.07",
    "camt.053.001.08",
    "camt.054.001.02",
    "camt.054.001.03",
    "camt.054.001.04",
    "camt.054.001.05",
    "camt.054.001.06",
    "camt.054.001.07",
    "camt.054.001.08",
];

pub(super) const NAMESPACE_PREFIX: &str = "urn:iso:std:iso:20022:tech:xsd:";

/// What one camt message is: its format, and its message and statement elements.
#[derive(Debug, Clone, Copy)]
pub(super) struct Message {
    pub(super) format: &'static str,
    pub(super) element: &'static str,
    pub(super) statement: &'static str,
    pub(super) kind: StatementKind,
}

impl Message {
    pub(super) fn of_namespace(namespace: &str) -> Option<Message> {
        let id = namespace.strip_prefix(NAMESPACE_PREFIX)?;
        let format = *FORMATS.iter().find(|known| **known == id)?;
        let (element, statement, kind) = match format.get(..8)? {
            "camt.052" => ("BkToCstmrAcctRpt", "Rpt", StatementKind::Intraday),
            "camt.053" => ("BkToCstmrStmt", "Stmt", StatementKind::EndOfDay),
            _ => (
                "BkToCstmrDbtCdtNtfctn",
                "Ntfctn",
                StatementKind::Notification,
            ),
        };
        Some(Message {
            format,
            element,
            statement,
            kind,
        })
    }
}
