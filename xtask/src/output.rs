//! What the xtask prints: progress lines (to stdout, or to stderr when stdout carries
//! machine-readable output, `--message-format json`) and durations as a person reads them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static TO_STDERR: AtomicBool = AtomicBool::new(false);
static COLOR: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-v`: every job's whole output, not only the failed ones'.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Whether to colour: `--color always|never`, else (`auto`) `NO_COLOR` turns it off,
/// `CLICOLOR_FORCE` on, and otherwise only a terminal gets colour (no pipe, no CI log).
pub fn set_color(choice: crate::flags::ColorChoice) {
    use std::io::IsTerminal;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let on = match choice {
        crate::flags::ColorChoice::Always => true,
        crate::flags::ColorChoice::Never => false,
        crate::flags::ColorChoice::Auto => {
            !set("NO_COLOR")
                && (set("CLICOLOR_FORCE") || (std::io::stdout().is_terminal() && !set("CI")))
        }
    };
    COLOR.store(on, Ordering::Relaxed);
}

/// Whether colour is on (a child xtask is told the same with `--color`).
pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

/// How a word is shown on a terminal.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Green,
    Red,
    Dim,
}

/// `text` in `style` when colour is on.
pub fn paint(text: &str, style: Style) -> String {
    if !COLOR.load(Ordering::Relaxed) {
        return text.to_owned();
    }
    let code = match style {
        Style::Green => "32",
        Style::Red => "1;31",
        Style::Dim => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A tool's output with every path that exists relative to `dir` written from the root
/// (`rel/...`): mypy and pytest print paths from the package folder they run in, and a person
/// clicks or pastes them from the repository root.
pub fn rebase_paths(output: &str, dir: &std::path::Path, rel: &str) -> String {
    let rebase = |token: &str| -> Option<String> {
        // `path`, `path:12:`, `path::test_x`, `path:12: error`.
        let end = token.find(':').unwrap_or(token.len());
        let path = &token[..end];
        let looks_like_path = (path.ends_with(".py") || path.contains('/'))
            && !path.starts_with('/')
            && !path.contains("://");
        (looks_like_path && dir.join(path).exists()).then(|| format!("{rel}/{token}"))
    };
    let mut out = String::with_capacity(output.len());
    for line in output.split_inclusive('\n') {
        let mut rebuilt = String::with_capacity(line.len());
        let mut rest = line;
        while !rest.is_empty() {
            let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (word, tail) = rest.split_at(word_end);
            match rebase(word) {
                Some(new) => rebuilt += &new,
                None => rebuilt += word,
            }
            let space_end = tail
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(tail.len());
            rebuilt += &tail[..space_end];
            rest = &tail[space_end..];
        }
        out += &rebuilt;
    }
    out
}

/// Sends progress lines to stderr from now on.
pub fn progress_to_stderr() {
    TO_STDERR.store(true, Ordering::Relaxed);
}

/// Writes to stdout (what `print!` does here): a reader that went away ends the process quietly.
pub fn out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// One progress line.
pub fn say(line: impl AsRef<str>) {
    if TO_STDERR.load(Ordering::Relaxed) {
        eprintln!("{}", line.as_ref());
    } else {
        println!("{}", line.as_ref());
    }
}

/// Whether a line redrawn in place may be shown: the output is a person's terminal (stdout and
/// stderr both), not a CI log (`CI`), and not machine-readable (`--message-format json`).
pub fn live_allowed() -> bool {
    use std::io::IsTerminal;
    !TO_STDERR.load(Ordering::Relaxed)
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// A line on stderr redrawn in place (see [`live_allowed`]), cleared before anything else is
/// printed; nothing at all where it is not allowed.
pub struct LiveLine {
    on: bool,
    shown: String,
}

impl LiveLine {
    pub fn new() -> LiveLine {
        LiveLine {
            on: live_allowed(),
            shown: String::new(),
        }
    }

    /// Shows `text` (cut to the terminal's width), or clears the line when it is empty.
    pub fn show(&mut self, text: &str) {
        use std::io::Write as _;
        if !self.on || text == self.shown {
            return;
        }
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(80);
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        eprint!("\r\x1b[K{cut}");
        let _ = std::io::stderr().flush();
        self.shown = text.to_owned();
    }

    pub fn clear(&mut self) {
        self.show("");
    }
}

impl Drop for LiveLine {
    fn drop(&mut self) {
        self.clear();
    }
}

/// While a long step runs (an install of heavy dependencies), a line on a terminal that says it
/// is alive: the seconds so far, redrawn in place, gone when the step ends. Nothing in pipes.
pub struct Alive {
    stop: Option<std::sync::Arc<AtomicBool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Alive {
    pub fn start() -> Alive {
        if !live_allowed() {
            return Alive {
                stop: None,
                thread: None,
            };
        }
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut shown = false;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let secs = started.elapsed().as_secs();
                if secs >= 2 {
                    eprint!("\r  ... still running ({secs} s)");
                    shown = true;
                }
            }
            if shown {
                eprint!("\r\x1b[K");
            }
        });
        Alive {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_a_package_folder_are_rewritten_from_the_root() {
        let dir = std::env::temp_dir().join(format!("xtask-rebase-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tests/unit")).unwrap();
        std::fs::write(dir.join("tests/unit/test_x.py"), "").unwrap();
        let output = "tests/unit/test_x.py:3: error: bad\nFAILED tests/unit/test_x.py::test_y - assert\nsrc/gone.py:1: x\n";
        assert_eq!(
            rebase_paths(output, &dir, "python/libs/common"),
            "python/libs/common/tests/unit/test_x.py:3: error: bad\nFAILED python/libs/common/tests/unit/test_x.py::test_y - assert\nsrc/gone.py:1: x\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
