//! The Kubernetes manifests say what the README promises, and their exit codes are the code's.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone, Timelike, Utc};
use recon::exit::Exit;
use yaml_rust2::{Yaml, YamlLoader};

use crate::common::*;

fn load(file: &str) -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn codes(rule: &Yaml) -> Vec<u8> {
    rule["onExitCodes"]["values"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() as u8)
        .collect()
}

/// (action, exit codes) of every rule that looks at exit codes, plus whether DisruptionTarget is
/// ignored. The condition names its status: Kubernetes before 1.34 rejects a Job without it.
fn failure_policy(policy: &Yaml) -> (Vec<(String, Vec<u8>)>, bool) {
    let rules = policy["rules"].as_vec().unwrap();
    let by_code = rules
        .iter()
        .filter(|r| !r["onExitCodes"].is_badvalue())
        .map(|r| {
            assert_eq!(r["onExitCodes"]["containerName"].as_str(), Some("recon"));
            assert_eq!(r["onExitCodes"]["operator"].as_str(), Some("In"));
            (r["action"].as_str().unwrap().to_string(), codes(r))
        })
        .collect();
    let disruption_ignored = rules.iter().any(|r| {
        r["action"].as_str() == Some("Ignore")
            && r["onPodConditions"].as_vec().is_some_and(|c| {
                c.iter().any(|c| {
                    c["type"].as_str() == Some("DisruptionTarget")
                        && c["status"].as_str() == Some("True")
                })
            })
    });
    (by_code, disruption_ignored)
}

fn container(pod_spec: &Yaml) -> &Yaml {
    let containers = pod_spec["containers"].as_vec().unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

/// The codes a rerun would not change. Discrepancies are not among them: the pods run with
/// `--findings-exit-code 0`, so findings are a succeeded Job (the reports and metrics carry them).
fn final_codes() -> Vec<u8> {
    vec![Exit::BadInput.code(), Exit::Locked.code()]
}

fn args(container: &Yaml) -> Vec<&str> {
    container["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// The value after `flag` in `args`.
fn arg<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| *a == flag)?;
    args.get(at + 1).copied()
}

/// How many times a daily `M H * * *` schedule fires on each local calendar day from `from` to
/// `to` (inclusive) in `zone`, found by walking every UTC minute as the CronJob controller
/// walks wall-clock time: a local time skipped by DST fires 0 times, one repeated fires twice.
fn runs_per_day(
    schedule: &str,
    zone: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<NaiveDate, u32> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    assert_eq!(fields[2..], ["*", "*", "*"], "a daily schedule: {schedule}");
    let (minute, hour): (u32, u32) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    let zone: chrono_tz::Tz = zone.parse().unwrap();
    let mut runs: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    let mut day = from;
    while day <= to {
        runs.insert(day, 0);
        day = day.succ_opt().unwrap();
    }
    // From a day before to a day after, in UTC, so every local day is covered whatever the offset.
    let mut at = Utc.from_utc_datetime(&(from - Duration::days(1)).and_hms_opt(0, 0, 0).unwrap());
    let end = Utc.from_utc_datetime(&(to + Duration::days(2)).and_hms_opt(0, 0, 0).unwrap());
    while at < end {
        let local = at.with_timezone(&zone);
        if local.hour() == hour
            && local.minute() == minute
            && let Some(n) = runs.get_mut(&local.date_naive())
        {
            *n += 1;
        }
        at += Duration::minutes(1);
    }
    runs
}

/// Every night gets exactly one run, DST nights included, over ten years; the old
/// `30 2 * * *` in Europe/Amsterdam missed the spring night and ran twice in autumn.
#[test]
fn the_cronjob_runs_exactly_once_every_night_across_dst() {
    let cron = load("cronjob.yaml");
    let schedule = cron["spec"]["schedule"].as_str().unwrap();
    let zone = cron["spec"]["timeZone"].as_str().unwrap();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2035, 12, 31).unwrap(),
    );
    let wrong: Vec<(NaiveDate, u32)> = runs_per_day(schedule, zone, from, to)
        .into_iter()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert_eq!(
        wrong,
        [],
        "{schedule} in {zone}: days without exactly one run"
    );

    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    );
    let old: Vec<(NaiveDate, u32)> = runs_per_day("30 2 * * *", "Europe/Amsterdam", from, to)
        .into_iter()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert_eq!(
        old,
        [
            (NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), 0),
            (NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(), 2)
        ]
    );
}

