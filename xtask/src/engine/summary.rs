//! The closing line of a gate: jobs and tests counted apart (`verify: 34 jobs ok; 57 tests
//! passed`), since one job may run many tests and a library's tests run once per venv. A run
//! that fails says so on that line: no success line precedes a failure.

use std::ops::AddAssign;

/// What pytest's own summary line said it ran (`== 2 passed, 1 skipped in 0.05s ==`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    /// Passed, and passed unexpectedly (`xpassed`, which pytest does not fail by default).
    pub passed: u64,
    /// Failed, and errors (in a fixture or at collection).
    pub failed: u64,
    /// Skipped, and failed as expected (`xfailed`).
    pub skipped: u64,
}

impl AddAssign for TestCounts {
    fn add_assign(&mut self, other: TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

impl TestCounts {
    /// The counts of pytest's last summary line in `output`; None when it has none (it did not
    /// get that far) or when it ran no test.
    pub fn from_pytest(output: &str) -> Option<TestCounts> {
        output.lines().rev().find_map(summary_line)
    }

    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.skipped
    }

    /// `1 test passed`, `56 tests passed, 1 failed, 2 skipped`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} {} passed",
            self.passed,
            if self.passed == 1 { "test" } else { "tests" }
        );
        if self.failed > 0 {
            text += &format!(", {} failed", self.failed);
        }
        if self.skipped > 0 {
            text += &format!(", {} skipped", self.skipped);
        }
        text
    }
}

/// `2 passed, 1 failed in 0.12s` (between `=` signs or alone, as `-q` prints it).
fn summary_line(line: &str) -> Option<TestCounts> {
    let line = line.trim().trim_matches('=').trim();
    let (counts, time) = line.rsplit_once(" in ")?;
    let time = time.split_whitespace().next()?;
    time.strip_suffix('s')?.parse::<f64>().ok()?;
    let mut found = TestCounts::default();
    for item in counts.split(", ") {
        let (n, word) = item.split_once(' ')?;
        let n: u64 = n.parse().ok()?;
        match word {
            "passed" | "xpassed" => found.passed += n,
            "failed" | "error" | "errors" => found.failed += n,
            "skipped" | "xfailed" => found.skipped += n,
            "deselected" | "warning" | "warnings" | "rerun" | "reruns" => {}
            _ => return None,
        }
    }
    (found.total() > 0).then_some(found)
}

/// The closing line: `verify: 34 jobs ok; 57 tests passed`, `test: 1 of 2 jobs FAILED; 1 test
/// passed, 1 failed`, or, for a failure of the whole run, `test: FAILED: <problem>`.
pub fn closing_line(
    command: &str,
    jobs: usize,
    failed: usize,
    tests: Option<(TestCounts, bool)>,
    problem: Option<&str>,
) -> String {
    if let Some(problem) = problem {
        return format!("{command}: FAILED: {problem}");
    }
    let plural = |n: usize| if n == 1 { "job" } else { "jobs" };
    let mut line = if failed == 0 {
        format!("{command}: {jobs} {} ok", plural(jobs))
    } else {
        format!("{command}: {failed} of {jobs} {} FAILED", plural(jobs))
    };
    if let Some((tests, per_venv)) = tests {
        line += &format!("; {}", tests.describe());
        if per_venv {
            line += " (counted once per venv)";
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: u64, failed: u64, skipped: u64) -> Option<TestCounts> {
        Some(TestCounts {
            passed,
            failed,
            skipped,
        })
    }

    fn ran(passed: u64, failed: u64, per_venv: bool) -> Option<(TestCounts, bool)> {
        counts(passed, failed, 0).map(|c| (c, per_venv))
    }

    #[test]
    fn pytest_summaries_are_read_in_every_form() {
        let full = "tests/x.py ..\n========== 2 passed, 1 warning in 0.05s ==========\n";
        assert_eq!(TestCounts::from_pytest(full), counts(2, 0, 0));
        let mixed = "== 1 failed, 3 passed, 1 skipped, 1 xfailed, 2 errors in 1.20s ==\n";
        assert_eq!(TestCounts::from_pytest(mixed), counts(3, 3, 2));
        assert_eq!(
            TestCounts::from_pytest("1 passed in 0.01s\n"),
            counts(1, 0, 0)
        );
        // Nothing ran: no counts, and no line that merely looks like one.
        assert_eq!(
            TestCounts::from_pytest("== no tests ran in 0.01s ==\n"),
            None
        );
        assert_eq!(
            TestCounts::from_pytest("== 4 deselected in 0.01s ==\n"),
            None
        );
        assert_eq!(TestCounts::from_pytest("checked 3 files in 2 dirs\n"), None);
    }

    #[test]
    fn the_closing_line_counts_tests_and_jobs_apart_and_never_reads_as_success_on_failure() {
        assert_eq!(
            closing_line("test", 1, 0, ran(1, 0, false), None),
            "test: 1 job ok; 1 test passed"
        );
        assert_eq!(closing_line("lint", 20, 0, None, None), "lint: 20 jobs ok");
        assert_eq!(
            closing_line("verify", 34, 1, ran(56, 1, true), None),
            "verify: 1 of 34 jobs FAILED; 56 tests passed, 1 failed (counted once per venv)"
        );
        assert_eq!(
            closing_line("test", 10, 0, None, Some("no test matched")),
            "test: FAILED: no test matched"
        );
    }
}
