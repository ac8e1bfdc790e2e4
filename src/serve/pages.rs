//! The pages people read: the backlog across dates with its filters and sorts, one finding with
//! both sides and its history night by night, the runs by date and each night's kept report.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::App;
use super::auth::{Person, refused};
use super::layout::page;
use crate::discrepancy::Status;
use crate::output::DiscrepancyEntry;
use crate::output::html::{by_stake, esc, what_differs};
use crate::store::{Assignment, DiscrepancyFilter, ListedDiscrepancy};

/// One finding of the backlog, with what its columns show.
pub(crate) struct Row {
    pub(crate) entry: DiscrepancyEntry,
    pub(crate) age_days: i64,
    pub(crate) assigned: Option<Assignment>,
    pub(crate) listed: ListedDiscrepancy,
}

/// The backlog's filters and sort, from the query string (an empty field filters nothing).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    check: Option<String>,
    kind: Option<String>,
    currency: Option<String>,
    status: Option<String>,
    min_age: Option<i64>,
    /// In the stake's major units, as digits with an optional fraction: (digits, fraction digits).
    min_stake: Option<(i128, u32)>,
    min_stake_text: Option<String>,
    sort: Sort,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Sort {
    /// Largest stake first within each currency (the report's order).
    #[default]
    Stake,
    /// Oldest first.
    Age,
    /// Newest business date first.
    Date,
    /// By check name.
    Check,
}

const STATUSES: [&str; 6] = [
    "unresolved",
    "needs_someone",
    "open",
    "carried",
    "acknowledged",
    "resolved",
];

impl Filters {
    pub(crate) fn parse(query: &HashMap<String, String>) -> Result<Filters, String> {
        let field = |name: &str| {
            query
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let status = field("status");
        if let Some(s) = &status
            && !STATUSES.contains(&s.as_str())
        {
            return Err(format!(
                "status {s:?} is not one of {}",
                STATUSES.join(", ")
            ));
        }
        let min_age = match field("min_age") {
            None => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|d| *d >= 0)
                    .ok_or_else(|| format!("min_age {text:?} is not a whole number of days"))?,
            ),
        };
        let min_stake_text = field("min_stake");
        let min_stake =
            match &min_stake_text {
                None => None,
                Some(text) => Some(parse_amount(text).ok_or_else(|| {
                    format!("min_stake {text:?} is not an amount like 100 or 99.50")
                })?),
            };
        let sort = match field("sort").as_deref() {
            None | Some("stake") => Sort::Stake,
            Some("age") => Sort::Age,
            Some("date") => Sort::Date,
            Some("check") => Sort::Check,
            Some(other) => {
                return Err(format!("sort {other:?} is not stake, age, date or check"));
            }
        };
        Ok(Filters {
            check: field("check"),
            kind: field("kind"),
            currency: field("currency").map(|c| c.to_ascii_uppercase()),
            status,
            min_age,
            min_stake,
            min_stake_text,
            sort,
        })
    }

    fn keeps(&self, row: &Row) -> bool {
        let e = &row.entry;
        let status_ok = match self.status.as_deref() {
            None | Some("unresolved") => e.status != Status::Resolved,
            Some("needs_someone") => e.status.needs_someone(),
            Some(s) => e.status.as_str() == s,
        };
        let stake_ok = match self.min_stake {
            None => true,
            Some((digits, scale)) => e.at_stake.as_ref().is_some_and(|s| {
                let exponent = crate::money::Currency::parse(&s.currency)
                    .map(|c| u32::from(c.exponent()))
                    .unwrap_or(0);
                // minor / 10^exponent >= digits / 10^scale, in integers.
                let left = s.minor.checked_mul(10i128.pow(scale));
                let right = digits.checked_mul(10i128.pow(exponent));
                match (left, right) {
                    (Some(l), Some(r)) => l >= r,
                    (None, _) => true,
                    (_, None) => false,
                }
            }),
        };
        status_ok
            && stake_ok
            && self.check.as_ref().is_none_or(|c| &e.check == c)
            && self.kind.as_ref().is_none_or(|k| e.kind == k)
            && self
                .currency
                .as_ref()
                .is_none_or(|c| e.at_stake.as_ref().is_some_and(|s| &s.currency == c))
            && self.min_age.is_none_or(|days| row.age_days >= days)
    }
}

