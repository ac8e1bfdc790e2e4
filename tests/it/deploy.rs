//! The Kubernetes manifests say what the README promises, and their exit codes are the code's.

use recon::exit::Exit;
use yaml_rust2::{Yaml, YamlLoader};

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

fn final_codes() -> Vec<u8> {
    vec![
        Exit::Discrepancies.code(),
        Exit::BadInput.code(),
        Exit::Locked.code(),
    ]
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
    let args: Vec<&str> = c["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&args[..2], ["run", "--resume"]);
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
    let args: Vec<&str> = container(pod)["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let shard = args.iter().position(|a| *a == "--shard").unwrap();
    assert_eq!(args[shard + 1], format!("$(JOB_COMPLETION_INDEX)/{n}"));
}
