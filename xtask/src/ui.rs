//! Where progress lines go: stdout, or stderr when stdout carries machine-readable output
//! (`--message-format json`).

use std::sync::atomic::{AtomicBool, Ordering};

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
