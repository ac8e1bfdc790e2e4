//! Progress of a long comparison: a live line on a terminal, periodic log lines otherwise
//! (a CronJob's log), from the per-side counters the comparison bumps for every row it reads.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressStyle};
use tokio::sync::oneshot;
use tracing::{Instrument, info};

/// How often a log line is written when stderr is not a terminal (`RECON_PROGRESS_SECS`).
fn log_interval() -> Duration {
    let secs = std::env::var("RECON_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs.max(1))
}

/// Rows read so far on each side of a comparison.
#[derive(Debug, Default)]
pub struct RowsRead {
    pub left: AtomicU64,
    pub right: AtomicU64,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Display {
    /// A line redrawn in place on the terminal.
    Live,
    /// A log line every `RECON_PROGRESS_SECS`.
    Log,
}

/// The display for a command whose stderr is (or is not) a terminal; `log_otherwise` is for
/// `recon run`, whose pod log wants a line now and then, where `recon diff` stays quiet.
pub(crate) fn display(stderr_is_terminal: bool, log_otherwise: bool) -> Option<Display> {
    match (stderr_is_terminal, log_otherwise) {
        (true, _) => Some(Display::Live),
        (false, true) => Some(Display::Log),
        (false, false) => None,
    }
}

/// Whole rows per second.
fn per_second(rows: u64, elapsed: Duration) -> u64 {
    (rows as f64 / elapsed.as_secs_f64().max(0.001)).round() as u64
}

/// `left 1,204,331 rows (412,000/s) · right 1,204,330 rows (411,998/s)`: each side on its own.
pub(crate) fn line(left: u64, right: u64, elapsed: Duration) -> String {
    format!(
        "left {} rows ({}/s) · right {} rows ({}/s)",
        HumanCount(left),
        HumanCount(per_second(left, elapsed)),
        HumanCount(right),
        HumanCount(per_second(right, elapsed)),
    )
}

/// Reports one check's progress until dropped or finished.
pub(crate) struct Progress {
    rows: Arc<RowsRead>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting for `what` (a check's name): live on a terminal, else in the log.
    pub(crate) fn start(what: &str) -> Progress {
        Progress::with(what, display(std::io::stderr().is_terminal(), true))
    }

    /// Starts reporting for `what` on a terminal only (`recon diff`).
    pub(crate) fn on_terminal(what: &str) -> Progress {
        Progress::with(what, display(std::io::stderr().is_terminal(), false))
    }

    fn with(what: &str, display: Option<Display>) -> Progress {
        let rows = Arc::new(RowsRead::default());
        let (stop, mut stopped) = oneshot::channel();
        let counter = rows.clone();
        let what = what.to_string();
        let task = display.map(|display| {
            let report = async move {
                let started = Instant::now();
                let counts = || {
                    (
                        counter.left.load(Ordering::Relaxed),
                        counter.right.load(Ordering::Relaxed),
                    )
                };
                match display {
                    Display::Live => {
                        let bar = ProgressBar::new_spinner();
                        bar.set_style(
                            ProgressStyle::with_template("{spinner} {prefix}: {msg} {elapsed}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_prefix(what);
                        loop {
                            let (left, right) = counts();
                            bar.set_message(line(left, right, started.elapsed()));
                            tokio::select! {
                                _ = &mut stopped => break,
                                _ = tokio::time::sleep(Duration::from_millis(120)) => bar.tick(),
                            }
                        }
                        bar.finish_and_clear();
                    }
                    Display::Log => {
                        let every = log_interval();
                        loop {
                            tokio::select! {
                                _ = &mut stopped => break,
                                _ = tokio::time::sleep(every) => {
                                    let (left, right) = counts();
                                    let elapsed = started.elapsed();
                                    info!(
                                        check = %what,
                                        left_rows = left,
                                        right_rows = right,
                                        left_rows_per_sec = per_second(left, elapsed),
                                        right_rows_per_sec = per_second(right, elapsed),
                                        "comparing"
                                    );
                                }
                            }
                        }
                    }
                }
            };
            // In the caller's span: its lines carry the run, the date and the check.
            tokio::spawn(report.in_current_span())
        });
        Progress {
            rows,
            stop: Some(stop),
            task,
        }
    }

    /// The counters the comparison bumps.
    pub(crate) fn rows(&self) -> &RowsRead {
        &self.rows
    }

    /// Stops reporting and clears the line.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_shows_its_own_count_and_whole_rows_per_second() {
        assert_eq!(
            line(1_204_331, 1_204_330, Duration::from_millis(2_923)),
            "left 1,204,331 rows (412,019/s) · right 1,204,330 rows (412,018/s)"
        );
        assert_eq!(
            line(10, 0, Duration::from_secs(3)),
            "left 10 rows (3/s) · right 0 rows (0/s)"
        );
    }

    #[test]
    fn a_terminal_gets_a_live_line_and_a_log_only_runs() {
        assert_eq!(display(true, true), Some(Display::Live));
        assert_eq!(display(true, false), Some(Display::Live));
        assert_eq!(display(false, true), Some(Display::Log));
        assert_eq!(display(false, false), None);
    }
}
