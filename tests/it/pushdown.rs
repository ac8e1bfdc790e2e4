//! One encoding, three places: the row hashes and segment digests PostgreSQL and MariaDB compute
//! in SQL are byte for byte the ones recon computes in Rust, and bisection on them finds exactly
//! the rows a full streamed comparison finds.

use crate::common::*;
use recon::canonical::{RowHash, SegmentDigest, Value, row_hash};
use recon::integrity::{
    CompareOptions, Comparison, Difference, Segmenting, Strategy, TablePair, compare_with,
};
use recon::source::filter::Filter;
use recon::source::pushdown::{KeyRange, Snapshot};
use recon::source::{ReadSpec, Source};

const PG_GOLDEN: &str = "CREATE TABLE golden (
    id bigint PRIMARY KEY, amount numeric(20,4), memo text, flag boolean, at timestamptz,
    day date, code char(5), big bigint, raw bytea, naive timestamp)";
const MARIADB_GOLDEN: &str = "CREATE TABLE golden (
    id bigint PRIMARY KEY, amount decimal(20,2), memo varchar(100) CHARACTER SET utf8mb4
    COLLATE utf8mb4_general_ci, flag tinyint(1), at datetime(6), day date, code char(5),
    big bigint, raw varbinary(16), naive timestamp(6) NULL DEFAULT NULL)";

/// The same logical rows in each engine's own syntax: NULL beside '' beside text that looks
/// like the encoding, separators and backslashes, 4-byte UTF-8, equal decimals of different
/// scale, -0, integers past 2^53, instants before 1970, at microsecond edges and written in
/// other zones, CHAR padding, booleans as TINYINT(1), empty and binary bytes.
const PG_ROWS: &str = r#"INSERT INTO golden VALUES
 (1, 10.5,     NULL,      true,  '1969-12-31 23:59:59.999999+00', '1969-07-20', 'ab',    9007199254740993,     '\x00ff',  '2000-01-01 00:00:00'),
 (2, '-0',     '',        false, '1970-01-01 00:00:00+00',        '2026-11-20', 'abcde', -9223372036854775808, '\x',      '2026-01-01 00:00:00.000001'),
 (3, 123.45,   'N',       NULL,  '2026-03-29 02:30:00+02',        NULL,         NULL,    0,                    NULL,      NULL),
 (4, 1000000,  'V3:abc',  true,  '2026-11-20 23:59:59.999999-05', '2026-11-21', '  x',   9223372036854775807,  '\xdeadbeef', '2038-01-19 03:14:07.999999'),
 (5, -0.01,    'a:b\c|d,e' || chr(9) || '"q"' || chr(10), false, '2026-11-21 00:00:00.5+00', '2026-11-21', 'x y', 42, '\x00', '1999-12-31 23:59:59.5'),
 (6, 0.1,      '😀 café 𝄞', true, '2026-11-21 00:00:00.000001+00', '2000-02-29', 'é', -1, '\xff', NULL),
 (7, 99999.99, 'trailing  ', NULL, NULL, NULL, NULL, NULL, NULL, NULL)"#;
const MARIADB_ROWS: &str = r#"INSERT INTO golden VALUES
 (1, 10.50,     NULL,      1,    '1969-12-31 23:59:59.999999', '1969-07-20', 'ab',    9007199254740993,     X'00ff',  '2000-01-01 00:00:00'),
 (2, -0.00,     '',        0,    '1970-01-01 00:00:00',        '2026-11-20', 'abcde', -9223372036854775808, X'',      '2026-01-01 00:00:00.000001'),
 (3, 123.45,    'N',       NULL, '2026-03-29 00:30:00',        NULL,         NULL,    0,                    NULL,     NULL),
 (4, 1000000.00,'V3:abc',  1,    '2026-11-21 04:59:59.999999', '2026-11-21', '  x',   9223372036854775807,  X'deadbeef', '2038-01-19 03:14:07.999999'),
 (5, -0.01,     CONCAT('a:b\\c|d,e', CHAR(9), '"q"', CHAR(10)), 0, '2026-11-21 00:00:00.5', '2026-11-21', 'x y', 42, X'00', '1999-12-31 23:59:59.5'),
 (6, 0.10,      '😀 café 𝄞', 1, '2026-11-21 00:00:00.000001', '2000-02-29', 'é', -1, X'ff', NULL),
 (7, 99999.99,  'trailing  ', NULL, NULL, NULL, NULL, NULL, NULL, NULL)"#;

