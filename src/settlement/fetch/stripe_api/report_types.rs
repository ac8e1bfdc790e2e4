//! The report types a `stripe_api` run may ask for, with the run parameters Stripe documents for
//! each (docs.stripe.com/reports/report-types/balance and …/payout-reconciliation), and how a
//! check's run is planned from them and the format: every documented parameter is either sent
//! or refused by `config check`, naming the parameter and the report type.

use crate::settlement::report::stripe::{Options, Report};

/// One documented report type and its run parameters (required and optional alike).
struct ReportType {
    id: &'static str,
    family: Report,
    parameters: &'static [&'static str],
}

const ITEMIZED: &[&str] = &[
    "interval_start",
    "interval_end",
    "currency",
    "reporting_category",
    "decimal_separator",
    "columns",
];

const ITEMIZED_WITH_TIMEZONE: &[&str] = &[
    "interval_start",
    "interval_end",
    "timezone",
    "currency",
    "reporting_category",
    "decimal_separator",
    "columns",
];

/// The itemized report types the `stripe` format reads, oldest version first per family.
const DOCUMENTED: &[ReportType] = &[
    ReportType {
        id: "balance_change_from_activity.itemized.1",
        family: Report::BalanceChangeFromActivity,
        parameters: ITEMIZED,
    },
    ReportType {
        id: "balance_change_from_activity.itemized.2",
        family: Report::BalanceChangeFromActivity,
        parameters: ITEMIZED,
    },
    ReportType {
        id: "balance_change_from_activity.itemized.3",
        family: Report::BalanceChangeFromActivity,
        parameters: ITEMIZED_WITH_TIMEZONE,
    },
    ReportType {
        id: "payout_reconciliation.itemized.1",
        family: Report::PayoutReconciliation,
        parameters: ITEMIZED,
    },
    ReportType {
        id: "payout_reconciliation.itemized.2",
        family: Report::PayoutReconciliation,
        parameters: ITEMIZED,
    },
    ReportType {
        id: "payout_reconciliation.itemized.3",
        family: Report::PayoutReconciliation,
        parameters: ITEMIZED,
    },
    ReportType {
        id: "payout_reconciliation.itemized.4",
        family: Report::PayoutReconciliation,
        parameters: ITEMIZED_WITH_TIMEZONE,
    },
    ReportType {
        id: "payout_reconciliation.itemized.5",
        family: Report::PayoutReconciliation,
        parameters: ITEMIZED_WITH_TIMEZONE,
    },
];

/// What a check's report run sends besides the business day and the columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunPlan {
    pub(crate) report_type: String,
    /// `parameters[timezone]`: the format's zone, where the report type takes one.
    pub(crate) timezone: Option<String>,
    /// `parameters[decimal_separator]`: the format's separator, where the report type takes one.
    pub(crate) decimal_separator: Option<char>,
}

