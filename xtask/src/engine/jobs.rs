//! Running jobs in parallel: each job's output is captured and printed whole when it ends, never
//! interleaved; a summary table (or JSON lines, cargo's convention) closes the run.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cmd::Cmd;
use crate::engine::memo::Memo;
use crate::flags::MessageFormat;
use crate::output::{format_duration, json_string};

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
    /// How a person reruns just this job.
    pub rerun: String,
    pub work: Work,
    pub memo: Option<Memo>,
}

impl Job {
    pub fn command(tool: &'static str, package: Option<&str>, venv: Option<&str>, cmd: Cmd) -> Job {
        Job {
            tool,
            package: package.map(str::to_owned),
            venv: venv.map(str::to_owned),
            rerun: cmd.display(),
            work: Work::Command(cmd),
            memo: None,
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
            rerun,
            work: Work::Check(Box::new(check)),
            memo: None,
        }
    }

    pub fn remembered(mut self, memo: Option<Memo>) -> Job {
        self.memo = memo;
        self
    }

    /// `mypy dubbing-common (media-service venv)`.
    pub fn name(&self) -> String {
        let mut name = self.tool.to_owned();
        if let Some(package) = &self.package {
            name += &format!(" {package}");
        }
        if let Some(venv) = &self.venv {
            name += &format!(" ({venv} venv)");
        }
        name
    }
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
    pub rerun: String,
    pub output: String,
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
    let (ok, cached, output) = match (remembered, job.work) {
        (Some(output), _) => (true, true, output),
        (None, Work::Command(cmd)) => match cmd.output() {
            Ok(done) => (done.success(), false, done.output),
            Err(e) => (false, false, format!("{e:#}")),
        },
        (None, Work::Check(check)) => match check() {
            Ok(report) => (true, false, report),
            Err(problem) => (false, false, problem),
        },
    };
    Outcome {
        name,
        tool: job.tool,
        package: job.package,
        venv: job.venv,
        ok,
        cached,
        duration: started.elapsed(),
        rerun: job.rerun,
        output,
        why,
        memo: job.memo,
    }
}

/// Runs the jobs on `parallel` workers, reporting each as it ends; returns them in the order given.
pub fn run_all(jobs: Vec<Job>, parallel: usize, format: MessageFormat) -> Vec<Outcome> {
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
                    if tx.send((index, execute(job))).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    for (index, outcome) in rx {
        report(&outcome, format);
        outcomes[index] = Some(outcome);
    }
    for worker in workers {
        let _ = worker.join();
    }
    outcomes.into_iter().flatten().collect()
}

fn report(outcome: &Outcome, format: MessageFormat) {
    match format {
        MessageFormat::Json => println!("{}", job_json(outcome)),
        MessageFormat::Human => {
            let result = match (outcome.ok, outcome.cached) {
                (true, true) => {
                    "ok (cached: its inputs are those of its last pass; --no-cache runs it)"
                }
                (true, false) => "ok",
                (false, _) => "FAILED",
            };
            let mut text = format!(
                "--- {} {result} ({})\n",
                outcome.name,
                format_duration(outcome.duration)
            );
            if let Some(why) = &outcome.why {
                text += &format!("ran again: {why}\n");
            }
            text += &format!("$ {}\n", outcome.rerun);
            let body = outcome.output.trim_end();
            if !body.is_empty() {
                text += body;
                text.push('\n');
            }
            // One write: the whole block at once.
            print!("{text}");
        }
    }
}

/// The closing summary, and an error when any job failed, naming each with its rerun command.
pub fn finish(
    command: &str,
    outcomes: &[Outcome],
    started: Instant,
    format: MessageFormat,
) -> Result<()> {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    match format {
        MessageFormat::Json => println!("{}", summary_json(outcomes, &failed, started.elapsed())),
        MessageFormat::Human => {
            let width = outcomes
                .iter()
                .map(|o| o.name.len())
                .max()
                .unwrap_or(3)
                .max(3);
            let mut table = format!("\n{:<width$}  {:<6}  duration\n", "job", "result");
            for o in outcomes {
                let result = match (o.ok, o.cached) {
                    (true, true) => "cached",
                    (true, false) => "ok",
                    (false, _) => "FAILED",
                };
                let _ = writeln!(
                    table,
                    "{:<width$}  {result:<6}  {}",
                    o.name,
                    format_duration(o.duration)
                );
            }
            let passed = outcomes.len() - failed.len();
            let cached = outcomes.iter().filter(|o| o.cached).count();
            let _ = writeln!(
                table,
                "{} jobs ({cached} cached) in {}",
                outcomes.len(),
                format_duration(started.elapsed())
            );
            // The closing line alone, in the plain form CI systems read.
            let _ = write!(table, "{command}: {passed} passed, {} failed", failed.len());
            println!("{table}");
        }
    }
    if failed.is_empty() {
        return Ok(());
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
        "{{\"reason\":\"job-finished\",\"job\":{},\"tool\":{},\"package\":{},\"venv\":{},\"result\":{},\"cached\":{},\"duration_ms\":{},\"command\":{},\"output\":{}}}",
        json_string(&o.name),
        json_string(o.tool),
        opt(o.package.as_ref()),
        opt(o.venv.as_ref()),
        json_string(if o.ok { "ok" } else { "failed" }),
        o.cached,
        o.duration.as_millis(),
        json_string(&o.rerun),
        json_string(&o.output),
    )
}

fn summary_json(outcomes: &[Outcome], failed: &[&Outcome], elapsed: Duration) -> String {
    let names: Vec<String> = failed.iter().map(|o| json_string(&o.name)).collect();
    format!(
        "{{\"reason\":\"summary\",\"result\":{},\"jobs\":{},\"passed\":{},\"failed\":{},\"failed_jobs\":[{}],\"cached\":{},\"duration_ms\":{}}}",
        json_string(if failed.is_empty() { "ok" } else { "failed" }),
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len(),
        names.join(","),
        outcomes.iter().filter(|o| o.cached).count(),
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
        let outcomes = run_all(jobs, 3, MessageFormat::Json);
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
        let err = finish("test", &outcomes, started, MessageFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 of 6 jobs failed") && err.contains("check p1: rerun with rerun 1"),
            "{err}"
        );
    }
}
