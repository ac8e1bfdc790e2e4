//! The frame every triage page shares: the report's styles (served by recon, no inline style),
//! a navigation bar naming the person and role, and plain server-rendered HTML.

use axum::http::header;
use axum::response::{Html, IntoResponse};

use super::auth::Person;
use crate::output::html::{STYLE, esc};

/// The triage pages' own rules, after the report's.
const SERVE_STYLE: &str = "
nav{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
nav a{color:#fff;text-decoration:none;font-weight:600}nav .who{margin-left:auto;opacity:.85}
form.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;background:#fff;border:1px solid #e2e6ea;border-radius:6px;padding:10px 14px;margin:12px 0}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#4a5568}
input,select,button,textarea{font:inherit;max-width:100%;box-sizing:border-box}
.act{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;background:#fff;border:1px solid #e2e6ea;border-radius:6px;padding:10px 14px;margin:12px 0}
.act label{display:flex;flex-direction:column;font-size:12px;color:#4a5568}
.act textarea{width:420px;height:2.4em}
main{max-width:1320px}#backlog td{white-space:nowrap}#backlog td.w{white-space:normal}
td.w code,.sides code{overflow-wrap:anywhere}#backlog td.k code{overflow-wrap:break-word}
.sides td,.sides th{width:33%}
.refused{background:#fdecea;border:1px solid #b3261e;border-radius:6px;padding:12px 16px}
.done{background:#e7f4ec;border:1px solid #1f7a4d;border-radius:6px;padding:12px 16px}
";

/// `/static/recon.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        format!("{STYLE}{SERVE_STYLE}"),
    )
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · recon</title><link rel=\"stylesheet\" href=\"/static/recon.css\"></head><body>",
        esc(title)
    )
}

/// A whole page for `person`, `body` already HTML.
pub(crate) fn page(title: &str, person: &Person, body: &str) -> Html<String> {
    Html(format!(
        "{}<nav><a href=\"/\">Backlog</a><a href=\"/runs\">Runs</a>\
         <span class=who>{} · {}</span></nav><main><h1>{}</h1>{body}</main></body></html>\n",
        head(title),
        esc(&person.name),
        person.role.as_str(),
        esc(title)
    ))
}

/// A page saying one thing, for someone not (yet) known: a refusal, an error.
pub(crate) fn message_page(title: &str, message: &str) -> Html<String> {
    Html(format!(
        "{}<main><h1>{}</h1><p class=refused id=message>{}</p><p><a href=\"/\">Back to the backlog</a></p></main></body></html>\n",
        head(title),
        esc(title),
        esc(message)
    ))
}
