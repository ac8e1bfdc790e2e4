//! What `recon serve`'s triage pages read and write beyond acknowledgements: assignments, a
//! finding's history night by night, the runs by date, and the hashed per-user tokens.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::{Acknowledgement, BeginWrite, Store, StorePool};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// A finding given to a person, with why, and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) assignee: String,
    pub(crate) note: String,
    pub(crate) actor: String,
    pub(crate) at: DateTime<Utc>,
}

/// One audit entry about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FindingEvent {
    pub(crate) seq: i64,
    pub(crate) at: String,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) run_id: Option<RunId>,
    pub(crate) payload: serde_json::Value,
}

/// A run as the runs page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedRun {
    pub(crate) id: RunId,
    pub(crate) business_date: NaiveDate,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) status: String,
    pub(crate) outcome: Option<String>,
    pub(crate) superseded_by: Option<RunId>,
}

impl Store {
    /// Gives discrepancy `id` to `assignee` with `note`, in one transaction with its audit entry.
    /// Who acts is recorded as an acknowledgement's actor is ([`Store::acknowledge_all`]): on
    /// PostgreSQL the session's role with `claimed` beside it, on SQLite `claimed`.
    pub(crate) async fn assign(
        &self,
        id: i64,
        assignee: &str,
        note: &str,
        claimed: &str,
    ) -> Result<String> {
        let assignee = assignee.trim();
        if assignee.is_empty() || note.trim().is_empty() {
            return Err(Error::bad_input(
                "an assignment needs a person to assign to and a note saying why",
            ));
        }
        let note = crate::mask::Shown::masked(note);
        let note = note.as_str();
        let (actor, display_name) = match &self.pool {
            // Replaced by the database's `session_user` on insert.
            StorePool::Postgres(_) => (String::new(), Some(claimed)),
            StorePool::Sqlite(_) => (claimed.to_string(), None),
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let found: Option<(String, String, String, String)> = sqlx::query_as(
                "SELECT check_name, partition_key, kind, key_json FROM discrepancies WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let Some((check, partition, kind, key_json)) = found else {
                return Err(Error::bad_input(format!("there is no discrepancy {id}")));
            };
            let actor: String = sqlx::query_scalar(
                "INSERT INTO assignments (discrepancy_id, at, actor, display_name, assignee, note)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING actor",
            )
            .bind(id)
            .bind(Utc::now())
            .bind(&actor)
            .bind(display_name)
            .bind(assignee)
            .bind(note)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let shown_actor = Acknowledgement::shown_actor(&actor, display_name);
            let key: serde_json::Value = serde_json::from_str(&key_json)
                .map_err(|_| Error::internal("store holds a malformed discrepancy (key_json)"))?;
            let entry = NewEntry::new(
                "discrepancy_assigned",
                &shown_actor,
                None,
                json!({
                    "id": id,
                    "check": check,
                    "partition": partition,
                    "kind": kind,
                    "key": key,
                    "assignee": assignee,
                    "note": note,
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(shown_actor)
        })
    }

    /// Every assignment, oldest first, by discrepancy id (the last is the current one).
    pub(crate) async fn assignments(&self) -> Result<HashMap<i64, Vec<Assignment>>> {
        /// discrepancy_id, actor, display_name, assignee, note, at
        type AssignmentRow = (i64, String, Option<String>, String, String, DateTime<Utc>);
        let rows: Vec<AssignmentRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT discrepancy_id, actor, display_name, assignee, note, at FROM assignments ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?
        });
        let mut by_discrepancy = HashMap::<i64, Vec<Assignment>>::new();
        for (id, actor, display_name, assignee, note, at) in rows {
            by_discrepancy.entry(id).or_default().push(Assignment {
                assignee,
                note,
                actor: Acknowledgement::shown_actor(&actor, display_name.as_deref()),
                at,
            });
        }
        Ok(by_discrepancy)
    }

    /// When each discrepancy was first seen, by id.
    pub(crate) async fn first_seen(&self) -> Result<HashMap<i64, DateTime<Utc>>> {
        let rows: Vec<(i64, DateTime<Utc>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT id, first_seen_at FROM discrepancies")
                .fetch_all(pool)
                .await
                .map_err(Error::from_store)?
        });
        Ok(rows.into_iter().collect())
    }

    /// The audit entries about discrepancy `id`, oldest first (its life night by night is
    /// [`Store::finding_history`]).
    pub(crate) async fn audit_events_of(&self, id: i64) -> Result<Vec<FindingEvent>> {
        // Every entry about one finding begins with its id (`json!` keeps the written order);
        // the prefix narrows the scan, the parsed payload decides.
        let prefix = format!("{{\"id\":{id},%");
        on_pool!(self, pool => {
            let mut events = Vec::new();
            let rows = sqlx::query(
                "SELECT seq, at, actor, action, run_id, payload FROM audit_log WHERE payload LIKE $1 ORDER BY seq",
            )
            .bind(prefix)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            for row in &rows {
                let payload: String = row.try_get("payload").map_err(Error::from_store)?;
                let Ok(payload) = serde_json::from_str::<serde_json::Value>(&payload) else {
                    continue;
                };
                if payload.get("id").and_then(serde_json::Value::as_i64) != Some(id) {
                    continue;
                }
                events.push(FindingEvent {
                    seq: row.try_get("seq").map_err(Error::from_store)?,
                    at: row.try_get("at").map_err(Error::from_store)?,
                    actor: row.try_get("actor").map_err(Error::from_store)?,
                    action: row.try_get("action").map_err(Error::from_store)?,
                    run_id: row.try_get("run_id").map_err(Error::from_store)?,
                    payload,
                });
            }
            Ok(events)
        })
    }

    /// Every run, newest business date first, then newest run first.
    pub(crate) async fn listed_runs(&self) -> Result<Vec<ListedRun>> {
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT id, business_date, started_at, status, outcome, superseded_by FROM runs
                 ORDER BY business_date DESC, id DESC",
            )
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?
            .iter()
            .map(|row| {
                Ok(ListedRun {
                    id: row.try_get("id").map_err(Error::from_store)?,
                    business_date: row.try_get("business_date").map_err(Error::from_store)?,
                    started_at: row.try_get("started_at").map_err(Error::from_store)?,
                    status: row.try_get("status").map_err(Error::from_store)?,
                    outcome: row.try_get("outcome").map_err(Error::from_store)?,
                    superseded_by: row.try_get("superseded_by").map_err(Error::from_store)?,
                })
            })
            .collect()
        })
    }

    /// Keeps a per-user token of the triage page as its SHA-256 only, with an audit entry
    /// naming the user and role (never the token).
    pub(crate) async fn add_serve_token(
        &self,
        token_sha256: &str,
        user: &str,
        role: &str,
        actor: &str,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO serve_tokens (token_sha256, user_name, role, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_sha256)
            .bind(user)
            .bind(role)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let entry = NewEntry::new(
                "serve_token_added",
                actor,
                None,
                json!({ "user": user, "role": role }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(())
        })
    }

    /// The user and role of the token whose SHA-256 is `token_sha256`, if one was added.
    pub(crate) async fn serve_token(&self, token_sha256: &str) -> Result<Option<(String, String)>> {
        on_pool!(self, pool => {
            sqlx::query_as("SELECT user_name, role FROM serve_tokens WHERE token_sha256 = $1")
                .bind(token_sha256)
                .fetch_optional(pool)
                .await
                .map_err(Error::from_store)
        })
    }
}