/// The CronJob's own command, run on a day with discrepancies: the process exits 0 (a
/// succeeded Job), while summary.json and the metrics still say discrepancies, exit code 1.
/// Without the flag (the interactive default) the same run exits 1.
#[tokio::test]
async fn the_cronjobs_command_exits_0_on_findings_and_the_metrics_carry_them() {
    let cron = load("cronjob.yaml");
    let manifest_args = args(container(
        &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ));
    assert_eq!(arg(&manifest_args, "--findings-exit-code"), Some("0"));
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let [l, r, store] = sqlite_sides(
        dir.path(),
        schema,
        "INSERT INTO t VALUES (1, 10), (2, 20)",
        "INSERT INTO t VALUES (1, 10)",
    )
    .await;
    write(
        dir.path(),
        "recon.toml",
        &ledger_payments_t(TestConfig::new()),
    );
    let env = [("L", l.as_str()), ("R", r.as_str()), ("S", store.as_str())];
    // The manifest's arguments, with this test's configuration and folders.
    let mut command: Vec<&str> = Vec::new();
    let mut given = manifest_args.iter();
    while let Some(a) = given.next() {
        match *a {
            "--config" => command.extend(["--config", "recon.toml"]),
            "--out" => command.extend(["--out", "out"]),
            // No Pushgateway here: the metrics go to the file below instead.
            "--metrics-push" => {}
            other => {
                command.push(other);
                continue;
            }
        }
        given.next();
    }
    command.extend(["--date", "2026-11-20", "--metrics-file", "recon.prom"]);
    let out = recon(&command, &env, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["outcome"], "discrepancies");
    assert_eq!(summary["exit_code"], 1);
    let metrics = std::fs::read_to_string(dir.path().join("recon.prom")).unwrap();
    assert!(metrics.contains("\nrecon_run_exit_code 1\n"), "{metrics}");

    let interactive = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out2",
        ],
        &env,
        dir.path(),
    );
    assert_eq!(
        interactive.status.code(),
        Some(1),
        "{}",
        stderr(&interactive)
    );
    let refused = recon(
        &["run", "--config", "recon.toml", "--findings-exit-code", "2"],
        &env,
        dir.path(),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("invalid value '2' for '--findings-exit-code"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn the_cronjob_runs_nightly_safely_and_maps_exit_codes() {
    let cron = load("cronjob.yaml");
    let spec = &cron["spec"];
    assert_eq!(cron["kind"].as_str(), Some("CronJob"));
    assert!(spec["timeZone"].as_str().is_some());
    assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert!(spec["startingDeadlineSeconds"].as_i64().unwrap() > 0);
    assert!(spec["successfulJobsHistoryLimit"].as_i64().is_some());
    assert!(spec["failedJobsHistoryLimit"].as_i64().is_some());
    let job = &spec["jobTemplate"]["spec"];
    assert!(job["activeDeadlineSeconds"].as_i64().unwrap() > 0);
    let (rules, disruption_ignored) = failure_policy(&job["podFailurePolicy"]);
    assert!(disruption_ignored);
    assert_eq!(
        rules,
        vec![
            ("FailJob".to_string(), final_codes()),
            ("Count".to_string(), vec![Exit::Incomplete.code()])
        ]
    );
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    let c = container(pod);
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert!(
        c["envFrom"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|e| !e["secretRef"].is_badvalue())
    );
    assert!(
        c["env"]
            .as_vec()
            .unwrap()
            .iter()
            .any(|e| e["name"].as_str() == Some("RECON_LOG_FORMAT")
                && e["value"].as_str() == Some("json"))
    );
    let args = args(c);
    assert_eq!(&args[..2], ["run", "--resume"]);
    assert_eq!(arg(&args, "--findings-exit-code"), Some("0"));
}

#[test]
fn the_sharded_job_gives_each_index_its_shard() {
    let job = load("sharded-job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_i64().unwrap();
    let (rules, disruption_ignored) = failure_policy(&spec["podFailurePolicy"]);
    assert!(disruption_ignored);
    assert_eq!(
        rules,
        vec![
            ("FailIndex".to_string(), final_codes()),
            ("Count".to_string(), vec![Exit::Incomplete.code()])
        ]
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    let args = args(container(pod));
    assert_eq!(
        arg(&args, "--shard"),
        Some(format!("$(JOB_COMPLETION_INDEX)/{n}").as_str())
    );
    assert_eq!(arg(&args, "--findings-exit-code"), Some("0"));
    // A pod whose range of a split check is in waits for the others' within the Job's deadline,
    // and a retried pod resumes its run instead of comparing its range again.
    assert_eq!(&args[..2], ["run", "--resume"]);
    let wait: i64 = arg(&args, "--wait-for-ranges").unwrap().parse().unwrap();
    let deadline = spec["activeDeadlineSeconds"].as_i64().unwrap();
    assert!(0 < wait && wait < deadline, "{wait} s against {deadline} s");
}

/// Every pod spec in `deploy/` (the Jobs' and the triage page's), by file, with how many of its
/// pods run at once.
fn pod_specs() -> Vec<(&'static str, Yaml, i64)> {
    let cron = load("cronjob.yaml");
    let sharded = load("sharded-job.yaml");
    let parallel = sharded["spec"]["parallelism"].as_i64().unwrap();
    vec![
        (
            "cronjob.yaml",
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone(),
            1,
        ),
        (
            "sharded-job.yaml",
            sharded["spec"]["template"]["spec"].clone(),
            parallel,
        ),
        (
            "controls-cronjob.yaml",
            load("controls-cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                .clone(),
            1,
        ),
        (
            "serve.yaml",
            load("serve.yaml")["spec"]["template"]["spec"].clone(),
            load("serve.yaml")["spec"]["replicas"].as_i64().unwrap(),
        ),
    ]
}

/// The triage page: `recon serve` behind a ClusterIP Service, probed on its health and
/// readiness, with its own store credential (never the job's secret as a whole) and the
/// nights' reports read-only.
#[test]
fn the_triage_page_is_served_inside_the_cluster_with_its_own_credential() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/serve.yaml"),
    )
    .unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let (deployment, service) = (&docs[0], &docs[1]);
    assert_eq!(
        [deployment["kind"].as_str(), service["kind"].as_str()],
        [Some("Deployment"), Some("Service")]
    );
    let pod = &deployment["spec"]["template"];
    let c = container(&pod["spec"]);
    let args = args(c);
    assert_eq!(args[0], "serve");
    assert_eq!(arg(&args, "--out"), Some("/var/lib/recon/out"));
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(8080));
    assert_eq!(
        [
            c["readinessProbe"]["httpGet"]["path"].as_str(),
            c["livenessProbe"]["httpGet"]["path"].as_str()
        ],
        [Some("/readyz"), Some("/healthz")]
    );
    assert!(c["envFrom"].is_badvalue(), "no secret is taken whole");
    let secret_of = |name: &str| {
        c["env"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .map(|e| {
                e["valueFrom"]["secretKeyRef"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
    };
    assert_eq!(secret_of("RECON_STORE_URL").as_deref(), Some("recon-serve"));
    assert_eq!(
        secret_of("RECON_SERVE_SECRET").as_deref(),
        Some("recon-serve")
    );
    let out = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str() == Some("/var/lib/recon/out"))
        .unwrap();
    assert_eq!(out["readOnly"].as_bool(), Some(true));
    assert_eq!(
        volume(&pod["spec"], "out")["persistentVolumeClaim"]["readOnly"].as_bool(),
        Some(true)
    );
    assert_eq!(service["spec"]["type"].as_str(), Some("ClusterIP"));
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"].as_str(),
        Some("http")
    );
    assert_eq!(c["ports"][0]["name"].as_str(), Some("http"));
}

/// The daily controls check runs `recon controls check` and fails its Job, without a retry, on
/// a failing control (1) or bad configuration (2): rerunning would not change either.
#[test]
fn the_controls_cronjob_checks_daily_and_fails_on_a_failing_control() {
    let cron = load("controls-cronjob.yaml");
    assert_eq!(cron["kind"].as_str(), Some("CronJob"));
    assert_eq!(cron["spec"]["schedule"].as_str(), Some("15 8 * * *"));
    let job = &cron["spec"]["jobTemplate"]["spec"];
    let args = args(container(&job["template"]["spec"]));
    assert_eq!(&args[..2], ["controls", "check"]);
    let (by_code, disruption_ignored) = failure_policy(&job["podFailurePolicy"]);
    assert!(disruption_ignored);
    assert_eq!(
        by_code,
        [(
            "FailJob".to_string(),
            vec![Exit::Discrepancies.code(), Exit::BadInput.code()]
        )]
    );
}

/// The value the container's `env` gives `name`, if it does.
fn env_value<'a>(container: &'a Yaml, name: &str) -> Option<&'a str> {
    container["env"]
        .as_vec()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
}

/// The pod's volume named `name`.
fn volume<'a>(pod: &'a Yaml, name: &str) -> &'a Yaml {
    pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no volume {name}"))
}

