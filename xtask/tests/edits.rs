//! What a person meets when changing dependencies: `add` resolves what it adds against the index
//! and names what it locked; several specifiers for one name are kept together; a failure leads
//! with the resolver's explanation; a pyproject edited by hand is relocked by `setup`, never by
//! `verify`; installer variables that change nothing installed rebuild nothing and rerun no job;
//! locks hold no path of the machine that made them; a bad requirement or a broken
//! `python/pyproject.toml` is one error naming the file and line.

use crate::common;

use std::fs;
use std::path::Path;

use common::index::add_dependency;
use common::{Run, TempDir, committed_set_up_tree, python_in, run, scaffolded, xtask};

const MEDIA: &str = "python/apps/media-service/pyproject.toml";
const MEDIA_LOCK: &str = "python/apps/media-service/requirements.txt";

/// The pinned version of `name` in a lock.
fn pin(root: &Path, lock: &str, name: &str) -> Option<String> {
    let text = fs::read_to_string(root.join(lock)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}==")))
        .map(|rest| rest.split([' ', ';']).next().unwrap().to_owned())
}

/// Every pin of the lock but `name`'s.
fn other_pins(root: &Path, name: &str) -> Vec<String> {
    let text = fs::read_to_string(root.join(MEDIA_LOCK)).unwrap();
    text.lines()
        .filter(|l| l.contains("==") && !l.starts_with(&format!("{name}==")))
        .map(str::to_owned)
        .collect()
}

/// An xtask run with a uv cache of the test's own: what the cache holds is the test's doing.
fn with_cache(root: &Path, cache: &TempDir, args: &[&str]) -> Run {
    run(xtask(root).args(args).env("UV_CACHE_DIR", cache.path()))
}

/// The cache holds six 1.16.0 only (locked first with `==`); `add six` afterwards must still
/// ask the index and lock the newest six, which the cache does not hold (it once locked the
/// cache's 1.16.0), say which, and move no other pin.
fn add_asks_the_index_for_what_it_adds(root: &Path, cache: &TempDir) -> String {
    let out = with_cache(root, cache, &["add", "media-service", "six==1.16.0"]);
    out.assert_ok();
    assert!(
        out.stdout.contains("media-service: added six 1.16.0"),
        "{}",
        out.stdout
    );
    let out = with_cache(root, cache, &["-v", "remove", "media-service", "six"]);
    out.assert_ok();
    // Resolved from the cache (nothing to upgrade); the command shown pastes: `--offline`
    // inside the parentheses that hold the folder it runs from.
    let compile = out
        .stdout
        .lines()
        .find(|l| l.starts_with("$ (cd ") && l.contains(" pip compile "))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(compile.ends_with(" --offline)"), "{compile}");
    assert!(
        out.stdout.contains("media-service: removed six 1.16.0"),
        "{}",
        out.stdout
    );
    let others = other_pins(root, "six");
    let out = with_cache(root, cache, &["add", "media-service", "six"]);
    out.assert_ok();
    let newest = pin(root, MEDIA_LOCK, "six").expect("six is locked");
    assert_ne!(newest, "1.16.0", "the cache's six, not the index's newest");
    assert!(
        out.stdout
            .contains(&format!("media-service: added six {newest}\n")),
        "{}",
        out.stdout
    );
    assert_eq!(
        other_pins(root, "six"),
        others,
        "a pin that did not change moved"
    );
    newest
}

