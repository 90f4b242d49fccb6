//! Every integration test file, as one test binary. `cargo test` runs test binaries one after
//! another, each running its own tests two at a time (one per core): with a binary per file, a
//! file's last slow test ran alone while the others waited their turn. In one binary, the slow
//! tests of every file share the cores from start to end.
//!
//! Each file is included with `#[path]` and reaches the helpers as `crate::common` (its
//! `use crate::common;`): one copy of them for the binary. A new file goes in `long` or `short`
//! below. Run one file's tests with `cargo test --test suite verify::` (libtest matches any part
//! of `long::verify::verify_passes_...`).

// One copy of the helpers, not one a file: a copy a file was most of what this binary compiled
// (20 copies of 1,300 lines beside 9,700 lines of tests), and their statics (the trash's exit
// hook, the counter of unique names) were one a file.
mod common;

/// The files whose tests take longest, first: libtest starts tests in the order of their names
/// (`long::...` before `short::...`), so the quick ones are left to fill both cores while the
/// last slow ones end, rather than a slow one running alone at the end. (`#[path = "."]`: the
/// files stay in tests/, not in tests/long/.)
#[path = "."]
mod long {
    #[path = "ci.rs"]
    mod ci;
    #[path = "daily.rs"]
    mod daily;
    #[path = "deploy.rs"]
    mod deploy;
    #[path = "dist.rs"]
    mod dist;
    #[path = "edits.rs"]
    mod edits;
    #[path = "hooks.rs"]
    mod hooks;
    #[path = "layouts.rs"]
    mod layouts;
    #[path = "lock.rs"]
    mod lock;
    #[path = "new.rs"]
    mod new;
    #[path = "output.rs"]
    mod output;
    #[path = "state.rs"]
    mod state;
    #[path = "trust.rs"]
    mod trust;
    #[path = "verify.rs"]
    mod verify;
}

#[path = "."]
mod short {
    #[path = "changed_since.rs"]
    mod changed_since;
    #[path = "clean.rs"]
    mod clean;
    #[path = "faults.rs"]
    mod faults;
    #[path = "requirements.rs"]
    mod requirements;
    #[path = "scaffold.rs"]
    mod scaffold;
    #[path = "setup.rs"]
    mod setup;
    #[path = "tools.rs"]
    mod tools;
}

/// A line on stderr every 20 s from the first test that makes a tree until the suite ends: a
/// test can run for a minute and more, and libtest prints a line only when one ends, so a person
/// or a CI runner watching the README's test command would see nothing for that long. Written
/// to the process's stderr itself: libtest captures only what the tests print.
pub fn heartbeat() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let started = std::time::Instant::now();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(20));
                let line = format!("suite: still running, {} s\n", started.elapsed().as_secs());
                let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
            }
        });
    });
}

/// One test thread more than there are cores, unless `RUST_TEST_THREADS` (or `--test-threads`)
/// says otherwise. Why: a test also waits, on its tests' sleeps (the live line's, a job held
/// running), on the network (locks, the tools' installs) and on pseudo-terminals, and a thread
/// that waits leaves its core idle; the next test keeps it busy. Runs of the suite one after the
/// other on this 2-core machine: 250.7 s with two threads, then 241.5 s with three; in the other
/// order, 236.9 s with three, then 249.7 s with two; as much CPU each way (some 470 s). How:
/// libtest reads `RUST_TEST_THREADS` in `main`; this runs before `main`, among the program's
/// initialisers (`.init_array`), while the process has one thread, where setting a variable is
/// sound. Elsewhere than Linux, libtest's default (one per core) stands.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static ONE_THREAD_MORE: extern "C" fn() = one_thread_more;

#[cfg(target_os = "linux")]
extern "C" fn one_thread_more() {
    if std::env::var_os("RUST_TEST_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: before `main`, the process has one thread: nothing reads the environment at once.
    unsafe { std::env::set_var("RUST_TEST_THREADS", (cores + 1).to_string()) };
}

/// Cargo does not discover test files one by one (`autotests = false` in xtask/Cargo.toml), so a
/// file of `tests/` that is not included above would never run: this fails naming it.
#[test]
fn every_test_file_is_part_of_the_suite() {
    let suite = include_str!("suite.rs");
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = if path.is_dir() && path.join("main.rs").is_file() {
            format!("{name}/main.rs")
        } else if name.ends_with(".rs") && name != "suite.rs" {
            name
        } else {
            continue;
        };
        if !suite.contains(&format!("#[path = \"{file}\"]")) {
            let module = file.trim_end_matches(".rs").replace("/main", "");
            missing.push(format!("#[path = \"{file}\"]\nmod {module};"));
        }
    }
    assert!(
        missing.is_empty(),
        "test files that never run: add them to xtask/tests/suite.rs:\n{}",
        missing.join("\n")
    );
}
