//! Logging: readable lines on a terminal, JSON lines in the cluster (`RECON_LOG_FORMAT=json`).
//!
//! Logs go to stderr so stdout stays for results (`recon diff --json`, the run summary).
//! The level comes from `RUST_LOG` (default `info`). A JSON line carries, at its top level, the
//! fields of every span it was logged in (`run_id`, `business_date`, `check`, `partition`), so
//! each line can be found by its run on its own; spans write no lines of their own.
//! Every line, whoever logged it (recon, sqlx, hyper at trace level), leaves with its card
//! numbers masked and its URLs' passwords redacted ([`MaskedStderr`]).

use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// True when `RECON_LOG_FORMAT=json`: stderr is then a stream of JSON lines and nothing else.
pub fn json_logs() -> bool {
    std::env::var("RECON_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// Log targets silenced whatever `RUST_LOG` says, because they write secrets: sqlx's PostgreSQL
/// URL parser logs every query parameter it does not know with its value, so a
/// `?sslpassword=…` (which it ignores) would be written in clear at `warn`.
const SECRET_BEARING_TARGETS: &[&str] = &["sqlx_postgres::options::parse"];

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for target in SECRET_BEARING_TARGETS {
        if let Ok(silenced) = format!("{target}=off").parse() {
            filter = filter.add_directive(silenced);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskedStderr);
    let installed = if json_logs() {
        builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .compact()
            .try_init()
    };
    // A subscriber may already be installed (tests); keeping it is fine.
    let _ = installed;
}

/// Where log lines go: stderr, each line with its card numbers masked and its URLs' passwords
/// redacted on the way out, so a field logged by a dependency (a query parameter, a response
/// body at trace level) cannot carry one out; recon masks what it logs before that.
struct MaskedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> MaskedLine {
        MaskedLine
    }
}

/// One log line on its way to stderr (the formatter writes each event in one `write_all`).
struct MaskedLine;

impl std::io::Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let redacted = crate::secret::redact_urls(&text);
        let shown = crate::mask::mask_card_numbers(&redacted);
        std::io::stderr().lock().write_all(shown.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One JSON object per event: `timestamp`, `level`, `target`, the fields of its spans from the
/// outermost in (an inner span's field wins over an outer one's of the same name), then the
/// event's own fields, `message` among them.
struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_string()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields as JSON values: numbers and booleans as such, the rest as text.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}
