//! The `recon` binary: parse the command line, start telemetry, map the outcome to an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use recon::cli::{
    AuditCommand, Cli, Command, ConfigCommand, ControlsCommand, DiscrepanciesCommand, EndingArgs,
    KeysCommand, RunArgs, ServeCommand, TokenCommand,
};
use recon::config::Config;
use recon::error::{Error, Result};
use recon::exit::Exit;
use recon::mask::mask_card_numbers;
use recon::output::render_text;
use recon::secret::process_env;
use recon::shard::Shard;
use recon::store::{SchemaUse, Store};
use recon::{controls, demo, diff, operator, run, serve, telemetry};

fn main() -> ExitCode {
    // Before any thread starts: nothing recon (or a library for it) creates is readable by others.
    recon::private_fs::restrict_umask();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Clean.into()
                }
                _ => Exit::BadInput.into(),
            };
        }
    };
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("recon: cannot start the async runtime: {e}");
            return Exit::Internal.into();
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            // One line, card numbers masked (passwords never enter messages: see secret.rs).
            let message = e.to_string().replace('\n', " ");
            let message = mask_card_numbers(&message);
            if telemetry::json_logs() {
                // stderr is the JSON stream: the error is one of its lines, at ERROR.
                tracing::error!(exit_code = e.exit().code(), "{message}");
            } else {
                eprintln!("recon: {message}");
            }
            e.exit().into()
        }
    }
}

async fn dispatch(command: Command) -> Result<Exit> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::Run(args) => {
            let config = Config::load(&args.config.config, &process_env)?;
            let out = args.out.clone().unwrap_or_else(|| config.out_dir.clone());
            let options = run::RunOptions {
                shard: args.shard,
                resume: args.resume,
                nightly: args.date.is_none() && args.from.is_none(),
                wait_for_ranges: std::time::Duration::from_secs(args.wait_for_ranges),
            };
            if let (Some(from), Some(to)) = (args.from, args.to) {
                return run_range(&mut stdout, &config, &args, from, to, &out, options).await;
            }
            let date = run::business_date(&config, args.date, args.shard)?;
            let report = run::run_checks(&config, date, &out, options, &args.checks).await?;
            finish(&mut stdout, &report, &args.ending, args.shard).await
        }
        Command::Retry(args) => {
            let config = Config::load(&args.config.config, &process_env)?;
            let date = run::business_date(&config, args.date, args.shard)?;
            let out = args.out.unwrap_or_else(|| config.out_dir.clone());
            let report = run::retry(&config, date, &out, args.shard).await?;
            finish(&mut stdout, &report, &args.ending, args.shard).await
        }
        Command::Diff(args) => {
            diff::diff(&args, &process_env, &mut stdout, &mut std::io::stderr()).await
        }
        Command::Demo(args) => {
            let report = demo::demo(&args.out).await?;
            print(
                &mut stdout,
                &render_text(&report.run.summary, &report.run.reports),
            )?;
            match report.verified {
                Ok(count) => {
                    print(
                        &mut stdout,
                        &format!(
                            "\nDemo: all {count} planted discrepancies found, nothing else.\nOpen {} in a browser; `recon run --help` tells what next.\n",
                            args.out.join("report.html").display()
                        ),
                    )?;
                    Ok(Exit::Clean)
                }
                Err(mismatch) => Err(Error::internal(format!(
                    "the demo did not find what it planted: {mismatch}"
                ))),
            }
        }
        Command::Migrate(args) => {
            let config = Config::load(&args.config, &process_env)?;
            let store = Store::open_for(&config.store_url, SchemaUse::Migrate).await?;
            store.close().await;
            print(&mut stdout, "store is up to date\n")?;
            Ok(Exit::Clean)
        }
        Command::Discrepancies {
            command: DiscrepanciesCommand::List(args),
        } => operator::list(&args, &mut stdout).await,
        Command::Discrepancies {
            command: DiscrepanciesCommand::Ack(args),
        } => operator::ack(&args, &mut stdout).await,
        Command::Discrepancies {
            command: DiscrepanciesCommand::History(args),
        } => operator::history(&args, &mut stdout).await,
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => operator::verify(&args, &mut stdout).await,
        Command::Audit {
            command: AuditCommand::Export(args),
        } => operator::export(&args, &mut stdout).await,
        Command::Controls {
            command: ControlsCommand::Check(args),
        } => controls::check(&args, &mut stdout).await,
        Command::Audit {
            command: AuditCommand::Keygen(args),
        } => operator::keygen(&args, &mut stdout),
        Command::Keys {
            command: KeysCommand::Rewrap(args),
        } => operator::rewrap(&args, &mut stdout).await,
        Command::Serve(args) => match &args.command {
            Some(ServeCommand::Token {
                command: TokenCommand::Add(add),
            }) => serve::add_token(add, &mut stdout).await,
            None => {
                drop(stdout);
                serve::serve(&args).await
            }
        },
        Command::Config {
            command: ConfigCommand::Check(args),
        } => {
            let config = Config::load(&args.config, &process_env)?;
            print(&mut stdout, &config.describe())?;
            print(&mut stdout, &config.describe_audit_signing()?)?;
            print(&mut stdout, &format!("# {}\n", config.at_rest_line()))?;
            print(&mut stdout, "# configuration is valid\n")?;
            Ok(Exit::Clean)
        }
    }
}