/// A read-only root leaves recon only what is mounted: the temp folder recon is told about
/// (RECON_TEMP_DIR) is a writable emptyDir; without it the sharded Job failed every clean day.
#[test]
fn every_read_only_root_has_a_writable_temp_folder_that_recon_is_told_about() {
    for (file, pod, _) in pod_specs() {
        let c = container(&pod);
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{file}"
        );
        let temp = env_value(c, "RECON_TEMP_DIR")
            .unwrap_or_else(|| panic!("{file}: recon is not told its temp folder"));
        let mount = c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"].as_str() == Some(temp))
            .unwrap_or_else(|| panic!("{file}: nothing is mounted at {temp}"));
        assert_ne!(mount["readOnly"].as_bool(), Some(true), "{file}");
        let tmp = volume(&pod, mount["name"].as_str().unwrap());
        assert!(
            !tmp["emptyDir"].is_badvalue(),
            "{file}: {temp} is no emptyDir"
        );
        assert!(tmp["emptyDir"]["sizeLimit"].as_str().is_some(), "{file}");
    }
}

/// Every pod gets the data key from the Secret, required (a pod without it does not start, so
/// nothing is kept in clear), and the previous key during a rotation, optional.
#[test]
fn every_pod_gets_its_data_key_from_the_secret() {
    for (file, pod, _) in pod_specs() {
        let c = container(&pod);
        let from_secret = |name: &str| {
            let entry = c["env"]
                .as_vec()
                .unwrap()
                .iter()
                .find(|e| e["name"].as_str() == Some(name))
                .unwrap_or_else(|| panic!("{file}: no {name}"));
            let reference = &entry["valueFrom"]["secretKeyRef"];
            (
                reference["name"].as_str().unwrap_or_default().to_string(),
                reference["key"].as_str().unwrap_or_default().to_string(),
                reference["optional"].as_bool().unwrap_or(false),
            )
        };
        assert_eq!(
            from_secret("RECON_DATA_KEY"),
            (
                "recon-connections".to_string(),
                "RECON_DATA_KEY".to_string(),
                false
            ),
            "{file}"
        );
        assert_eq!(
            from_secret("RECON_DATA_KEY_PREVIOUS"),
            (
                "recon-connections".to_string(),
                "RECON_DATA_KEY_PREVIOUS".to_string(),
                true
            ),
            "{file}"
        );
    }
}