/// The versions of `family`, as a list for messages.
fn versions(family: Report, with: Option<&str>) -> String {
    DOCUMENTED
        .iter()
        .filter(|t| t.family == family && with.is_none_or(|p| t.parameters.contains(&p)))
        .map(|t| t.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The run `report_type` (none: the newest version of the format's report) makes for a format
/// with `options`, asked for with the extra `parameters` and `columns`. `Err` is `(key, message)`:
/// the `stripe_api` or `format_options` key to fix and why.
pub(crate) fn plan(
    report_type: Option<&str>,
    parameters: &[String],
    columns: &[String],
    options: &Options,
) -> Result<RunPlan, (String, String)> {
    let family = options.report_type;
    let id = match report_type {
        Some(id) => id,
        None => DOCUMENTED
            .iter()
            .rev()
            .find(|t| t.family == family)
            .map(|t| t.id)
            .unwrap_or_default(),
    };
    let key = |k: &str| format!("stripe_api.{k}");
    let Some(documented) = DOCUMENTED.iter().find(|t| t.id == id) else {
        return Err((
            key("report_type"),
            format!(
                "{id:?} is not a report type whose run parameters recon knows; the format reads {}",
                versions(family, None)
            ),
        ));
    };
    if documented.family != family {
        return Err((
            key("report_type"),
            format!(
                "{id} is a {} report, but the format reads {} reports (format_options.report_type = \"{}\"): set format_options.report_type = \"{}\", or run one of {}",
                documented.family.as_str(),
                family.as_str(),
                family.as_str(),
                documented.family.as_str(),
                versions(family, None)
            ),
        ));
    }
    // every parameter asked for is refused: the first one is named
    if let Some(name) = parameters.first() {
        let why = match name.as_str() {
            _ if !documented.parameters.contains(&name.as_str()) => format!(
                "{id} documents no run parameter {name:?} (its parameters: {})",
                documented.parameters.join(", ")
            ),
            "interval_start" | "interval_end" => {
                format!("recon sends {name} of {id} itself: the business day in job.timezone")
            }
            "timezone" | "decimal_separator" => format!(
                "recon sends {name} of {id} itself: format_options.{name}, the one the format reads the report with"
            ),
            "columns" => format!("{name} of {id} is stripe_api.columns"),
            _ => format!(
                "recon does not send {name} of {id}: it filters the report while the ledger side stays whole, so every ledger row it leaves out would show as missing"
            ),
        };
        return Err((key(&format!("parameters.{name}")), why));
    }
    let missing = options.columns_missing(columns);
    if !missing.is_empty() {
        return Err((
            key("columns"),
            format!(
                "the stripe format reads {} by name: keep {} in the columns of {id}",
                options.report_type.as_str(),
                missing.join(", ")
            ),
        ));
    }
    let takes = |p: &str| documented.parameters.contains(&p);
    let timezone = match takes("timezone") {
        true => Some(options.timezone.clone()),
        false if options.reads_utc() => None,
        false => {
            return Err((
                "format_options.timezone".to_string(),
                format!(
                    "{id} has no timezone parameter (its times are UTC), so {:?} cannot be sent: leave timezone out, or run one of {}",
                    options.timezone,
                    versions(family, Some("timezone"))
                ),
            ));
        }
    };
    let decimal_separator = match takes("decimal_separator") {
        true => Some(options.decimal_separator),
        false if options.decimal_separator == '.' => None,
        false => {
            return Err((
                "format_options.decimal_separator".to_string(),
                format!("{id} has no decimal_separator parameter: its amounts use \".\""),
            ));
        }
    };
    Ok(RunPlan {
        report_type: id.to_string(),
        timezone,
        decimal_separator,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> Options {
        toml::from_str(text).expect("options")
    }

    #[test]
    fn the_format_gives_the_report_type_and_its_parameters() {
        let plan = |t: Option<&str>, o: &str| plan(t, &[], &[], &options(o));
        assert_eq!(
            plan(None, "decimal_separator = \",\""),
            Ok(RunPlan {
                report_type: "balance_change_from_activity.itemized.3".to_string(),
                timezone: Some("Etc/UTC".to_string()),
                decimal_separator: Some(','),
            })
        );
        assert_eq!(
            plan(
                None,
                "report_type = \"payout_reconciliation\"\ntimezone = \"Europe/Paris\""
            )
            .map(|p| (p.report_type, p.timezone)),
            Ok((
                "payout_reconciliation.itemized.5".to_string(),
                Some("Europe/Paris".to_string())
            ))
        );
        assert_eq!(
            plan(Some("balance_change_from_activity.itemized.2"), ""),
            Ok(RunPlan {
                report_type: "balance_change_from_activity.itemized.2".to_string(),
                timezone: None,
                decimal_separator: Some('.'),
            })
        );
    }

    #[test]
    fn what_cannot_be_sent_is_refused_naming_the_parameter_and_the_report_type() {
        let err = |t: Option<&str>, parameters: &[&str], columns: &[&str], o: &str| {
            let parameters: Vec<String> = parameters.iter().map(|p| p.to_string()).collect();
            let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            plan(t, &parameters, &columns, &options(o)).unwrap_err()
        };
        assert_eq!(
            err(Some("payout_reconciliation.itemized.5"), &[], &[], ""),
            (
                "stripe_api.report_type".to_string(),
                "payout_reconciliation.itemized.5 is a payout_reconciliation report, but the format reads balance_change_from_activity reports (format_options.report_type = \"balance_change_from_activity\"): set format_options.report_type = \"payout_reconciliation\", or run one of balance_change_from_activity.itemized.1, balance_change_from_activity.itemized.2, balance_change_from_activity.itemized.3".to_string()
            )
        );
        assert_eq!(
            err(
                Some("balance_change_from_activity.itemized.9"),
                &[],
                &[],
                ""
            )
            .1,
            "\"balance_change_from_activity.itemized.9\" is not a report type whose run parameters recon knows; the format reads balance_change_from_activity.itemized.1, balance_change_from_activity.itemized.2, balance_change_from_activity.itemized.3"
        );
        assert_eq!(
            err(None, &["payout"], &[], ""),
            (
                "stripe_api.parameters.payout".to_string(),
                "balance_change_from_activity.itemized.3 documents no run parameter \"payout\" (its parameters: interval_start, interval_end, timezone, currency, reporting_category, decimal_separator, columns)".to_string()
            )
        );
        assert_eq!(
            err(
                Some("balance_change_from_activity.itemized.2"),
                &["timezone"],
                &[],
                ""
            )
            .1,
            "balance_change_from_activity.itemized.2 documents no run parameter \"timezone\" (its parameters: interval_start, interval_end, currency, reporting_category, decimal_separator, columns)"
        );
        assert_eq!(
            err(None, &["currency"], &[], "").1,
            "recon does not send currency of balance_change_from_activity.itemized.3: it filters the report while the ledger side stays whole, so every ledger row it leaves out would show as missing"
        );
        assert_eq!(
            err(None, &["decimal_separator"], &[], "").1,
            "recon sends decimal_separator of balance_change_from_activity.itemized.3 itself: format_options.decimal_separator, the one the format reads the report with"
        );
        assert_eq!(
            err(
                Some("balance_change_from_activity.itemized.2"),
                &[],
                &[],
                "timezone = \"Europe/Paris\""
            ),
            (
                "format_options.timezone".to_string(),
                "balance_change_from_activity.itemized.2 has no timezone parameter (its times are UTC), so \"Europe/Paris\" cannot be sent: leave timezone out, or run one of balance_change_from_activity.itemized.3".to_string()
            )
        );
        assert_eq!(
            err(
                None,
                &[],
                &["balance_transaction_id", "created", "currency", "gross", "net"],
                "report_type = \"payout_reconciliation\""
            ),
            (
                "stripe_api.columns".to_string(),
                "the stripe format reads payout_reconciliation by name: keep fee, reporting_category, automatic_payout_id in the columns of payout_reconciliation.itemized.5".to_string()
            )
        );
    }
}