/// Two specifiers for one name are one requirement, and the one they replace is named; a
/// conflict leads with uv's explanation and puts everything back; offline, the cache answers
/// (it holds the newest six by now) and `add` says so.
fn specifiers_conflicts_and_offline(root: &Path, cache: &TempDir, newest: &str) {
    let out = with_cache(
        root,
        cache,
        &["add", "media-service", "six<1.17", "six>=1.15"],
    );
    out.assert_ok();
    let text = fs::read_to_string(root.join(MEDIA)).unwrap();
    assert!(
        text.contains("    \"six<1.17,>=1.15\",\n") && !text.contains("\"six\""),
        "{text}"
    );
    assert!(
        out.stdout.contains("`six<1.17,>=1.15` replaces `six`")
            && out.stdout.contains("media-service: six ")
            && out.stdout.contains(" -> 1.16.0"),
        "{}",
        out.stdout
    );
    let lock_before = fs::read(root.join(MEDIA_LOCK)).unwrap();
    let out = with_cache(root, cache, &["add", "media-service", "six>=99"]);
    out.assert_clean_error();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: No solution found")
            && out.stderr.contains("you require six>=99")
            && lines
                .last()
                .unwrap()
                .contains("pyproject.toml is put back as it was")
            && !out.stderr.contains("run cargo xtask"),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read_to_string(root.join(MEDIA)).unwrap(), text);
    assert_eq!(fs::read(root.join(MEDIA_LOCK)).unwrap(), lock_before);
    let out = run(xtask(root)
        .args(["add", "media-service", "six>=1.16"])
        .env("UV_CACHE_DIR", cache.path())
        .env("UV_OFFLINE", "1"));
    out.assert_ok();
    assert!(
        out.stdout.contains(
            "(from uv's cache, which may not hold the newest versions: UV_OFFLINE is set)"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(pin(root, MEDIA_LOCK, "six").as_deref(), Some(newest));
}

/// A pyproject edited by hand: verify and `setup --locked` refuse the stale lock and leave it;
/// setup relocks it, says so and what moved, and installs it.
fn setup_relocks_a_hand_edit(root: &Path, cache: &TempDir, newest: &str) {
    let text = fs::read_to_string(root.join(MEDIA)).unwrap();
    assert!(text.contains("\"six>=1.16\""), "{text}");
    let edited = text.replace("\"six>=1.16\"", "\"six==1.16.0\"");
    fs::write(root.join(MEDIA), edited).unwrap();
    let lock_before = fs::read(root.join(MEDIA_LOCK)).unwrap();
    let verify = with_cache(root, cache, &["verify", "-p", "media-service"]);
    verify.assert_clean_error();
    assert!(
        verify
            .stderr
            .contains("its lock is not what its inputs make")
            && !verify.stdout.contains("relocked"),
        "{}{}",
        verify.stdout,
        verify.stderr
    );
    let locked = with_cache(root, cache, &["setup-stream", "--locked"]);
    locked.assert_clean_error();
    assert!(
        locked.stderr.contains("error: --locked: media-service"),
        "{}",
        locked.stderr
    );
    assert_eq!(fs::read(root.join(MEDIA_LOCK)).unwrap(), lock_before);
    let setup = with_cache(root, cache, &["setup-stream"]);
    setup.assert_ok();
    assert!(
        setup.stdout.contains(
            "media-service: changed since the lock: the dependencies of media-service: relocked"
        ) && setup.stdout.contains(&format!("six {newest} -> 1.16.0")),
        "{}",
        setup.stdout
    );
    let six = python_in(root, "media-service", "import six; print(six.__version__)");
    assert_eq!(six, (true, "1.16.0\n".to_owned()));
    with_cache(root, cache, &["lock", "--check", "media-service"]).assert_ok();
}

#[test]
fn add_resolves_what_it_adds_names_it_and_setup_relocks_a_hand_edit() {
    let tmp = scaffolded("edits add");
    let cache = TempDir::new("edits uv cache");
    let root = tmp.path();
    let newest = add_asks_the_index_for_what_it_adds(root, &cache);
    specifiers_conflicts_and_offline(root, &cache, &newest);
    setup_relocks_a_hand_edit(root, &cache, &newest);
}

/// Lines of a gate's jobs: `ok  ...`, `cached  ...`.
fn job_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            ["ok ", "cached ", "FAILED "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect()
}

/// The jobs that run a tool (ruff, mypy, pytest): the ones a remembered pass can answer (the
/// tree's own checks always run; they take milliseconds).
fn tool_jobs(stdout: &str) -> Vec<&str> {
    job_lines(stdout)
        .into_iter()
        .filter(|l| {
            [" ruff ", " mypy ", " pytest "]
                .iter()
                .any(|t| l.contains(t))
        })
        .collect()
}

/// `UV_OFFLINE` and its kind (how uv works, not what it installs) make no venv stale and rerun
/// no job; `UV_INDEX_URL` (where packages come from) still reinstalls. A lock made with `--root`
/// names no root.
#[test]
fn installer_variables_that_install_nothing_else_keep_venvs_and_passes() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let first = run(xtask(root).arg("verify"));
    first.assert_ok();
    let header = fs::read_to_string(root.join(MEDIA_LOCK)).unwrap();
    assert!(
        header.contains("Regenerate with `cargo xtask lock media-service`")
            && !header.contains("--root")
            && !header.contains(&*root.to_string_lossy()),
        "{header}"
    );
    let other_cache = TempDir::new("edits other cache");
    let quiet = |args: &[&str]| {
        run(xtask(root)
            .args(args)
            .env("UV_OFFLINE", "1")
            .env("UV_NO_PROGRESS", "1")
            .env("UV_CONCURRENT_DOWNLOADS", "2")
            .env("UV_CACHE_DIR", other_cache.path())
            .env("PIP_NO_INPUT", "1"))
    };
    let setup = quiet(&["setup"]);
    setup.assert_ok();
    assert!(
        setup.stdout.contains("media-service: up to date")
            && setup.stdout.contains("sts-service: up to date"),
        "{}",
        setup.stdout
    );
    let again = quiet(&["verify"]);
    again.assert_ok();
    let jobs = tool_jobs(&again.stdout);
    assert!(
        jobs.len() == tool_jobs(&first.stdout).len()
            && jobs.len() >= 20
            && jobs.iter().all(|l| l.starts_with("cached ")),
        "{}",
        again.stdout
    );
    // Mutation: where packages come from is an input.
    let moved = run(xtask(root)
        .arg("setup")
        .env("UV_INDEX_URL", "https://pypi.org/simple"));
    moved.assert_ok();
    assert!(
        moved.stdout.contains(
            "media-service: reinstalling: the installer's variables (UV_*, PIP_*) changed"
        ),
        "{}",
        moved.stdout
    );
}