/// Requests and limits on every container: memory and CPU requested, memory limited, and the
/// ephemeral storage the temp emptyDir counts against.
#[test]
fn every_container_requests_and_limits_its_resources() {
    for (file, pod, _) in pod_specs() {
        for c in pod["containers"].as_vec().unwrap() {
            let resources = &c["resources"];
            for (kind, name) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("requests", "ephemeral-storage"),
                ("limits", "memory"),
                ("limits", "ephemeral-storage"),
            ] {
                assert!(
                    resources[kind][name].as_str().is_some(),
                    "{file}: no {kind}.{name}"
                );
            }
        }
    }
}

/// Finished Jobs go away by themselves, the CronJob's too.
#[test]
fn every_job_is_deleted_after_it_finishes() {
    let cron = load("cronjob.yaml");
    let sharded = load("sharded-job.yaml");
    let controls = load("controls-cronjob.yaml");
    for (file, job) in [
        ("cronjob.yaml", &cron["spec"]["jobTemplate"]["spec"]),
        ("sharded-job.yaml", &sharded["spec"]),
        (
            "controls-cronjob.yaml",
            &controls["spec"]["jobTemplate"]["spec"],
        ),
    ] {
        let ttl = job["ttlSecondsAfterFinished"].as_i64();
        assert!(ttl.is_some_and(|t| t > 0), "{file}: {ttl:?}");
    }
}