/// Reads `table` whole, every column hashed, keyed by `id`.
async fn spec_of(source: &Source, table: &str) -> ReadSpec {
    let columns = source.columns(table).await.unwrap();
    ReadSpec {
        table: table.to_string(),
        columns,
        key_len: 1,
        day: None,
        filter: None,
        in_flight: None,
        key_range: None,
        unordered: false,
    }
}

/// Recon's own row hashes for every row of `spec`, streamed and hashed in Rust.
async fn rust_hashes(source: &Source, spec: &ReadSpec) -> Vec<RowHash> {
    let mut rx = source.stream_rows(spec.clone());
    let mut hashes = Vec::new();
    while let Some(batch) = rx.recv().await {
        for row in batch.unwrap().rows() {
            hashes.push(row_hash(row));
        }
    }
    hashes
}

/// The SQL row hashes and segment digest of the whole table beside recon's; returns the digest.
async fn assert_pushdown_matches_rust(url: &str) -> String {
    let source = Source::connect_url("golden", url).await.unwrap();
    let spec = spec_of(&source, "golden").await;
    let hashed = spec.columns.len();
    let rust = rust_hashes(&source, &spec).await;
    assert_eq!(rust.len(), 7);
    let mut snapshot = Snapshot::open(&source).await.unwrap();
    let all = KeyRange::default();
    let pushed = snapshot
        .key_hashes(&source, &spec, hashed, &all)
        .await
        .unwrap();
    for (i, ((key, sql), rust)) in pushed.iter().zip(&rust).enumerate() {
        assert_eq!(
            hex::encode(sql),
            hex::encode(rust),
            "{url}: row {i} (key {key:?}) hashes differently in SQL"
        );
    }
    assert_eq!(pushed.len(), rust.len());
    let (rows, digest) = snapshot.digest(&source, &spec, hashed, &all).await.unwrap();
    let mut reference = SegmentDigest::new();
    rust.iter().for_each(|h| reference.push(h));
    assert_eq!((digest.clone(), rows), reference.finish());
    drop(snapshot);
    source.close().await;
    digest
}

#[tokio::test]
async fn sql_row_hashes_and_digests_equal_recons_on_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("pushdown_golden").await,
        fresh_mysql("pushdown_golden").await,
    ) else {
        return;
    };
    pg_exec(&pg, &[PG_GOLDEN, PG_ROWS]).await;
    mysql_exec(&my, &[MARIADB_GOLDEN, MARIADB_ROWS]).await;
    let on_postgres = assert_pushdown_matches_rust(&pg).await;
    let on_mariadb = assert_pushdown_matches_rust(&my).await;
    assert_eq!(on_postgres, on_mariadb);
}

/// The values issue 24 added to the encoding hash alike in SQL and in Rust: numeric `NaN` and
/// `±Infinity`, years before 1 AD and past 9999, UUIDs as a key (MariaDB's `UUID` ordered by
/// its text, not by its own swapped order) and as values.
#[tokio::test]
async fn sql_hashes_uuids_non_numbers_and_far_years_like_recon() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("pushdown_far").await,
        fresh_mysql("pushdown_far").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE golden (id uuid PRIMARY KEY, amount numeric, day date, at timestamptz, naive timestamp)",
            "INSERT INTO golden VALUES
             ('FFFFFFFF-0000-1000-8000-000000000001', 'NaN', '0044-03-15 BC', '0044-03-15 12:00:00.5+00 BC', '0001-01-01 00:00:00 BC'),
             ('00000000-0000-1000-8000-000000000002', 'Infinity', '0001-01-01 BC', '10000-01-01 00:00:00+00', '12000-06-01 23:59:59.999999'),
             ('10000000-0000-7000-8000-000000000001', '-Infinity', '12000-06-01', '9999-12-31 23:59:59.999999+00', '4713-01-01 00:00:00 BC'),
             ('20000000-0000-4000-8000-0000000000ff', 0, '4713-01-01 BC', NULL, NULL),
             ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', -1.50, '9999-12-31', '0001-01-01 00:00:00+00', '0999-01-01 00:00:00'),
             ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'NaN', '262142-12-31', '1000-01-01 00:00:00+00 BC', NULL),
             ('00000000-0000-0000-0000-000000000000', NULL, NULL, NULL, NULL)",
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE golden (id UUID PRIMARY KEY, other UUID, n int)",
            "INSERT INTO golden VALUES
             ('FFFFFFFF-0000-1000-8000-000000000001', '00000000-0000-0000-0000-000000000000', 1),
             ('00000000-0000-1000-8000-000000000002', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 2),
             ('10000000-0000-7000-8000-000000000001', NULL, 3),
             ('20000000-0000-4000-8000-0000000000ff', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 4),
             ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10000000-0000-1000-8000-000000000000', 5),
             ('00000000-0000-1000-8000-000000000001', '20000000-0000-1000-8000-000000000000', 6),
             ('00000000-0000-0000-0000-000000000000', '30000000-0000-1000-8000-000000000000', 7)",
        ],
    )
    .await;
    assert_pushdown_matches_rust(&pg).await;
    assert_pushdown_matches_rust(&my).await;
}

