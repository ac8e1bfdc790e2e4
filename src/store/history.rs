//! A finding's life night by night, from what the store keeps: the runs that saw it (or resolved
//! it), its audit entries, and its acknowledgements.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{AckReason, Acknowledgement, DiscrepancyFilter, ListedDiscrepancy, Store, StorePool};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// One step of a finding's life: a run that saw or resolved it, or an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Step {
    /// The business date of the run; `None` for an acknowledgement.
    pub(crate) business_date: Option<NaiveDate>,
    pub(crate) run_id: Option<RunId>,
    /// When the run started, or the acknowledgement was made.
    pub(crate) at: DateTime<Utc>,
    /// The finding's status after this step: `new`, `carried`, `acknowledged` or `resolved`.
    pub(crate) status: &'static str,
    /// What happened beyond the status: the values changed, an acknowledgement lapsed (and
    /// why), an acknowledgement's reason, note and who.
    pub(crate) event: Option<String>,
}

/// A finding and its life, oldest step first.
#[derive(Debug, Clone)]
pub(crate) struct FindingHistory {
    pub(crate) finding: ListedDiscrepancy,
    pub(crate) steps: Vec<Step>,
}

/// What one run did to the finding, from its audit entries.
#[derive(Default)]
struct RunEvents {
    opened: bool,
    changed: bool,
    resolved: bool,
    lapsed: Option<String>,
}

/// The audit actions that move a finding along its life in a run.
const RUN_ACTIONS: &str =
    "'discrepancy_opened', 'discrepancy_changed', 'discrepancy_resolved', 'acknowledgement_lapsed'";