/// A stopped pod (a drained node, the Job's deadline) gets longer than recon takes to record
/// its run interrupted after SIGTERM (20 s, `INTERRUPT_GRACE` in src/run.rs) before SIGKILL.
#[test]
fn every_pod_gives_recon_time_to_record_an_interrupted_run() {
    for (file, pod, _) in pod_specs() {
        let grace = pod["terminationGracePeriodSeconds"].as_i64();
        assert!(grace.is_some_and(|g| g >= 25), "{file}: {grace:?}");
    }
}

/// Whether `text` holds a YYYY-MM-DD date.
fn has_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    })
}

/// Every Job's pod pushes its metrics to the Pushgateway the ConfigMap recon-metrics names, through
/// the flag (expanded by Kubernetes from the variable), so the alert rules have them.
#[test]
fn every_pod_pushes_its_metrics_to_the_configured_pushgateway() {
    for (file, pod, _) in pod_specs() {
        if file == "serve.yaml" {
            continue; // the triage page runs no check: it has no run's metrics to push
        }
        let c = container(&pod);
        assert_eq!(
            arg(&args(c), "--metrics-push"),
            Some("$(RECON_METRICS_PUSH)"),
            "{file}"
        );
        let env = c["env"].as_vec().unwrap();
        let push = env
            .iter()
            .find(|e| e["name"].as_str() == Some("RECON_METRICS_PUSH"))
            .unwrap_or_else(|| panic!("{file}: no RECON_METRICS_PUSH"));
        let from = &push["valueFrom"]["configMapKeyRef"];
        assert_eq!(from["name"].as_str(), Some("recon-metrics"), "{file}");
        assert_eq!(from["key"].as_str(), Some("pushgateway_url"), "{file}");
    }
}

/// No manifest is tied to one date: the sharded Job's name is generated and its date comes from
/// RECON_DATE (or recon's default, yesterday), never from its name or arguments.
#[test]
fn no_manifest_names_a_date() {
    assert!(has_date("recon-sharded-2026-11-20") && !has_date("recon-sharded-"));
    let sharded = load("sharded-job.yaml");
    assert_eq!(sharded["metadata"]["name"], Yaml::BadValue);
    assert_eq!(
        sharded["metadata"]["generateName"].as_str(),
        Some("recon-sharded-")
    );
    let cron = load("cronjob.yaml");
    for (file, name) in [
        ("cronjob.yaml", cron["metadata"]["name"].as_str()),
        (
            "sharded-job.yaml",
            sharded["metadata"]["generateName"].as_str(),
        ),
    ] {
        assert!(!has_date(name.unwrap()), "{file}: {name:?}");
    }
    for (file, pod, _) in pod_specs() {
        let args = args(container(&pod));
        assert_eq!(arg(&args, "--date"), None, "{file}");
        assert!(!args.iter().any(|a| has_date(a)), "{file}: {args:?}");
        let env = container(&pod)["env"].as_vec().unwrap().clone();
        assert!(
            !env.iter()
                .any(|e| e["value"].as_str().is_some_and(has_date)),
            "{file}"
        );
    }
}

/// A claim mounted by several pods at once is ReadWriteMany (deploy/reports-claim.yaml), and
/// every manifest says so where it mounts it.
#[test]
fn a_claim_shared_by_several_pods_is_read_write_many() {
    let claim = load("reports-claim.yaml");
    assert_eq!(claim["kind"].as_str(), Some("PersistentVolumeClaim"));
    let modes: Vec<&str> = claim["spec"]["accessModes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut shared = false;
    for (file, pod, pods) in pod_specs() {
        let mut mounts_a_claim = false;
        for v in pod["volumes"].as_vec().unwrap() {
            let Some(name) = v["persistentVolumeClaim"]["claimName"].as_str() else {
                continue;
            };
            assert_eq!(
                Some(name),
                claim["metadata"]["name"].as_str(),
                "{file}: a claim deploy/ does not define"
            );
            mounts_a_claim = true;
            shared |= pods > 1;
        }
        if !mounts_a_claim {
            continue; // the controls check reads no reports
        }
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy")
                .join(file),
        )
        .unwrap();
        assert!(text.contains("ReadWriteMany"), "{file}");
    }
    assert!(shared, "the sharded Job's pods share the reports claim");
    assert_eq!(modes, ["ReadWriteMany"]);
}