/// Every row `spec` streams, decoded.
async fn rows_of(source: &Source, spec: ReadSpec) -> Vec<Vec<Value>> {
    let mut rx = source.stream_rows(spec);
    let mut rows = Vec::new();
    while let Some(batch) = rx.recv().await {
        rows.extend(batch.unwrap().rows().map(<[Value]>::to_vec));
    }
    rows
}

/// On PostgreSQL a whole-table read goes through COPY and a filtered one through a query with
/// bound parameters; both decode every type to the same values.
#[tokio::test]
async fn postgres_reads_by_copy_and_by_query_decode_alike() {
    let Some(pg) = fresh_postgres("copy_and_query").await else {
        return;
    };
    pg_exec(
        &pg,
        &[
            PG_GOLDEN,
            PG_ROWS,
            "ALTER TABLE golden ADD COLUMN small smallint, ADD COLUMN mid integer,
                 ADD COLUMN ref uuid, ADD COLUMN label varchar(20)",
            "UPDATE golden SET small = -2 - id, mid = 2147483640 + id,
                 ref = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', label = 'v' || id WHERE id % 2 = 1",
        ],
    )
    .await;
    let source = Source::connect_url("golden", &pg).await.unwrap();
    let whole = spec_of(&source, "golden").await;
    let columns = whole.columns.clone();
    let keep_all = Filter::parse("id > 0")
        .unwrap()
        .resolve(|name| {
            let at = columns.iter().position(|c| c.name == name).unwrap();
            Ok((at, columns[at].clone(), columns[at].clone()))
        })
        .unwrap();
    let filtered = ReadSpec {
        filter: Some(keep_all),
        ..whole.clone()
    };
    let by_copy = rows_of(&source, whole).await;
    let by_query = rows_of(&source, filtered).await;
    assert_eq!(by_copy.len(), 7);
    assert_eq!(by_copy, by_query);
    assert_eq!(
        by_copy[0][10..],
        [
            Value::Int(-3),
            Value::Int(2147483641),
            Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".parse().unwrap()),
            Value::Text("v1".into()),
        ]
    );
    source.close().await;
}

/// Every difference as `kind id [columns]`, for exact comparison.
fn described(c: &Comparison) -> Vec<String> {
    c.differences.iter().map(describe).collect()
}

fn describe(d: &Difference) -> String {
    let key: Vec<String> = d
        .key
        .iter()
        .map(|v| v.canonical_text().unwrap_or_default().into_owned())
        .collect();
    let columns: Vec<&str> = d.changed.iter().map(|c| c.column.as_str()).collect();
    format!(
        "{} {} [{}]",
        d.kind.as_str(),
        key.join("|"),
        columns.join(",")
    )
}

async fn compare(
    left: &Source,
    right: &Source,
    table: &str,
    key: &[String],
    strategy: Strategy,
    segmenting: Segmenting,
) -> Comparison {
    compare_where(left, right, table, key, strategy, segmenting, None).await
}

async fn compare_where(
    left: &Source,
    right: &Source,
    table: &str,
    key: &[String],
    strategy: Strategy,
    segmenting: Segmenting,
    filter: Option<&Filter>,
) -> Comparison {
    let pair = TablePair {
        filter,
        ..TablePair::whole(left, table, right, table, key)
    };
    let options = CompareOptions {
        strategy,
        segmenting,
        ..Default::default()
    };
    compare_with(&pair, options).await.unwrap()
}

