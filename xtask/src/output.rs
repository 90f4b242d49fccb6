//! What the xtask prints: progress lines (to stdout, or to stderr when stdout carries
//! machine-readable output, `--message-format json`) and durations as a person reads them.

use std::fmt::Write as _;
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

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\r' => out += "\\r",
            '\t' => out += "\\t",
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
