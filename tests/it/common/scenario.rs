//! A scenario: a folder with a `recon.toml`, a store, the environment the runs get, and the
//! real binary run in it day by day.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{recon, run_args, sqlite_url, stderr, temp_dir, write};

pub struct Scenario {
    /// The temporary folder, when the scenario made (and so removes) its own.
    _temp: Option<tempfile::TempDir>,
    dir: PathBuf,
    store_env: String,
    env: Vec<(String, String)>,
}

impl Scenario {
    /// A fresh temporary folder whose SQLite store `store.db` recon finds in `store_env`.
    pub fn new(store_env: &str) -> Self {
        let temp = temp_dir();
        let mut scenario = Self::in_dir(temp.path(), store_env);
        scenario._temp = Some(temp);
        scenario
    }

    /// The same in `dir`, which the caller keeps.
    pub fn in_dir(dir: &Path, store_env: &str) -> Self {
        Self {
            _temp: None,
            dir: dir.to_path_buf(),
            store_env: store_env.to_string(),
            env: vec![(store_env.to_string(), sqlite_url(dir.join("store.db")))],
        }
    }

    /// The store at `url` instead (a server's, or another file).
    pub fn store_at(mut self, url: &str) -> Self {
        let name = self.store_env.clone();
        self.set_env(&name, url);
        self
    }

    /// Environment variable `name` set to `value` for every run.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.set_env(name, value);
        self
    }

    fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value.to_string()));
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store's URL.
    pub fn store(&self) -> &str {
        self.var(&self.store_env)
    }

    /// The value of environment variable `name` the runs get.
    pub fn var(&self, name: &str) -> &str {
        let found = self.env.iter().find(|(k, _)| k == name);
        found.map(|(_, v)| v.as_str()).expect("a variable set")
    }

    /// Writes `text` as the scenario's `recon.toml`.
    pub fn config(self, text: &str) -> Self {
        write(&self.dir, "recon.toml", text);
        self
    }

    /// The real binary with `args`, in the folder, with the environment.
    pub fn recon(&self, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        recon(args, &env, &self.dir)
    }

    /// The real binary with `args` started (not waited for), its output piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        super::recon_command(args, &env, &self.dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the recon binary starts")
    }

    /// `recon run --config recon.toml --date DATE --out out` and `flags`, and the summary.json
    /// it wrote (a run that wrote none fails the test with its stderr).
    pub fn run(&self, date: &str, flags: &[&str]) -> (Output, serde_json::Value) {
        let out = self.recon(&run_args(date, "out", flags));
        let summary = std::fs::read(self.dir.join("out/summary.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        let summary =
            serde_json::from_slice(&summary).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out, summary)
    }
}