/// A requirement no resolver can read is named by its pyproject and line (not by a file of the
/// resolver's); a `python/pyproject.toml` that is not TOML is one error, before any job.
#[test]
fn a_bad_requirement_or_a_broken_workspace_toml_is_one_error_with_file_and_line() {
    let tmp = scaffolded("edits bad requirement");
    let root = tmp.path();
    add_dependency(root, MEDIA, "six>>1");
    let text = fs::read_to_string(root.join(MEDIA)).unwrap();
    let line = text.lines().position(|l| l.contains("six>>1")).unwrap() + 1;
    for args in [&["lock"][..], &["verify"], &["setup-stream"]] {
        let out = run(xtask(root).args(args));
        out.assert_clean_error();
        assert!(
            out.stderr.starts_with(&format!(
                "error: {MEDIA}:{line}: `six>>1` is not a PEP 508 requirement"
            )) && !out.stderr.contains(".xtask-lock")
                && job_lines(&out.stdout).is_empty(),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }
    fs::write(root.join(MEDIA), text.replace("    \"six>>1\",\n", "")).unwrap();
    // The workspace's dev tools too.
    let workspace = root.join("python/pyproject.toml");
    let original = fs::read_to_string(&workspace).unwrap();
    let bad = original.replacen("\"ruff>=0.1.0\"", "\"ruff>=0.1.0,\"", 1);
    let line = bad
        .lines()
        .position(|l| l.contains("ruff>=0.1.0,"))
        .unwrap()
        + 1;
    fs::write(&workspace, &bad).unwrap();
    let out = run(xtask(root).arg("lock"));
    out.assert_clean_error();
    assert!(
        out.stderr.starts_with(&format!(
            "error: python/pyproject.toml:{line}: `ruff>=0.1.0,` is not a PEP 508 requirement"
        )),
        "{}",
        out.stderr
    );
    let mut broken = original;
    let line = broken.lines().count() + 1;
    broken.push_str("[tool.ruff\n");
    fs::write(&workspace, broken).unwrap();
    let out = run(xtask(root).arg("verify"));
    out.assert_clean_error();
    assert!(
        out.stderr.starts_with(&format!(
            "error: python/pyproject.toml:{line}: not valid TOML"
        )) && out.stderr.lines().count() <= 3
            && job_lines(&out.stdout).is_empty(),
        "{}{}",
        out.stdout,
        out.stderr
    );
}
