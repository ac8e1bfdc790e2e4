//! Metrics an alert can use, against a real Pushgateway: each push replaces its own group
//! (nothing stale survives a clean run, nobody else's group is touched), and the backlog
//! gauges count what the store holds.

use sqlx::Connection;

use recon::output::metrics::{Pusher, put_group};

use crate::common::*;

async fn sqlite(url: &str, statement: &str) -> Vec<(String, i64)> {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_as(sqlx::AssertSqlSafe(statement.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// The value of each sample, by its labels, of `family` as the gateway serves it, for the
/// labels given (`job` and `pusher` are checked to be recon's).
fn values(gateway: &Pushgateway, family: &str) -> Vec<(String, String)> {
    gateway
        .samples(family)
        .into_iter()
        .map(|s| {
            let (series, value) = s.rsplit_once(' ').unwrap();
            assert!(series.contains("job=\"recon\""), "{series}");
            (series.to_string(), value.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_clean_run_after_findings_leaves_no_stale_series_and_the_backlog_is_the_stores() {
    let Some(gateway) = Pushgateway::start("pushgateway") else {
        return;
    };
    let scenario = Scenario::new("S");
    let [l, r, store] = sqlite_sides(
        scenario.dir(),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)",
        "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2000, 'EUR'), (3, 3000, 'EUR'), (4, 700, 'GBP')",
        "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2500, 'EUR')",
    )
    .await;
    let scenario = scenario
        .store_at(&store)
        .env("L", &l)
        .env("R", &r)
        .config(&ledger_payments_t(TestConfig::new()));
    let push = ["--metrics-push", &gateway.base()];

    // Other pushers' groups, there before the runs (a controls check; shard 1 of 2, which
    // holds no check of this configuration): no run may wipe them.
    put_group(
        &gateway.base(),
        Pusher::Controls,
        "recon_controls_failed 1\n".to_string(),
    )
    .await
    .unwrap();
    let shard = scenario.recon(&run_args(
        "2026-11-20",
        "out-shard-1",
        &["--shard", "1/2", "--metrics-push", &gateway.base()],
    ));
    assert_eq!(shard.status.code(), Some(0), "{}", stderr(&shard));

    let (out, _) = scenario.run("2026-11-20", &push);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ack = scenario.recon(&[
        "discrepancies",
        "ack",
        "--reason",
        "explained",
        "3",
        "--config",
        "recon.toml",
        "--note",
        "GBP row booked elsewhere",
    ]);
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    let (out, _) = scenario.run("2026-11-20", &push);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    assert_eq!(
        values(&gateway, "recon_at_stake_minor_units"),
        [(
            "recon_at_stake_minor_units{currency=\"EUR\",instance=\"\",job=\"recon\",pusher=\"run\"}"
                .to_string(),
            "3500".to_string()
        )]
    );
    assert_eq!(
        values(&gateway, "recon_backlog_at_stake_minor_units"),
        [
            (
                "recon_backlog_at_stake_minor_units{currency=\"EUR\",instance=\"\",job=\"recon\",pusher=\"backlog\",status=\"carried\"}".to_string(),
                "3500".to_string()
            ),
            (
                "recon_backlog_at_stake_minor_units{currency=\"GBP\",instance=\"\",job=\"recon\",pusher=\"backlog\",status=\"acknowledged\"}".to_string(),
                "700".to_string()
            ),
        ]
    );
    // The backlog gauges, summed by status, are the store's own count.
    let mut pushed = std::collections::BTreeMap::<String, i64>::new();
    for (series, value) in values(&gateway, "recon_backlog_findings") {
        let status = series.split("status=\"").nth(1).unwrap();
        let status = status.split('"').next().unwrap().to_string();
        *pushed.entry(status).or_default() += value.parse::<i64>().unwrap();
    }
    let counted = sqlite(
        scenario.store(),
        "SELECT status, COUNT(*) FROM discrepancies
         WHERE status IN ('open', 'carried', 'acknowledged') GROUP BY status ORDER BY status",
    )
    .await;
    assert_eq!(pushed.into_iter().collect::<Vec<_>>(), counted);
    assert_eq!(
        counted,
        [("acknowledged".to_string(), 1), ("carried".to_string(), 2)]
    );
    assert_eq!(
        values(&gateway, "recon_backlog_needing_someone"),
        [(
            "recon_backlog_needing_someone{instance=\"\",job=\"recon\",pusher=\"backlog\"}"
                .to_string(),
            "2".to_string()
        )]
    );

    // Both sides agree now (the acknowledged row too): the clean run's push replaces the
    // groups it owns wholesale.
    let mut right = sqlx::SqliteConnection::connect(scenario.var("R"))
        .await
        .unwrap();
    sqlx::raw_sql(
        "UPDATE t SET amount_minor = 2000 WHERE id = 2;
         INSERT INTO t VALUES (3, 3000, 'EUR'), (4, 700, 'GBP');",
    )
    .execute(&mut right)
    .await
    .unwrap();
    let (out, summary) = scenario.run("2026-11-20", &push);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["outcome"], "clean");
    assert_eq!(values(&gateway, "recon_at_stake_minor_units"), []);
    assert_eq!(values(&gateway, "recon_backlog_at_stake_minor_units"), []);
    assert_eq!(values(&gateway, "recon_backlog_findings"), []);
    assert_eq!(values(&gateway, "recon_discrepancies"), []);
    assert_eq!(
        values(&gateway, "recon_run_exit_code"),
        [
            (
                "recon_run_exit_code{instance=\"\",job=\"recon\",pusher=\"run\",shard=\"1-of-2\"}"
                    .to_string(),
                "0".to_string()
            ),
            (
                "recon_run_exit_code{instance=\"\",job=\"recon\",pusher=\"run\"}".to_string(),
                "0".to_string()
            )
        ]
    );
    assert_eq!(
        values(&gateway, "recon_backlog_needing_someone"),
        [(
            "recon_backlog_needing_someone{instance=\"\",job=\"recon\",pusher=\"backlog\"}"
                .to_string(),
            "0".to_string()
        )]
    );
    assert_eq!(
        values(&gateway, "recon_controls_failed"),
        [(
            "recon_controls_failed{instance=\"\",job=\"recon\",pusher=\"controls\"}".to_string(),
            "1".to_string()
        )]
    );
}
