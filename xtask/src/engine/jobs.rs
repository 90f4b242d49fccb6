//! Running jobs in parallel: each job's output is captured, never interleaved. On success a line
//! a job and a summary; the whole output of each failed job comes last, after the passing ones,
//! with its paths from the repository root and the `cargo xtask` command that reruns just it.
//! `-v` prints every job's output as it ends; `--message-format json` prints JSON lines (cargo's
//! convention).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cmd::Cmd;
use crate::engine::caches::ToolCaches;
use crate::engine::memo::Memo;
use crate::engine::summary::{self, TestCounts};
use crate::flags::MessageFormat;
use crate::output::{LiveLine, format_duration, json_string};

/// What a job does: run a tool, or a check done in this process.
pub enum Work {
    Command(Cmd),
    /// `Ok(report)` or `Err(what failed)`.
    Check(Box<dyn FnOnce() -> Result<String, String> + Send>),
}

pub struct Job {
    /// `ruff check`, `mypy`, `pytest`, `readme`, ...
    pub tool: &'static str,
    /// The package it is about (folder name), if any.
    pub package: Option<String>,
    /// The service whose venv it runs in, if any.
    pub venv: Option<String>,
    /// The command it runs, as a person would paste it (or how a check is named).
    pub command: String,
    /// The `cargo xtask` command that reruns just this job.
    pub rerun: String,
    pub work: Work,
    pub memo: Option<Memo>,
    /// The caches of its tool, checked before it runs and recorded after.
    pub caches: Option<ToolCaches>,
    /// A step just before its command runs (never for a remembered pass).
    pub before: Option<Box<dyn FnOnce() + Send>>,
    /// The folder its tool runs in and that folder from the root: its output's paths are
    /// rewritten from the root.
    pub base: Option<(std::path::PathBuf, String)>,
    /// A pytest run with a filter (`-k`, `-m`, a path): collecting no test here is no failure.
    pub empty_ok: bool,
    /// For pytest: `cargo xtask test`, to which the failed tests' node ids are added.
    pub tests_rerun: Option<String>,
}

impl Job {
    pub fn command(
        tool: &'static str,
        package: Option<&str>,
        venv: Option<&str>,
        cmd: Cmd,
        rerun: String,
    ) -> Job {
        Job {
            tool,
            package: package.map(str::to_owned),
            venv: venv.map(str::to_owned),
            command: cmd.display(),
            rerun,
            work: Work::Command(cmd),
            memo: None,
            caches: None,
            before: None,
            base: None,
            empty_ok: false,
            tests_rerun: None,
        }
    }

    pub fn check(
        tool: &'static str,
        package: Option<&str>,
        rerun: String,
        check: impl FnOnce() -> Result<String, String> + Send + 'static,
    ) -> Job {
        Job {
            tool,
            package: package.map(str::to_owned),
            venv: None,
            command: format!("(a check of the xtask: {tool})"),
            rerun,
            work: Work::Check(Box::new(check)),
            memo: None,
            caches: None,
            before: None,
            base: None,
            empty_ok: false,
            tests_rerun: None,
        }
    }

    pub fn remembered(mut self, memo: Option<Memo>) -> Job {
        self.memo = memo;
        self
    }

    pub fn with_caches(mut self, caches: Option<ToolCaches>) -> Job {
        self.caches = caches;
        self
    }

    /// Runs `step` just before its command (not when a remembered pass answers).
    pub fn before(mut self, step: impl FnOnce() + Send + 'static) -> Job {
        self.before = Some(Box::new(step));
        self
    }

    /// Its output's paths are relative to `dir`, which is `rel` from the root.
    pub fn based(mut self, dir: &std::path::Path, rel: &str) -> Job {
        self.base = Some((dir.to_path_buf(), rel.to_owned()));
        self
    }

    /// Collecting no test is no failure (a filtered pytest run).
    pub fn empty_ok(mut self, yes: bool) -> Job {
        self.empty_ok = yes;
        self
    }

    /// A failure reruns as `prefix` and the node ids of the tests that failed.
    pub fn tests_rerun(mut self, prefix: String) -> Job {
        self.tests_rerun = Some(prefix);
        self
    }

    /// `mypy dubbing-common (media-service venv)`.
    pub fn name(&self) -> String {
        job_name(self.tool, self.package.as_deref(), self.venv.as_deref())
    }
}