/// `100`, `99.5`, `1234.56` as (all digits, how many after the point); at most 6 decimals.
fn parse_amount(text: &str) -> Option<(i128, u32)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > 6
        || whole.len() > 24
    {
        return None;
    }
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    Some((digits, u32::try_from(fraction.len()).ok()?))
}

/// Every finding the store holds, with its age and current assignment.
pub(crate) async fn all_rows(app: &App) -> crate::error::Result<Vec<Row>> {
    let listed = app
        .store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await?;
    let first_seen = app.store.first_seen().await?;
    let mut assignments = app.store.assignments().await?;
    let now = Utc::now();
    Ok(listed
        .into_iter()
        .map(|l| {
            let id = l.recorded.id;
            let ack = l.acknowledgements.last();
            Row {
                entry: DiscrepancyEntry::new(&l.recorded, ack, None),
                age_days: first_seen.get(&id).map_or(0, |at| (now - *at).num_days()),
                assigned: assignments.remove(&id).and_then(|mut a| a.pop()),
                listed: l,
            }
        })
        .collect())
}

/// The rows `filters` keep, in its order, as indices into `rows`.
pub(crate) fn select(rows: &[Row], filters: &Filters) -> Vec<usize> {
    let at: HashMap<i64, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.entry.id, i))
        .collect();
    let kept: Vec<&Row> = rows.iter().filter(|r| filters.keeps(r)).collect();
    let mut kept: Vec<&Row> = match filters.sort {
        Sort::Stake => by_stake(kept.iter().map(|r| &r.entry).collect())
            .into_iter()
            .filter_map(|e| at.get(&e.id).map(|i| &rows[*i]))
            .collect(),
        _ => kept,
    };
    match filters.sort {
        Sort::Stake => {}
        Sort::Age => kept.sort_by_key(|r| (std::cmp::Reverse(r.age_days), r.entry.id)),
        Sort::Date => kept.sort_by(|a, b| {
            (b.entry.partition.as_str(), a.entry.id).cmp(&(a.entry.partition.as_str(), b.entry.id))
        }),
        Sort::Check => {
            kept.sort_by(|a, b| (&a.entry.check, a.entry.id).cmp(&(&b.entry.check, b.entry.id)))
        }
    }
    kept.iter()
        .filter_map(|r| at.get(&r.entry.id).copied())
        .collect()
}

fn store_failed(e: crate::error::Error) -> Response {
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the store cannot be read: {e}"),
    )
}

/// A `<select>` of `options` (the first, empty, filters nothing) with `chosen` selected.
fn select_field(h: &mut String, name: &str, label: &str, options: &[String], chosen: Option<&str>) {
    let _ = write!(
        h,
        "<label>{label}<select name={name} id=f-{name}><option value=\"\">any</option>"
    );
    for o in options {
        let selected = if chosen == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(h, "<option value=\"{0}\"{selected}>{0}</option>", esc(o));
    }
    h.push_str("</select></label>");
}

/// The forms that acknowledge or assign the checked findings, and the CSRF token they carry.
pub(crate) fn action_fields(h: &mut String, app: &App, person: &Person) {
    let token = app.csrf.token(&person.name, Utc::now().timestamp());
    let _ = write!(
        h,
        "<div class=act><input type=hidden name=csrf value=\"{}\">\
         <label>Note (required)<textarea name=note id=note required></textarea></label>\
         <label>Reason<select name=reason id=reason><option value=explained selected>explained</option>\
         <option value=write-off>write-off</option><option value=adjustment-booked>adjustment booked</option></select></label>\
         <button type=submit id=acknowledge formaction=\"/actions/acknowledge\">Acknowledge</button>\
         <label>Assign to<input name=assignee id=assignee></label>\
         <button type=submit id=assign formaction=\"/actions/assign\">Assign</button>",
        esc(&token)
    );
    if !person.may_act() {
        let _ = write!(
            h,
            "<span class=muted>As a {}, you may read; acknowledging and assigning take an analyst.</span>",
            person.role.as_str()
        );
    }
    h.push_str("</div>");
}