/// `recon run --from D1 --to D2`: one run per date, in order, each ending as a single run
/// does; the first run that fails (exit 2 to 5) stops the range, naming the dates done, the
/// dates left and the command that resumes. Exits with the failing run's code, else the worst
/// of the runs' (findings as `--findings-exit-code` says).
async fn run_range(
    stdout: &mut dyn Write,
    config: &Config,
    args: &RunArgs,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    out: &std::path::Path,
    options: run::RunOptions,
) -> Result<Exit> {
    let dates = run::dates_from_to(from, to)?;
    let mut done: Vec<chrono::NaiveDate> = Vec::new();
    let mut worst = Exit::Clean;
    for (i, date) in dates.iter().enumerate() {
        let ran = run::run_checks(config, *date, out, options, &args.checks).await;
        let exit = match &ran {
            Ok(report) => finish(stdout, report, &args.ending, None).await?,
            Err(e) => e.exit(),
        };
        let outcome = ran.as_ref().map_or(exit, run::RunReport::exit);
        if matches!(outcome, Exit::Clean | Exit::Discrepancies) {
            done.push(*date);
            worst = worst.worse(exit);
            continue;
        }
        let left = &dates[i..];
        let mut resume = format!(
            "recon run --config {} --from {} --to {to}",
            args.config.config.display(),
            left[0]
        );
        if let Some(out) = &args.out {
            resume.push_str(&format!(" --out {}", out.display()));
        }
        for check in &args.checks {
            resume.push_str(&format!(" --check {check}"));
        }
        print(
            stdout,
            &format!(
                "\nCatch-up stopped at {date} (exit {}: {}).\nDone: {}\nLeft: {}\nResume with: {resume}\n",
                outcome.code(),
                recon::output::describe_exit(outcome),
                dates_text(&done),
                dates_text(left),
            ),
        )?;
        return ran.map(|_| exit);
    }
    print(
        stdout,
        &format!(
            "\nCatch-up complete: {} date(s) run, {} to {to}.\n",
            done.len(),
            from
        ),
    )?;
    Ok(worst)
}

/// `2026-11-01, 2026-11-02`, or `none`.
fn dates_text(dates: &[chrono::NaiveDate]) -> String {
    match dates.is_empty() {
        true => "none".to_string(),
        false => dates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Prints the closing summary and hands the metrics on; a metrics failure is reported but does
/// not change the run's exit code. Findings exit as `--findings-exit-code` says.
async fn finish(
    stdout: &mut dyn Write,
    report: &run::RunReport,
    ending: &EndingArgs,
    shard: Option<Shard>,
) -> Result<Exit> {
    let metrics = &ending.metrics;
    // With JSON logs a pod's log interleaves stdout and stderr: the text summary stays out of
    // it (the `run finished` line and summary.json carry the outcome).
    if !telemetry::json_logs() {
        print(stdout, &render_text(&report.summary, &report.reports))?;
    }
    if let Some(path) = &metrics.metrics_file {
        recon::output::metrics::write_file(path, &report.summary, report.backlog.as_deref())?;
    }
    if let Some(gateway) = &metrics.metrics_push {
        let shard = shard.map(|s| s.to_string());
        if let Err(e) = recon::output::metrics::push(
            gateway,
            shard.as_deref(),
            &report.summary,
            report.backlog.as_deref(),
        )
        .await
        {
            tracing::warn!(error = %e, "metrics were not pushed");
            if !telemetry::json_logs() {
                eprintln!("recon: warning: {e}");
            }
        }
    }
    Ok(ending.findings.process_exit(report.exit()))
}

fn print(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .map_err(|e| Error::internal(format!("writing to stdout: {e}")))
}
