//! What the xtask prints: progress lines (to stdout, or to stderr when stdout carries
//! machine-readable output, `--message-format json`) and durations as a person reads them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends progress lines to stderr from now on.
pub fn progress_to_stderr() {
    TO_STDERR.store(true, Ordering::Relaxed);
}

/// One progress line.
pub fn say(line: impl AsRef<str>) {
    if TO_STDERR.load(Ordering::Relaxed) {
        eprintln!("{}", line.as_ref());
    } else {
        println!("{}", line.as_ref());
    }
}

/// `1.2 s` or `35 ms` since `since`.
pub fn duration(since: Instant) -> String {
    format_duration(since.elapsed())
}

pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