/// `/`: the backlog across dates.
pub(crate) async fn backlog(
    State(app): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let filters = match Filters::parse(&query) {
        Ok(f) => f,
        Err(why) => return refused(StatusCode::BAD_REQUEST, &why),
    };
    let rows = match all_rows(&app).await {
        Ok(rows) => rows,
        Err(e) => return store_failed(e),
    };
    let shown = select(&rows, &filters);
    let distinct = |f: &dyn Fn(&Row) -> Option<String>| {
        let mut v: Vec<String> = rows.iter().filter_map(f).collect();
        v.sort();
        v.dedup();
        v
    };
    let checks = distinct(&|r| Some(r.entry.check.clone()));
    let kinds = distinct(&|r| Some(r.entry.kind.to_string()));
    let currencies = distinct(&|r| r.entry.at_stake.as_ref().map(|s| s.currency.clone()));
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<form class=filters method=get action=\"/\">");
    select_field(&mut h, "check", "Check", &checks, filters.check.as_deref());
    select_field(&mut h, "kind", "Kind", &kinds, filters.kind.as_deref());
    select_field(
        &mut h,
        "currency",
        "Currency",
        &currencies,
        filters.currency.as_deref(),
    );
    let statuses: Vec<String> = STATUSES.iter().map(|s| s.to_string()).collect();
    select_field(
        &mut h,
        "status",
        "Status (any: not resolved)",
        &statuses,
        filters.status.as_deref(),
    );
    let _ = write!(
        h,
        "<label>Min age (days)<input name=min_age id=f-min_age size=5 value=\"{}\"></label>\
         <label>Min at stake<input name=min_stake id=f-min_stake size=9 value=\"{}\"></label>",
        filters.min_age.map(|d| d.to_string()).unwrap_or_default(),
        esc(filters.min_stake_text.as_deref().unwrap_or_default())
    );
    let sorts: Vec<String> = ["stake", "age", "date", "check"].map(String::from).to_vec();
    let sort = match filters.sort {
        Sort::Stake => "stake",
        Sort::Age => "age",
        Sort::Date => "date",
        Sort::Check => "check",
    };
    h.push_str("<label>Sort<select name=sort id=f-sort>");
    for s in &sorts {
        let selected = if s == sort { " selected" } else { "" };
        let _ = write!(h, "<option value={s}{selected}>{s}</option>");
    }
    h.push_str("</select></label><button type=submit id=filter>Filter</button></form>");
    let _ = write!(
        h,
        "<p id=count>{} of {} findings</p>",
        shown.len(),
        rows.len()
    );
    h.push_str("<form method=post action=\"/actions/acknowledge\" id=bulk>");
    action_fields(&mut h, &app, &person);
    h.push_str(
        "<div class=wide><table id=backlog><thead><tr><th></th><th class=n>Id</th><th>Date</th><th>Check</th><th>Kind</th>\
         <th>Status</th><th>Key</th><th>What differs</th><th class=n>At stake</th><th class=n>Age (days)</th><th>Assigned</th></tr></thead><tbody>",
    );
    for i in &shown {
        let r = &rows[*i];
        let e = &r.entry;
        let assigned = r
            .assigned
            .as_ref()
            .map(|a| esc(&a.assignee))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr id=row-{id}><td><input type=checkbox name=id value={id} id=pick-{id} aria-label=\"select {id}\"></td>\
             <td class=n><a href=\"/findings/{id}\">{id}</a></td><td class=date>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"w k\"><code>{}</code></td><td class=w><code>{}</code></td><td class=\"n stake\">{}</td><td class=n>{}</td><td>{assigned}</td></tr>",
            esc(&e.partition),
            esc(&e.check),
            esc(e.kind),
            e.status.as_str(),
            esc(&e.key_text()),
            esc(&what_differs(e)),
            esc(&e.at_stake.as_ref().map(|s| s.shown()).unwrap_or_default()),
            r.age_days,
            id = e.id,
        );
    }
    h.push_str("</tbody></table></div></form>");
    page("Backlog", &person, &h).into_response()
}