/// A job's name: `mypy dubbing-common (media-service venv)`.
pub fn job_name(tool: &str, package: Option<&str>, venv: Option<&str>) -> String {
    let mut name = tool.to_owned();
    if let Some(package) = package {
        name += &format!(" {package}");
    }
    if let Some(venv) = venv {
        name += &format!(" ({venv} venv)");
    }
    name
}

/// How a job ended.
pub struct Outcome {
    pub name: String,
    pub tool: &'static str,
    pub package: Option<String>,
    pub venv: Option<String>,
    pub ok: bool,
    /// Not run: its inputs are those of its last pass.
    pub cached: bool,
    pub duration: Duration,
    pub command: String,
    pub rerun: String,
    pub output: String,
    /// pytest collected no test (exit 5).
    pub empty: bool,
    /// Why a job with a memo ran again: which of its inputs changed.
    pub why: Option<String>,
    /// Where a pass of it would be remembered (the caller files it, once it has checked that
    /// the inputs did not change while the job ran).
    pub memo: Option<Memo>,
}

fn execute(job: Job) -> Outcome {
    let started = Instant::now();
    let name = job.name();
    let (remembered, why) = match job.memo.as_ref().map(Memo::read) {
        Some(Ok(output)) => (Some(output), None),
        Some(Err(why)) if !why.is_empty() => (None, Some(why)),
        _ => (None, None),
    };
    let (ok, cached, code, output) = match (remembered, job.work) {
        (Some(output), _) => (true, true, Some(0), output),
        (None, Work::Command(cmd)) => {
            if let Some(step) = job.before {
                step();
            }
            if let Some(caches) = &job.caches {
                caches.prepare();
            }
            let ran = cmd.output();
            if let Some(caches) = &job.caches {
                caches.record();
            }
            match ran {
                Ok(done) => (done.success(), false, done.code, done.output),
                Err(e) => (false, false, None, format!("{e:#}")),
            }
        }
        (None, Work::Check(check)) => match check() {
            Ok(report) => (true, false, Some(0), report),
            Err(problem) => (false, false, None, problem),
        },
    };
    // pytest's exit 5: no test collected.
    let empty = job.tool == "pytest" && code == Some(5);
    let ok = ok || (empty && job.empty_ok);
    let output = match &job.base {
        Some((dir, rel)) => crate::output::rebase_paths(&output, dir, rel),
        None => output,
    };
    let rerun = match (&job.base, &job.tests_rerun, ok) {
        (Some((_, rel)), Some(prefix), false) => {
            failed_tests_rerun(&output, rel, prefix).unwrap_or(job.rerun)
        }
        _ => job.rerun,
    };
    Outcome {
        name,
        tool: job.tool,
        package: job.package,
        venv: job.venv,
        ok,
        cached,
        duration: started.elapsed(),
        command: job.command,
        rerun,
        output,
        empty,
        why,
        memo: job.memo,
    }
}

/// The rerun of a failed pytest job: `prefix` (`cargo xtask test`) with the node ids that
/// failed, from pytest's short summary (already rebased on the root); None when it names none.
fn failed_tests_rerun(output: &str, rel: &str, prefix: &str) -> Option<String> {
    let mut nodes: Vec<&str> = output
        .lines()
        .filter_map(|l| {
            l.strip_prefix("FAILED ")
                .or_else(|| l.strip_prefix("ERROR "))
        })
        .filter_map(|l| l.split_whitespace().next())
        .filter(|node| node.starts_with(rel))
        .collect();
    nodes.dedup();
    if nodes.is_empty() || nodes.len() > 20 {
        return None;
    }
    let quoted: Vec<String> = nodes.iter().map(|n| crate::project::quote(n)).collect();
    Some(format!("{prefix} {}", quoted.join(" ")))
}

/// How finished jobs are reported.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub format: MessageFormat,
    /// Every job's output as it ends (`-v`).
    pub verbose: bool,
}

/// What a worker tells the reporting thread.
enum Event {
    Started(usize, String),
    Done(usize, Box<Outcome>),
}