/// A one-bit change in any field of the golden rows is found by bisection between PostgreSQL
/// and MariaDB, named to its row and column, and nothing else is.
#[tokio::test]
async fn bisection_finds_a_one_bit_change_in_every_field_across_engines() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("pushdown_one_bit").await,
        fresh_mysql("pushdown_one_bit").await,
    ) else {
        return;
    };
    pg_exec(&pg, &[PG_GOLDEN, PG_ROWS]).await;
    mysql_exec(
        &my,
        &[
            MARIADB_GOLDEN,
            MARIADB_ROWS,
            // Row 1 gets two changes; every other row one.
            "UPDATE golden SET amount = 10.51, naive = '2000-01-01 00:00:00.000001' WHERE id = 1",
            "UPDATE golden SET memo = NULL, raw = X'01' WHERE id = 2",
            "UPDATE golden SET memo = 'O', flag = 0 WHERE id = 3",
            "UPDATE golden SET at = '2026-11-21 05:00:00', day = '2026-11-22' WHERE id = 4",
            "UPDATE golden SET code = 'x z', big = 43 WHERE id = 5",
            "UPDATE golden SET memo = '😀 cafe 𝄞' WHERE id = 6",
            "UPDATE golden SET memo = 'trailing ' WHERE id = 7",
            "INSERT INTO golden (id) VALUES (8)",
        ],
    )
    .await;
    let left = Source::connect_url("pg", &pg).await.unwrap();
    let right = Source::connect_url("mariadb", &my).await.unwrap();
    let key = ["id".to_string()];
    let expected = [
        "changed 1 [amount,naive]",
        "changed 2 [memo,raw]",
        "changed 3 [memo,flag]",
        "changed 4 [at,day]",
        "changed 5 [code,big]",
        "changed 6 [memo]",
        "changed 7 [memo]",
        "missing_in_left 8 []",
    ];
    for strategy in [Strategy::Bisect, Strategy::Stream] {
        let c = compare(
            &left,
            &right,
            "golden",
            &key,
            strategy,
            Segmenting::default(),
        )
        .await;
        assert_eq!(described(&c), expected, "{strategy:?}");
        assert_eq!((c.left.rows, c.right.rows), (7, 8));
    }
}

