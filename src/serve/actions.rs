//! What people do on the triage page: acknowledge or assign the findings they checked, each
//! POST checked for its form's CSRF token, the browser's origin and the person's role, and
//! recorded in the audit chain with the person beside the server's own database role.

use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::App;
use super::auth::{Person, refused};
use super::layout::page;
use crate::output::html::esc;
use crate::store::{AckReason, AckRequest};

/// A POSTed form: every `id` checked, the note, the reason code, the assignee, the CSRF token.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Posted {
    pub(crate) ids: Vec<i64>,
    pub(crate) note: String,
    /// `explained`, `write-off` or `adjustment-booked`: an acknowledgement's reason code.
    pub(crate) reason: Option<AckReason>,
    pub(crate) assignee: String,
    pub(crate) csrf: String,
}

impl Posted {
    pub(crate) fn parse(body: &[u8]) -> Result<Posted, String> {
        let mut posted = Posted::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "id" => posted.ids.push(
                    value
                        .parse()
                        .map_err(|_| format!("{value:?} is not a finding's id"))?,
                ),
                "note" => posted.note = value.into_owned(),
                "reason" => {
                    posted.reason = Some(AckReason::parse(&value).ok_or_else(|| {
                        format!(
                            "{value:?} is not a reason: explained, write-off or adjustment-booked"
                        )
                    })?)
                }
                "assignee" => posted.assignee = value.into_owned(),
                "csrf" => posted.csrf = value.into_owned(),
                _ => {}
            }
        }
        posted.ids.sort_unstable();
        posted.ids.dedup();
        Ok(posted)
    }
}

/// The checks every action passes before it touches anything: the browser's origin, the form's
/// token, the person's role, something chosen, a note.
fn admitted(
    app: &App,
    person: &Person,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Posted, (StatusCode, String)> {
    if let Some(why) = super::csrf::cross_site(headers) {
        return Err((StatusCode::FORBIDDEN, why));
    }
    let posted = Posted::parse(body).map_err(|why| (StatusCode::BAD_REQUEST, why))?;
    if !app
        .csrf
        .holds(&posted.csrf, &person.name, Utc::now().timestamp())
    {
        return Err((
            StatusCode::FORBIDDEN,
            "the form's token is missing, expired or not yours: reload the page and send it again"
                .to_string(),
        ));
    }
    if !person.may_act() {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "{} is a {}: a viewer may read, not acknowledge or assign",
                person.name,
                person.role.as_str()
            ),
        ));
    }
    if posted.ids.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "no finding was chosen".to_string()));
    }
    if posted.note.trim().is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "a note saying why is required".to_string(),
        ));
    }
    Ok(posted)
}

fn done(person: &Person, title: &str, lines: &[String]) -> Response {
    let mut h = String::from("<div class=done id=done><ul>");
    for line in lines {
        let _ = write!(h, "<li>{}</li>", esc(line));
    }
    h.push_str("</ul></div><p><a href=\"/\">Back to the backlog</a></p>");
    page(title, person, &h).into_response()
}

/// `POST /actions/acknowledge`: every chosen finding acknowledged with the note, or none when
/// the person may not acknowledge one of them.
pub(crate) async fn acknowledge(
    State(app): State<App>,
    person: Person,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let posted = match admitted(&app, &person, &headers, &body) {
        Ok(p) => p,
        Err((status, why)) => return refused(status, &why),
    };
    let rows = match super::pages::all_rows(&app).await {
        Ok(rows) => rows,
        Err(e) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the store cannot be read: {e}"),
            );
        }
    };
    for id in &posted.ids {
        let Some(row) = rows.iter().find(|r| r.entry.id == *id) else {
            return refused(StatusCode::NOT_FOUND, &format!("there is no finding {id}"));
        };
        if !person.may_acknowledge(row.entry.kind) {
            return refused(
                StatusCode::FORBIDDEN,
                &format!(
                    "finding {id} is {}: a sealed day changed, which only an approver may acknowledge ({} is an {}); nothing was acknowledged",
                    row.entry.kind,
                    person.name,
                    person.role.as_str()
                ),
            );
        }
    }
    let Some(reason) = posted.reason else {
        return refused(
            StatusCode::BAD_REQUEST,
            "choose a reason: explained, write-off or adjustment-booked",
        );
    };
    let request = AckRequest {
        note: &posted.note,
        reason: Some(reason),
        claimed: Some(&person.name),
        until: None,
    };
    // All or none, in one transaction, as `recon discrepancies ack` does.
    match app.store.acknowledge_all(&posted.ids, &request).await {
        Ok((recorded, actor)) => {
            let lines: Vec<String> = recorded
                .iter()
                .map(|r| {
                    format!(
                        "finding {} ({} {} {}) acknowledged ({}) by {actor}",
                        r.id,
                        r.discrepancy.check,
                        r.discrepancy.kind.as_str(),
                        r.discrepancy.key_display(),
                        reason.as_str()
                    )
                })
                .collect();
            done(&person, "Acknowledged", &lines)
        }
        Err(e) => refused(StatusCode::CONFLICT, &e.to_string()),
    }
}

/// `POST /actions/assign`: every chosen finding given to the assignee with the note.
pub(crate) async fn assign(
    State(app): State<App>,
    person: Person,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let posted = match admitted(&app, &person, &headers, &body) {
        Ok(p) => p,
        Err((status, why)) => return refused(status, &why),
    };
    if posted.assignee.trim().is_empty() {
        return refused(StatusCode::BAD_REQUEST, "say whom to assign to");
    }
    let mut lines = Vec::new();
    for id in &posted.ids {
        match app
            .store
            .assign(*id, &posted.assignee, &posted.note, &person.name)
            .await
        {
            Ok(actor) => lines.push(format!(
                "finding {id} assigned to {} by {actor}",
                posted.assignee.trim()
            )),
            Err(e) => {
                lines.push(format!("finding {id} not assigned: {e}"));
                let mut response = done(&person, "Assigned in part", &lines);
                *response.status_mut() = StatusCode::CONFLICT;
                return response;
            }
        }
    }
    done(&person, "Assigned", &lines)
}
