//! Progress of a long comparison: a live bar on a terminal, periodic log lines otherwise
//! (a CronJob's log), from a counter the merge-join bumps for every row it reads.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::oneshot;
use tracing::info;

/// How often a log line is written when stderr is not a terminal (`RECON_PROGRESS_SECS`).
fn log_interval() -> Duration {
    let secs = std::env::var("RECON_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs.max(1))
}

/// Reports one check's progress until dropped or finished.
pub(crate) struct Progress {
    rows: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting for `what` (a check's name).
    pub(crate) fn start(what: &str) -> Progress {
        let rows = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = oneshot::channel();
        let counter = rows.clone();
        let what = what.to_string();
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let rate = |n: u64| n as f64 / started.elapsed().as_secs_f64().max(0.001);
            if tty {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix}: {human_pos} rows compared ({per_sec}) {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(what);
                loop {
                    bar.set_position(counter.load(Ordering::Relaxed));
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(Duration::from_millis(120)) => bar.tick(),
                    }
                }
                bar.finish_and_clear();
            } else {
                let every = log_interval();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(every) => {
                            let n = counter.load(Ordering::Relaxed);
                            info!(check = %what, rows_read = n, rows_per_sec = rate(n).round() as u64, "comparing");
                        }
                    }
                }
            }
        });
        Progress {
            rows,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The counter the comparison bumps.
    pub(crate) fn rows(&self) -> &AtomicU64 {
        &self.rows
    }

    /// Stops reporting and clears the bar.
    pub(crate) async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