/// Many rows, small segments: bisection descends several levels and still finds exactly the
/// planted rows — at both ends of the key range, in a cluster, alone — like a full stream does.
#[tokio::test]
async fn bisection_narrows_many_segments_to_exactly_the_planted_rows() {
    let (Some(left_url), Some(right_url)) = (
        fresh_postgres("pushdown_many_left").await,
        fresh_postgres("pushdown_many_right").await,
    ) else {
        return;
    };
    let schema = "CREATE TABLE ledger (id bigint PRIMARY KEY, account text NOT NULL,
        amount_minor bigint NOT NULL, booked timestamptz NOT NULL, memo text)";
    let fill = "INSERT INTO ledger SELECT g, 'acct-' || (g % 97), g * 7 % 10007 - 5000,
        timestamptz '2026-11-20 00:00:00+00' + g * interval '1 second',
        CASE WHEN g % 5 = 0 THEN NULL ELSE 'm' || g END FROM generate_series(1, 20000) g";
    pg_exec(&left_url, &[schema, fill]).await;
    pg_exec(
        &right_url,
        &[
            schema,
            fill,
            "DELETE FROM ledger WHERE id IN (1, 20000, 7777)",
            "UPDATE ledger SET amount_minor = amount_minor + 1 WHERE id BETWEEN 10000 AND 10004",
            "UPDATE ledger SET memo = NULL WHERE id = 12346",
            "UPDATE ledger SET booked = booked + interval '1 microsecond' WHERE id = 2",
            "INSERT INTO ledger VALUES (20001, 'new', 1, now(), NULL), (0, 'zero', 0, now(), '')",
        ],
    )
    .await;
    let left = Source::connect_url("left", &left_url).await.unwrap();
    let right = Source::connect_url("right", &right_url).await.unwrap();
    let key = ["id".to_string()];
    let mut expected = vec![
        "missing_in_left 0 []".to_string(),
        "missing_in_right 1 []".to_string(),
        "changed 2 [booked]".to_string(),
        "missing_in_right 7777 []".to_string(),
    ];
    expected.extend((10000..=10004).map(|id| format!("changed {id} [amount_minor]")));
    expected.extend([
        "changed 12346 [memo]".to_string(),
        "missing_in_right 20000 []".to_string(),
        "missing_in_left 20001 []".to_string(),
    ]);
    let small = Segmenting {
        segment_rows: 1000,
        leaf_rows: 40,
        fanout: 4,
        ..Default::default()
    };
    // A zero target: every segment is "slow", so first-level segments shrink to leaf size.
    let hurried = Segmenting {
        target: std::time::Duration::ZERO,
        ..small
    };
    for segmenting in [small, hurried] {
        let bisected = compare(&left, &right, "ledger", &key, Strategy::Bisect, segmenting).await;
        assert_eq!(described(&bisected), expected, "{segmenting:?}");
        assert_eq!((bisected.left.rows, bisected.right.rows), (20000, 19999));
    }
    let streamed = compare(
        &left,
        &right,
        "ledger",
        &key,
        Strategy::Stream,
        Segmenting::default(),
    )
    .await;
    assert_eq!(described(&streamed), expected);

    // A where filter is part of every pushed-down query: only the rows it keeps are compared.
    let filter = Filter::parse("amount_minor >= 0 AND id <= 12346").unwrap();
    // Rows 1, 2 and 7777 hold negative amounts; 20000 and 20001 are past the id bound.
    let kept: Vec<String> = expected
        .iter()
        .filter(|d| {
            let id: i64 = d.split(' ').nth(1).unwrap().parse().unwrap();
            id == 0 || (10000..=12346).contains(&id)
        })
        .cloned()
        .collect();
    assert_eq!(kept.len(), 7);
    for strategy in [Strategy::Bisect, Strategy::Stream] {
        let c = compare_where(
            &left,
            &right,
            "ledger",
            &key,
            strategy,
            small,
            Some(&filter),
        )
        .await;
        assert_eq!(described(&c), kept, "{strategy:?}");
    }
}

/// Composite keys with text parts bisect in byte order on both servers: case and accents that
/// a case-insensitive collation would fold are distinct keys, and segment bounds bind them.
#[tokio::test]
async fn composite_text_keys_bisect_in_byte_order_between_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("pushdown_composite").await,
        fresh_mysql("pushdown_composite").await,
    ) else {
        return;
    };
    let values: Vec<String> = (0..600)
        .map(|i| {
            let account = ["A", "a", "b", "B", "é", "e", "Z", "zz"][i % 8];
            format!("('{account}{}', {}, {})", i / 8 % 10, i, i * 3)
        })
        .collect();
    let insert = format!("INSERT INTO entries VALUES {}", values.join(", "));
    pg_exec(
        &pg,
        &[
            "CREATE TABLE entries (account text, seq int, amount bigint, PRIMARY KEY (account, seq))",
            &insert,
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE entries (account varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
             seq int, amount bigint, PRIMARY KEY (account, seq))",
            &insert,
            "UPDATE entries SET amount = amount + 1 WHERE account = BINARY 'é3' AND seq = 28",
            "DELETE FROM entries WHERE account = BINARY 'A0' AND seq = 0",
            "INSERT INTO entries VALUES ('a0', 100000, 1)",
        ],
    )
    .await;
    let left = Source::connect_url("pg", &pg).await.unwrap();
    let right = Source::connect_url("mariadb", &my).await.unwrap();
    let key = ["account".to_string(), "seq".to_string()];
    let expected = [
        "missing_in_right A0|0 []",
        "missing_in_left a0|100000 []",
        "changed é3|28 [amount]",
    ];
    let small = Segmenting {
        segment_rows: 50,
        leaf_rows: 8,
        fanout: 3,
        ..Default::default()
    };
    for (strategy, segmenting) in [
        (Strategy::Bisect, small),
        (Strategy::Stream, Segmenting::default()),
    ] {
        let c = compare(&left, &right, "entries", &key, strategy, segmenting).await;
        assert_eq!(described(&c), expected, "{strategy:?}");
    }
}