/// Runs the jobs on `parallel` workers, reporting each as it ends; returns them in the order given.
pub fn run_all(jobs: Vec<Job>, parallel: usize, report: Report) -> Vec<Outcome> {
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(
        jobs.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..parallel.max(1).min(total.max(1)))
        .map(|_| {
            let queue = Arc::clone(&queue);
            let tx = tx.clone();
            std::thread::spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                    let Some((index, job)) = next else { break };
                    let _ = tx.send(Event::Started(index, job.name()));
                    if tx.send(Event::Done(index, Box::new(execute(job)))).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let outcomes = report_all(&rx, total, report);
    for worker in workers {
        let _ = worker.join();
    }
    outcomes
}

/// Reports each job as it ends; on a terminal, a live line names the jobs still running and
/// their time, once one has run 2 seconds (see [`crate::output::live_allowed`]).
fn report_all(rx: &mpsc::Receiver<Event>, total: usize, report: Report) -> Vec<Outcome> {
    let mut live = LiveLine::new();
    let mut running: Vec<(usize, String, Instant)> = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Started(index, name)) => running.push((index, name, Instant::now())),
            Ok(Event::Done(index, outcome)) => {
                running.retain(|(i, _, _)| *i != index);
                live.clear();
                report_one(&outcome, report);
                outcomes[index] = Some(*outcome);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if report.format == MessageFormat::Human {
            live.show(&running_line(&running));
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// `running: mypy common (media-service venv) 9 s, pytest ... 3 s` once a job has run 2 s.
fn running_line(running: &[(usize, String, Instant)]) -> String {
    let slow = Duration::from_secs(2);
    if !running
        .iter()
        .any(|(_, _, started)| started.elapsed() >= slow)
    {
        return String::new();
    }
    let jobs: Vec<String> = running
        .iter()
        .map(|(_, name, started)| format!("{name} {} s", started.elapsed().as_secs()))
        .collect();
    format!("running: {}", jobs.join(", "))
}

/// `ok`, `cached`, `FAILED`, coloured on a terminal.
fn status(o: &Outcome) -> String {
    use crate::output::{Style, paint};
    match (o.ok, o.cached, o.empty) {
        (true, true, _) => paint("cached", Style::Dim),
        (true, false, true) => paint("none  ", Style::Dim),
        (true, false, false) => paint("ok    ", Style::Green),
        (false, _, _) => paint("FAILED", Style::Red),
    }
}

/// The whole block of a job: its name and result, why it ran, its command, its output.
fn block(o: &Outcome) -> String {
    let mut text = format!(
        "--- {} {} ({})\n",
        o.name,
        if o.ok {
            if o.cached { "ok (cached)" } else { "ok" }
        } else {
            "FAILED"
        },
        format_duration(o.duration)
    );
    if let Some(why) = &o.why {
        text += &format!("ran again: {why}\n");
    }
    text += &format!("$ {}\n", o.command);
    let body = o.output.trim_end();
    if !body.is_empty() {
        text += body;
        text.push('\n');
    }
    if !o.ok {
        text += &format!("rerun: {}\n", o.rerun);
    }
    text
}

fn report_one(outcome: &Outcome, report: Report) {
    match report.format {
        MessageFormat::Json => println!("{}", job_json(outcome)),
        MessageFormat::Human if report.verbose => print!("{}", block(outcome)),
        MessageFormat::Human => {
            let mut line = format!("{}  {}", status(outcome), outcome.name);
            if !outcome.cached {
                line += &format!("  {}", format_duration(outcome.duration));
            }
            if outcome.empty && outcome.ok {
                line += "  (no test matched here)";
            }
            println!("{line}");
        }
    }
}

/// The tests the pytest jobs ran, from each one's own summary (a remembered pass's too); None
/// when no test ran. A library's tests run in each venv that installs it, and count once there.
pub fn tests_ran(outcomes: &[Outcome]) -> Option<(TestCounts, bool)> {
    let mut total: Option<TestCounts> = None;
    let mut packages: Vec<&str> = Vec::new();
    let mut per_venv = false;
    for o in outcomes.iter().filter(|o| o.tool == "pytest") {
        if let Some(counts) = TestCounts::from_pytest(&o.output) {
            *total.get_or_insert_with(TestCounts::default) += counts;
            let package = o.package.as_deref().unwrap_or_default();
            per_venv |= packages.contains(&package);
            packages.push(package);
        }
    }
    total.map(|t| (t, per_venv))
}

/// The closing summary, and an error when any job failed, naming each with its rerun command,
/// or when the run as a whole failed (`problem`: a filter that matched no test anywhere). The
/// output of the failed jobs comes here, last, after the passing ones.
pub fn finish(
    command: &str,
    outcomes: &[Outcome],
    started: Instant,
    report: Report,
    problem: Option<String>,
) -> Result<()> {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let tests = tests_ran(outcomes);
    match report.format {
        MessageFormat::Json => println!(
            "{}",
            summary_json(
                outcomes,
                &failed,
                tests.map(|t| t.0),
                problem.is_some(),
                started.elapsed()
            )
        ),
        MessageFormat::Human => {
            if !report.verbose {
                for o in &failed {
                    print!("\n{}", block(o));
                }
            }
            let cached = outcomes.iter().filter(|o| o.cached).count();
            println!(
                "\n{} jobs ({cached} cached) in {}",
                outcomes.len(),
                format_duration(started.elapsed())
            );
            // The closing line alone, in the plain form CI systems read.
            let line = summary::closing_line(
                command,
                outcomes.len(),
                failed.len(),
                tests,
                problem.as_deref(),
            );
            println!("{line}");
        }
    }
    if failed.is_empty() {
        return match problem {
            Some(problem) => bail!("{problem}"),
            None => Ok(()),
        };
    }
    let lines: Vec<String> = failed
        .iter()
        .map(|o| format!("{}: rerun with {}", o.name, o.rerun))
        .collect();
    bail!(
        "{} of {} jobs failed:\n  {}",
        failed.len(),
        outcomes.len(),
        lines.join("\n  ")
    )
}

fn opt(s: Option<&String>) -> String {
    s.map_or_else(|| "null".to_owned(), |s| json_string(s))
}

fn job_json(o: &Outcome) -> String {
    format!(
        "{{\"reason\":\"job-finished\",\"job\":{},\"tool\":{},\"package\":{},\"venv\":{},\"result\":{},\"cached\":{},\"duration_ms\":{},\"command\":{},\"rerun\":{},\"output\":{}}}",
        json_string(&o.name),
        json_string(o.tool),
        opt(o.package.as_ref()),
        opt(o.venv.as_ref()),
        json_string(if o.ok { "ok" } else { "failed" }),
        o.cached,
        o.duration.as_millis(),
        json_string(&o.command),
        json_string(&o.rerun),
        json_string(&o.output),
    )
}

fn summary_json(
    outcomes: &[Outcome],
    failed: &[&Outcome],
    tests: Option<TestCounts>,
    problem: bool,
    elapsed: Duration,
) -> String {
    let names: Vec<String> = failed.iter().map(|o| json_string(&o.name)).collect();
    let tests = tests.unwrap_or_default();
    format!(
        "{{\"reason\":\"summary\",\"result\":{},\"jobs\":{},\"passed\":{},\"failed\":{},\"failed_jobs\":[{}],\"cached\":{},\"tests\":{{\"passed\":{},\"failed\":{},\"skipped\":{}}},\"duration_ms\":{}}}",
        json_string(if failed.is_empty() && !problem {
            "ok"
        } else {
            "failed"
        }),
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len(),
        names.join(","),
        outcomes.iter().filter(|o| o.cached).count(),
        tests.passed,
        tests.failed,
        tests.skipped,
        elapsed.as_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(
            json_string("a\"b\\c\nd\u{1}é"),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }

    #[test]
    fn jobs_run_in_parallel_and_come_back_in_order() {
        let jobs: Vec<Job> = (0..6)
            .map(|i| {
                Job::check(
                    "check",
                    Some(&format!("p{i}")),
                    format!("rerun {i}"),
                    move || {
                        std::thread::sleep(Duration::from_millis(50));
                        if i % 2 == 0 {
                            Ok(format!("fine {i}"))
                        } else {
                            Err(format!("broken {i}"))
                        }
                    },
                )
            })
            .collect();
        let started = Instant::now();
        let report = Report {
            format: MessageFormat::Json,
            verbose: false,
        };
        let outcomes = run_all(jobs, 3, report);
        assert!(
            started.elapsed() < Duration::from_millis(290),
            "ran serially: {:?}",
            started.elapsed()
        );
        let names: Vec<&str> = outcomes.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "check p0", "check p1", "check p2", "check p3", "check p4", "check p5"
            ]
        );
        assert_eq!(outcomes.iter().filter(|o| o.ok).count(), 3);
        let err = finish("test", &outcomes, started, report, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 of 6 jobs failed") && err.contains("check p1: rerun with rerun 1"),
            "{err}"
        );
    }
}