impl Store {
    /// Discrepancy `id` and every step of its life the store still holds (runs past the
    /// history retention are pruned). The store keeps only a finding's latest values: a run
    /// that saw them change says so.
    pub(crate) async fn finding_history(&self, id: i64) -> Result<FindingHistory> {
        let filter = DiscrepancyFilter {
            ids: vec![id],
            ..DiscrepancyFilter::default()
        };
        let finding = self
            .list_discrepancies(&filter)
            .await?
            .pop()
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "there is no discrepancy {id}; `recon discrepancies list` shows them"
                ))
            })?;
        let (runs, entries, acks) = on_pool!(self, pool => {
            let runs: Vec<(RunId, NaiveDate, DateTime<Utc>)> = sqlx::query_as(
                "SELECT r.id, r.business_date, r.started_at FROM runs r
                 WHERE r.id IN (SELECT run_id FROM run_discrepancies WHERE discrepancy_id = $1)
                    OR r.id = (SELECT resolved_run_id FROM discrepancies WHERE id = $1)
                 ORDER BY r.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let entries = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT run_id, action, payload FROM audit_log WHERE action IN ({RUN_ACTIONS}) ORDER BY seq"
            )))
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let mut events = std::collections::HashMap::<RunId, RunEvents>::new();
            for row in &entries {
                let payload: String = row.try_get("payload").map_err(Error::from_store)?;
                let payload: serde_json::Value = serde_json::from_str(&payload)
                    .map_err(|_| Error::internal("store holds an audit entry whose payload is not JSON"))?;
                if payload["id"].as_i64() != Some(id) {
                    continue;
                }
                let Some(run_id) = row.try_get::<Option<RunId>, _>("run_id").map_err(Error::from_store)? else {
                    continue;
                };
                let action: String = row.try_get("action").map_err(Error::from_store)?;
                let run = events.entry(run_id).or_default();
                match action.as_str() {
                    "discrepancy_opened" => run.opened = true,
                    "discrepancy_changed" => run.changed = true,
                    "discrepancy_resolved" => run.resolved = true,
                    _ => run.lapsed = payload["reason"].as_str().map(str::to_string),
                }
            }
            let acks = sqlx::query(
                "SELECT at, actor, display_name, note, reason FROM acknowledgements
                 WHERE discrepancy_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?
            .iter()
            .map(|row| {
                let at: DateTime<Utc> = row.try_get("at").map_err(Error::from_store)?;
                let actor: String = row.try_get("actor").map_err(Error::from_store)?;
                let display_name: Option<String> = row.try_get("display_name").map_err(Error::from_store)?;
                Ok((at, Acknowledgement {
                    note: row.try_get("note").map_err(Error::from_store)?,
                    actor: Acknowledgement::shown_actor(&actor, display_name.as_deref()),
                    reason: AckReason::from_stored(row.try_get("reason").map_err(Error::from_store)?)?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
            (runs, events, acks)
        });
        Ok(FindingHistory {
            finding,
            steps: steps(runs, entries, acks),
        })
    }
}

/// The steps of a life: each run in order, each acknowledgement placed before the first run
/// that started after it; a run's status follows from its entries (opened: new; resolved;
/// lapsed: carried), else from the status before it (new goes on as carried).
fn steps(
    runs: Vec<(RunId, NaiveDate, DateTime<Utc>)>,
    mut events: std::collections::HashMap<RunId, RunEvents>,
    acks: Vec<(DateTime<Utc>, Acknowledgement)>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut acks = acks.into_iter().peekable();
    let mut status = "new";
    let acknowledged = |at: DateTime<Utc>, ack: Acknowledgement| Step {
        business_date: None,
        run_id: None,
        at,
        status: "acknowledged",
        event: Some(format!(
            "acknowledged{} by {}: {}",
            ack.reason
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default(),
            ack.actor,
            ack.note
        )),
    };
    for (run_id, business_date, started_at) in runs {
        while let Some((at, ack)) = acks.next_if(|(at, _)| *at < started_at) {
            status = "acknowledged";
            steps.push(acknowledged(at, ack));
        }
        let run = events.remove(&run_id).unwrap_or_default();
        status = match (&run, status) {
            (RunEvents { resolved: true, .. }, _) => "resolved",
            (RunEvents { opened: true, .. }, _) => "new",
            (
                RunEvents {
                    lapsed: Some(_), ..
                },
                _,
            ) => "carried",
            (_, "new") => "carried",
            (_, other) => other,
        };
        let mut event = Vec::new();
        if run.changed {
            event.push("values changed".to_string());
        }
        if let Some(reason) = &run.lapsed {
            event.push(format!("acknowledgement lapsed ({reason})"));
        }
        steps.push(Step {
            business_date: Some(business_date),
            run_id: Some(run_id),
            at: started_at,
            status,
            event: (!event.is_empty()).then(|| event.join("; ")),
        });
    }
    steps.extend(acks.map(|(at, ack)| acknowledged(at, ack)));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn ack(note: &str) -> Acknowledgement {
        Acknowledgement {
            note: note.to_string(),
            actor: "ana".to_string(),
            reason: Some(AckReason::WriteOff),
        }
    }

    #[test]
    fn each_acknowledgement_comes_before_the_first_run_started_after_it() {
        let runs = vec![
            (
                RunId(1),
                "2026-11-20".parse().unwrap(),
                at("2026-11-21T01:00:00Z"),
            ),
            (
                RunId(2),
                "2026-11-21".parse().unwrap(),
                at("2026-11-22T01:00:00Z"),
            ),
            (
                RunId(3),
                "2026-11-22".parse().unwrap(),
                at("2026-11-23T01:00:00Z"),
            ),
            (
                RunId(4),
                "2026-11-23".parse().unwrap(),
                at("2026-11-24T01:00:00Z"),
            ),
        ];
        let mut events = std::collections::HashMap::new();
        events.insert(
            RunId(1),
            RunEvents {
                opened: true,
                ..RunEvents::default()
            },
        );
        events.insert(
            RunId(3),
            RunEvents {
                lapsed: Some("expired".to_string()),
                ..RunEvents::default()
            },
        );
        let acks = vec![
            (at("2026-11-21T09:00:00Z"), ack("first")),
            (at("2026-11-24T09:00:00Z"), ack("again")),
        ];
        let got: Vec<(Option<i64>, &str, Option<String>)> = steps(runs, events, acks)
            .into_iter()
            .map(|s| (s.run_id.map(|r| r.0), s.status, s.event))
            .collect();
        assert_eq!(
            got,
            [
                (Some(1), "new", None),
                (
                    None,
                    "acknowledged",
                    Some("acknowledged (write-off) by ana: first".to_string())
                ),
                (Some(2), "acknowledged", None),
                (
                    Some(3),
                    "carried",
                    Some("acknowledgement lapsed (expired)".to_string())
                ),
                (Some(4), "carried", None),
                (
                    None,
                    "acknowledged",
                    Some("acknowledged (write-off) by ana: again".to_string())
                ),
            ]
        );
    }
}