/// `/findings/{id}`: both sides, the history night by night, acknowledgements and assignments.
pub(crate) async fn finding(
    State(app): State<App>,
    person: Person,
    Path(id): Path<i64>,
) -> Response {
    let rows = match all_rows(&app).await {
        Ok(rows) => rows,
        Err(e) => return store_failed(e),
    };
    let Some(row) = rows.iter().find(|r| r.entry.id == id) else {
        return refused(StatusCode::NOT_FOUND, &format!("there is no finding {id}"));
    };
    let steps = match app.store.finding_history(id).await {
        Ok(history) => history.steps,
        Err(e) => return store_failed(e),
    };
    let events = match app.store.audit_events_of(id).await {
        Ok(events) => events,
        Err(e) => return store_failed(e),
    };
    let assignments = match app.store.assignments().await {
        Ok(mut a) => a.remove(&id).unwrap_or_default(),
        Err(e) => return store_failed(e),
    };
    let e = &row.entry;
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<section class=lead><div class=card><h2>Finding</h2><p class=big>{}</p><p>{} · {} · <b id=status>{}</b></p></div>\
         <div class=card><h2>At stake</h2><p class=\"big stake\">{}</p><p>first seen {} day(s) ago, by run {}</p></div></section>",
        esc(e.kind),
        esc(&e.check),
        esc(&e.partition),
        e.status.as_str(),
        esc(&e
            .at_stake
            .as_ref()
            .map(|s| s.shown())
            .unwrap_or_else(|| "nothing counted".into())),
        row.age_days,
        e.first_seen_run,
    );
    // Where it is: the ledger row's key, the report line (a report's file and line), and the
    // line of the last night's report.
    let key_of = |name: &str| e.key.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let _ = write!(
        h,
        "<h2>Where</h2><p>Ledger row: <code id=ledger-row>{} {}</code></p>",
        esc(&e.check),
        esc(&e.key_text())
    );
    if let (Some(file), Some(line)) = (key_of("file"), key_of("line")) {
        let _ = write!(
            h,
            "<p>Report line: <code id=report-line>{}:{}</code></p>",
            esc(&file),
            esc(&line)
        );
    }
    if let Some(last) = steps.iter().rev().find_map(|step| step.business_date) {
        let _ = write!(
            h,
            "<p><a id=report-link href=\"/runs/{last}/report#d-{id}\">Its line in the report of {last}</a></p>",
        );
    }
    h.push_str("<h2>Both sides</h2>");
    if let Some(detail) = &e.detail {
        let _ = write!(h, "<p><code>{}</code></p>", esc(detail));
    }
    h.push_str("<div class=wide><table class=sides id=sides><thead><tr><th>Column</th><th>Left</th><th>Right</th></tr></thead><tbody>");
    for v in &e.values {
        let side = |s: &Option<crate::mask::Shown>| match s {
            Some(s) => esc(s.as_str()),
            None => "<span class=muted>NULL / absent</span>".to_string(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&v.column),
            side(&v.left),
            side(&v.right)
        );
    }
    let _ = write!(
        h,
        "</tbody></table></div><p class=muted>{}</p>",
        esc(&what_differs(e))
    );
    h.push_str("<h2>History, night by night</h2><div class=wide><table id=history><thead><tr><th>Business date</th><th class=n>Run</th><th>At (UTC)</th><th>Status after</th><th>What happened</th></tr></thead><tbody>");
    for step in &steps {
        let _ = write!(
            h,
            "<tr><td class=date>{}</td><td class=n>{}</td><td class=date>{}</td><td>{}</td><td>{}</td></tr>",
            step.business_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            step.run_id.map(|r| r.to_string()).unwrap_or_default(),
            step.at.format("%Y-%m-%d %H:%M"),
            step.status,
            esc(step.event.as_deref().unwrap_or("seen")),
        );
    }
    h.push_str("</tbody></table></div><h2>Audit trail</h2><div class=wide><table id=audit><thead><tr><th class=n>Entry</th><th>At</th><th>Who</th><th>What</th><th>Note</th></tr></thead><tbody>");
    for ev in &events {
        let note = ev
            .payload
            .get("note")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let what = match ev.payload.get("assignee").and_then(|a| a.as_str()) {
            Some(to) => format!("{} to {}", ev.action, to),
            None => ev.action.clone(),
        };
        let _ = write!(
            h,
            "<tr><td class=n>{}</td><td class=date>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ev.seq,
            esc(&ev.at),
            esc(&ev.actor),
            esc(&what),
            esc(note)
        );
    }
    h.push_str("</tbody></table></div><h2>Acknowledgements</h2>");
    if row.listed.acknowledgements.is_empty() {
        h.push_str("<p class=muted id=acks>None.</p>");
    } else {
        h.push_str("<ul id=acks>");
        for a in &row.listed.acknowledgements {
            let _ = write!(h, "<li>{}: {}</li>", esc(&a.actor), esc(&a.note));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>Assignments</h2>");
    if assignments.is_empty() {
        h.push_str("<p class=muted id=assignments>None.</p>");
    } else {
        h.push_str("<ul id=assignments>");
        for a in &assignments {
            let _ = write!(
                h,
                "<li>to {} by {} at {}: {}</li>",
                esc(&a.assignee),
                esc(&a.actor),
                a.at.format("%Y-%m-%d %H:%M"),
                esc(&a.note)
            );
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<form method=post action=\"/actions/acknowledge\" id=act><input type=hidden name=id value={id}>"
    );
    action_fields(&mut h, &app, &person);
    h.push_str("</form>");
    page(&format!("Finding {id}"), &person, &h).into_response()
}

/// `/runs`: every run by business date, with its kept report.
pub(crate) async fn runs(State(app): State<App>, person: Person) -> Response {
    let runs = match app.store.listed_runs().await {
        Ok(runs) => runs,
        Err(e) => return store_failed(e),
    };
    let mut h = String::from(
        "<div class=wide><table id=runs><thead><tr><th>Business date</th><th class=n>Run</th><th>Started (UTC)</th><th>Status</th><th>Outcome</th><th>Report</th></tr></thead><tbody>",
    );
    for r in &runs {
        let kept = report_path(&app, r.business_date).is_file();
        let report = match (kept, r.superseded_by) {
            (_, Some(by)) => format!("superseded by run {by}"),
            (true, None) => format!(
                "<a href=\"/runs/{0}/report\">report of {0}</a>",
                r.business_date
            ),
            (false, None) => "<span class=muted>not kept</span>".to_string(),
        };
        let _ = write!(
            h,
            "<tr><td class=date>{}</td><td class=n>{}</td><td class=date>{}</td><td>{}</td><td>{}</td><td>{report}</td></tr>",
            r.business_date,
            r.id,
            r.started_at.format("%Y-%m-%d %H:%M"),
            esc(&r.status),
            esc(r.outcome.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody></table></div>");
    page("Runs", &person, &h).into_response()
}

fn report_path(app: &App, date: NaiveDate) -> std::path::PathBuf {
    app.reports.join(date.to_string()).join("report.html")
}

/// `/runs/{date}/report`: that night's kept `report.html`, its inline style allowed by hash
/// (and nothing else).
pub(crate) async fn kept_report(
    State(app): State<App>,
    _person: Person,
    Path(date): Path<String>,
) -> Response {
    let Ok(date) = NaiveDate::parse_from_str(&date, "%Y-%m-%d") else {
        return refused(
            StatusCode::NOT_FOUND,
            "a report is named by its business date, YYYY-MM-DD",
        );
    };
    let html = match tokio::fs::read_to_string(report_path(&app, date)).await {
        Ok(html) => html,
        Err(_) => {
            return refused(
                StatusCode::NOT_FOUND,
                &format!("no report of {date} is kept"),
            );
        }
    };
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(style, _)| style)
        .unwrap_or_default();
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(style.as_bytes()),
    );
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = Html(html).into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}
