//! Trust at the edges: each test changes one input that a tool reads in a way the old keys or the
//! tools' own caches missed, and shows that the remembered verdict equals a truly fresh run's
//! (no memo, every tool cache removed).

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, TempDir, agrees_with_fresh, committed_set_up_tree, run, write, xtask};

/// The line of `job` (`pytest common (media-service venv)`) in a gate's output.
fn job_line<'a>(out: &'a Run, job: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.contains(job) && !l.starts_with("---"))
        .unwrap_or_else(|| panic!("no line for {job}:\n{}", out.stdout))
}

/// Adds `line` (`pythonpath = ["x"]`) to the pytest table of `python/pyproject.toml`.
fn set_pytest_option(root: &Path, line: &str) {
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    let table = "[tool.pytest.ini_options]\n";
    assert!(
        text.contains(table),
        "the seed's pyproject has pytest's table"
    );
    fs::write(
        &config,
        text.replacen(table, &format!("{table}{line}\n"), 1),
    )
    .unwrap();
}

/// Writes `content` over `rel` keeping its size and modification time (as `cp -p` or a CI cache
/// restore does).
fn write_keeping_size_and_time(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    let before = fs::metadata(&path).unwrap();
    assert_eq!(
        before.len(),
        content.len() as u64,
        "the edit must keep the size"
    );
    fs::write(&path, content).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().modified().unwrap(),
        before.modified().unwrap()
    );
}

const LIMITS: &str = "python/libs/common/src/dubbing_common/limits.py";

/// An edit that keeps a file's size and time is seen: by the remembered pass (its key hashes
/// content), by Python's bytecode and pytest's rewritten tests, and by mypy's cache (all of which
/// trust size and time).
#[test]
fn an_edit_that_keeps_size_and_time_is_seen_by_every_cache() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    write(root, LIMITS, "\"\"\"Limits.\"\"\"\n\nLIMIT: int = 128\n");
    write(
        root,
        "python/libs/common/tests/unit/test_limits.py",
        "from dubbing_common.limits import LIMIT\n\n\ndef test_limit() -> None:\n    assert LIMIT == 128\n",
    );
    for gate in [
        ["test", "-p", "common", "--venv", "media-service"],
        ["lint", "-p", "common", "--venv", "media-service"],
    ] {
        run(xtask(root).args(gate)).assert_ok();
    }
    // The value changes, the size and time do not: the test must fail.
    write_keeping_size_and_time(root, LIMITS, "\"\"\"Limits.\"\"\"\n\nLIMIT: int = 118\n");
    let out = agrees_with_fresh(
        root,
        &["test", "-p", "common", "--venv", "media-service"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("assert 118 == 128"), "{}", out.stdout);
    // A type error of the same size: mypy's cache must not answer for it.
    write_keeping_size_and_time(root, LIMITS, "\"\"\"Limits.\"\"\"\n\nLIMIT: str = 118\n");
    let out = agrees_with_fresh(
        root,
        &["lint", "-p", "common", "--venv", "media-service"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("Incompatible types"), "{}", out.stdout);
    // verify's environment check imports each package from source, which runs its code: an
    // `__init__.py` that now fails on import, the same size and time, must fail it.
    write(root, LIMITS, "\"\"\"Limits.\"\"\"\n\nLIMIT: int = 128\n");
    let verify = [
        "verify",
        "-p",
        "common",
        "--venv",
        "media-service",
        "--message-format",
        "json",
    ];
    run(xtask(root).args(verify)).assert_ok();
    let init = "python/libs/common/src/dubbing_common/__init__.py";
    let text = fs::read_to_string(root.join(init)).unwrap();
    let head = text.lines().next().unwrap();
    let fill = text.len() - head.len() - "\nraise ImportError(\"\")\n".len();
    let broken = format!("{head}\nraise ImportError(\"{}\")\n", "x".repeat(fill));
    write_keeping_size_and_time(root, init, &broken);
    let remembered = job_verdicts(&run(xtask(root).args(verify)));
    common::remove_tool_caches(root);
    let fresh = job_verdicts(&run(xtask(root).args(verify).arg("--no-cache")));
    assert_eq!(remembered, fresh);
    let environment = "environment (SC-001..3, SC-008) media-service (media-service venv)";
    assert_eq!(
        remembered.get(environment).map(String::as_str),
        Some("failed"),
        "{remembered:?}"
    );
}

/// Each finished job's result (`ok`, `failed`), from `--message-format json`.
fn job_verdicts(out: &Run) -> std::collections::BTreeMap<String, String> {
    let field = |line: &str, name: &str| {
        let start = line.find(&format!("\"{name}\":\""))? + name.len() + 4;
        Some(line[start..].split('"').next()?.to_owned())
    };
    out.stdout
        .lines()
        .filter(|line| line.contains("\"reason\":\"job-finished\""))
        .filter_map(|line| Some((field(line, "job")?, field(line, "result")?)))
        .collect()
}

/// The digest the xtask used before: FNV-1a over 8-byte words, in which a byte at an offset of
/// the form 8k+7 moves only the top eight bits.
fn old_digest(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h ^= u64::from_le_bytes(chunk.try_into().unwrap());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    for b in chunks.remainder() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Two edits of one file that the old digest could not tell from the original: found here by
/// trying letters at two offsets of the form 8k+7 until the old digest collides.
fn colliding_edit(original: &str) -> String {
    let bytes = original.as_bytes();
    let spots: Vec<usize> = (0..bytes.len())
        .filter(|i| i % 8 == 7 && bytes[*i].is_ascii_lowercase())
        .collect();
    let target = old_digest(bytes);
    for (n, &a) in spots.iter().enumerate() {
        for &b in &spots[n + 1..] {
            for x in b'a'..=b'z' {
                for y in b'a'..=b'z' {
                    let mut edited = bytes.to_vec();
                    edited[a] = x;
                    edited[b] = y;
                    if edited != bytes && old_digest(&edited) == target {
                        return String::from_utf8(edited).unwrap();
                    }
                }
            }
        }
    }
    panic!("no colliding edit found");
}

#[test]
fn two_edits_that_collided_under_the_old_digest_rerun_the_job() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let value = "alphabetagammadeltaepsilonzetaetathetaiotakappalambda";
    let original = format!("\"\"\"Names.\"\"\"\n\nNAMES = \"{value}\"\n");
    let edited = colliding_edit(&original);
    assert_eq!(
        old_digest(original.as_bytes()),
        old_digest(edited.as_bytes())
    );
    write(
        root,
        "python/libs/common/src/dubbing_common/names.py",
        &original,
    );
    write(
        root,
        "python/libs/common/tests/unit/test_names.py",
        &format!(
            "from dubbing_common.names import NAMES\n\n\ndef test_names() -> None:\n    assert NAMES == {:?}\n",
            value
        ),
    );
    run(xtask(root).args(["test", "-p", "common", "--venv", "media-service"])).assert_ok();
    write(
        root,
        "python/libs/common/src/dubbing_common/names.py",
        &edited,
    );
    let out = agrees_with_fresh(
        root,
        &["test", "-p", "common", "--venv", "media-service"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// A local package reached without an import line: a string import, and a pytest plugin
/// registered by another local package installed in the venv (its fixture used by name).
#[test]
fn packages_reached_by_a_string_or_a_plugin_are_inputs() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let plugin = "python/libs/contracts/src/dubbing_contracts/pytest_plugin.py";
    write(
        root,
        plugin,
        "\"\"\"Fixtures for every service's tests.\"\"\"\n\nimport pytest\n\n\n@pytest.fixture\ndef contract_version() -> str:\n    return \"1\"\n",
    );
    let pyproject = root.join("python/libs/contracts/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replacen(
            "[tool.setuptools",
            "[project.entry-points.pytest11]\ndubbing_contracts = \"dubbing_contracts.pytest_plugin\"\n\n[tool.setuptools",
            1,
        ),
    )
    .unwrap();
    write(
        root,
        "python/libs/common/tests/unit/test_reach.py",
        "import importlib\n\n\ndef test_plugin_fixture(contract_version: str) -> None:\n    assert contract_version == \"1\"\n\n\ndef test_string_import() -> None:\n    module = importlib.import_module(\"dubbing_contracts\")\n    assert module.__doc__ is not None\n",
    );
    // Not one venv alone (`--venv`): the imports check runs in none.
    let test_common = ["test", "-p", "common"];
    let first = run(xtask(root).args(test_common));
    // The imports check names the undeclared string reference; pytest itself passes.
    assert!(
        first
            .stdout
            .contains("test_reach.py:9: names dubbing_contracts"),
        "{}{}",
        first.stdout,
        first.stderr
    );
    assert!(job_line(&first, "pytest common (media-service venv)").starts_with("ok"));
    let pytest_lines = |out: &Run| {
        ["media-service", "sts-service"]
            .map(|v| job_line(out, &format!("pytest common ({v} venv)")).to_owned())
    };
    let again = run(xtask(root).args(test_common));
    assert!(
        pytest_lines(&again).iter().all(|l| l.starts_with("cached")),
        "{}",
        again.stdout
    );

    // The plugin's fixture changes: pytest of common must run again, and fail as fresh does.
    let text = fs::read_to_string(root.join(plugin)).unwrap();
    fs::write(
        root.join(plugin),
        text.replace("return \"1\"", "return \"2\""),
    )
    .unwrap();
    let out = agrees_with_fresh(root, &test_common, &[]);
    for line in pytest_lines(&out) {
        assert!(line.starts_with("FAILED"), "{}", out.stdout);
    }
    fs::write(root.join(plugin), text).unwrap();
    run(xtask(root).args(test_common));

    // The module imported by its name in a string loses its docstring.
    let init = "python/libs/contracts/src/dubbing_contracts/__init__.py";
    let text = fs::read_to_string(root.join(init)).unwrap();
    let without_doc: String = text
        .lines()
        .skip_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(root.join(init), format!("{without_doc}\n")).unwrap();
    let out = agrees_with_fresh(root, &test_common, &[]);
    for line in pytest_lines(&out) {
        assert!(line.starts_with("FAILED"), "{}", out.stdout);
    }
    fs::write(root.join(init), text).unwrap();
    // (The imports check passes again: the string import goes.)
    fs::remove_file(root.join("python/libs/common/tests/unit/test_reach.py")).unwrap();

    // A package reached through an entry-point group it declares, which common's test loads
    // by the group's name (media-service is installed in one of common's venvs only).
    let media_init = "python/apps/media-service/src/media_service/__init__.py";
    let media_text = fs::read_to_string(root.join(media_init)).unwrap();
    let ready = |value: &str| {
        let code = format!("{media_text}\n\ndef ready() -> bool:\n    return {value}\n");
        fs::write(root.join(media_init), code).unwrap();
    };
    ready("True");
    // common's tests pass; then media-service is not ready: in media-service's venv they fail,
    // remembered as fresh.
    let fail_once_not_ready = || {
        run(xtask(root).args(test_common)).assert_ok();
        ready("False");
        let out = agrees_with_fresh(root, &test_common, &[]);
        assert!(
            job_line(&out, "pytest common (media-service venv)").starts_with("FAILED"),
            "{}",
            out.stdout
        );
    };
    let media_pyproject = root.join("python/apps/media-service/pyproject.toml");
    let text = fs::read_to_string(&media_pyproject).unwrap();
    fs::write(
        &media_pyproject,
        text.replacen(
            "[tool.setuptools",
            "[project.entry-points.\"dubbing.checks\"]\nmedia = \"media_service:ready\"\n\n[tool.setuptools",
            1,
        ),
    )
    .unwrap();
    let checks = "python/libs/common/tests/unit/test_checks.py";
    write(
        root,
        checks,
        "\"\"\"Every registered check passes.\"\"\"\n\nfrom importlib.metadata import entry_points\n\n\ndef test_checks() -> None:\n    for check in entry_points(group=\"dubbing.checks\"):\n        assert check.load()()\n",
    );
    fail_once_not_ready();
    ready("True");
    fs::remove_file(root.join(checks)).unwrap();

    // A package named by a file under python/ outside the packages: a conftest.py above them
    // all, which pytest loads for every package's tests.
    write(
        root,
        "python/conftest.py",
        "\"\"\"Checks before any test.\"\"\"\n\nimport importlib.util\n\n\ndef pytest_configure() -> None:\n    \"\"\"Where the service is installed, it must be ready.\"\"\"\n    if importlib.util.find_spec(\"media_service\"):\n        from media_service import ready\n\n        assert ready()\n",
    );
    fail_once_not_ready();
}

/// What git ignores decides what ruff checks: a `.gitignore` at the root (outside `python/`) and
/// `.git/info/exclude` are inputs.
#[test]
fn git_ignore_rules_outside_python_are_inputs() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let lint = ["lint", "-p", "common", "--venv", "media-service"];
    let test = ["test", "-p", "common", "--venv", "media-service"];
    write(
        root,
        "python/libs/common/src/dubbing_common/scratch.py",
        "\"\"\"Scratch.\"\"\"\n\nimport os\n",
    );
    let gitignore = fs::read_to_string(root.join(".gitignore")).unwrap();
    fs::write(root.join(".gitignore"), format!("{gitignore}scratch.py\n")).unwrap();
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    fs::write(root.join(".gitignore"), &gitignore).unwrap();
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("F401"), "{}", out.stdout);

    let exclude = root.join(".git/info/exclude");
    fs::write(&exclude, "scratch.py\n").unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    fs::write(&exclude, "").unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 1);

    // ruff honours `.ignore` as it does `.gitignore`, in every folder above python/.
    fs::write(root.join(".ignore"), "scratch.py\n").unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    fs::remove_file(root.join(".ignore")).unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 1);

    // `--changed-since` (pre-push, `ci plan`) compares the repository with a revision, and
    // `info/exclude` has no history. A verify of every package records its state; an edit of
    // it since then selects every package. scratch.py is a file of this work tree alone, which
    // the exclude hides (a tracked one that only this machine's rule hides fails SC-007: every
    // clone checks it). (In tests/: a module of the package would lower its coverage.)
    fs::write(&exclude, "scratch.py\n").unwrap();
    fs::remove_file(root.join("python/libs/common/src/dubbing_common/scratch.py")).unwrap();
    let scratch = "python/libs/common/tests/scratch.py";
    write(root, scratch, "\"\"\"Scratch.\"\"\"\n\nimport os\n");
    // The gates above set up one venv: the other's lock is made now, to be committed.
    run(xtask(root).arg("setup")).assert_ok();
    common::git(root, &["add", "."]);
    common::git(root, &["commit", "-q", "--no-verify", "-m", "the locks"]);
    let out = run(xtask(root).arg("verify"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    let main = "python/apps/media-service/src/media_service/__init__.py";
    let text = fs::read_to_string(root.join(main)).unwrap();
    fs::write(
        root.join(main),
        format!("{text}# An edit of media-service alone.\n"),
    )
    .unwrap();
    fs::write(&exclude, "").unwrap();
    let since = ["verify", "--changed-since", "HEAD"];
    let selected = selection_fails_as_a_fresh_verify(root, &[], ".git/info/exclude changed", &lint);
    assert!(selected.stdout.contains("F401"), "{}", selected.stdout);
    // The state recorded is the last passing verify's: back to it, the selection is narrow again.
    fs::write(&exclude, "scratch.py\n").unwrap();
    let out = run(xtask(root).args(since));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("selected: media-service (")
            && !out.stdout.contains("selected: common"),
        "{}",
        out.stdout
    );
    // So is what a committed symlink leads to outside the repository: git holds the link, not
    // the data a test of common reads through it (kept to the end: the link stays).
    let outside = TempDir::new("linked data");
    #[cfg(unix)]
    {
        fs::write(outside.path().join("limit.txt"), "3\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("python/libs/common/tests/data"))
            .unwrap();
        write(
            root,
            "python/libs/common/tests/unit/test_limit.py",
            "\"\"\"The limit, from data a link leads to.\"\"\"\n\nfrom pathlib import Path\n\n\ndef test_limit() -> None:\n    data = Path(__file__).parent.parent / \"data\" / \"limit.txt\"\n    assert int(data.read_text()) < 5\n",
        );
        common::git(root, &["add", "."]);
        common::git(root, &["commit", "-q", "--no-verify", "-m", "limit"]);
        assert_eq!(run(xtask(root).arg("verify")).code, 0);
        fs::write(outside.path().join("limit.txt"), "7\n").unwrap();
        fs::write(
            root.join(main),
            format!("{text}# An edit beside the link's.\n"),
        )
        .unwrap();
        let changed = format!("{} changed", outside.path().display());
        selection_fails_as_a_fresh_verify(root, &[], &changed, &test);
        fs::write(outside.path().join("limit.txt"), "3\n").unwrap();
    }
    // So are the tools' own variables: warnings made errors fail a test of common alone.
    write(
        root,
        "python/libs/common/tests/unit/test_old_api.py",
        "\"\"\"A deprecated call.\"\"\"\n\nimport warnings\n\n\ndef test_old_api() -> None:\n    warnings.warn(\"old\", DeprecationWarning, stacklevel=1)\n",
    );
    common::git(root, &["add", "."]);
    common::git(root, &["commit", "-q", "--no-verify", "-m", "old api"]);
    fs::write(root.join(main), format!("{text}# Another edit.\n")).unwrap();
    let strict = [("PYTHONWARNINGS", "error::DeprecationWarning")];
    selection_fails_as_a_fresh_verify(root, &strict, "$PYTHONWARNINGS changed", &test);
    // And a file in the repository that git does not hold: pytest's arguments, from a file
    // that PYTEST_ADDOPTS names at the top, which git ignores.
    let args_file = root.join("pytest-local.txt");
    fs::write(
        root.join(".git/info/exclude"),
        "scratch.py\npytest-local.txt\n",
    )
    .unwrap();
    fs::write(&args_file, "-ra\n").unwrap();
    // Quoted: pytest splits the variable as a shell does, and the path has a space.
    let addopts = format!("'@{}'", args_file.display());
    let local = [("PYTEST_ADDOPTS", addopts.as_str())];
    let out = run(xtask(root).arg("verify").envs(local));
    assert_eq!(out.code, 0, "{}", out.stdout);
    fs::write(&args_file, "-W error::DeprecationWarning\n").unwrap();
    fs::write(root.join(main), format!("{text}# A third edit.\n")).unwrap();
    selection_fails_as_a_fresh_verify(root, &local, "pytest-local.txt changed", &test);
}

/// `verify --changed-since HEAD` fails, saying `why` it selected everything, as a truly fresh
/// `verify` of every package fails (no memo, every tool cache removed): shown by the truly fresh
/// run of `part` (`test -p common`), a part of that verify, failing. Returns the first run.
/// Both in the media-service venv, where `part` runs: the selection is made before the venvs
/// are (`--venv` only narrows the jobs), and the other venv's jobs would add nothing here.
#[track_caller]
fn selection_fails_as_a_fresh_verify(
    root: &Path,
    envs: &[(&str, &str)],
    why: &str,
    part: &[&str],
) -> Run {
    let selected = run(xtask(root)
        .args([
            "verify",
            "--changed-since",
            "HEAD",
            "--venv",
            "media-service",
        ])
        .envs(envs.iter().copied()));
    common::remove_tool_caches(root);
    let fresh = run(xtask(root)
        .args(part)
        .arg("--no-cache")
        .envs(envs.iter().copied()));
    assert_eq!(fresh.code, 1, "{}", fresh.stdout);
    assert_eq!(selected.code, fresh.code, "{}", selected.stdout);
    assert!(selected.stdout.contains(why), "{}", selected.stdout);
    selected
}

/// A file's execute bit is an input: tools read it (ruff's EXE rules; a test may check it).
#[cfg(unix)]
#[test]
fn the_execute_bit_is_an_input() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let rel = "python/libs/common/tests/unit/test_mode.py";
    write(
        root,
        rel,
        "\"\"\"The file's mode.\"\"\"\n\nimport os\n\n\ndef test_not_executable() -> None:\n    assert not os.access(__file__, os.X_OK)\n",
    );
    let test = ["test", "-p", "common", "--venv", "media-service"];
    let mode = |bits: u32| {
        fs::set_permissions(root.join(rel), fs::Permissions::from_mode(bits)).unwrap();
    };
    mode(0o644);
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);
    mode(0o755);
    let out = agrees_with_fresh(root, &test, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    mode(0o644);
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);

    // The xtask's own build is an input of every pass: a copy of the same build (another path,
    // file and time, as a CI cache restores it) is served the passes; another build (here one
    // byte more, which the loader ignores) runs every job again and says why.
    let builds = TempDir::new("xtask builds");
    let build = |name: &str, extra: &[u8]| {
        let path = builds.path().join(name);
        let mut bytes = fs::read(env!("CARGO_BIN_EXE_xtask")).unwrap();
        bytes.extend_from_slice(extra);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let with = |exe: &Path| {
        let mut cmd = Command::new(exe);
        cmd.arg("--root")
            .arg(root)
            .args(test)
            .arg("-v")
            .env("XTASK_TOOLS_DIR", common::shared_tools());
        run(&mut cmd)
    };
    let verdict = |out: &Run| {
        let job = "--- pytest common (media-service venv) ";
        let line = out.stdout.lines().find(|l| l.starts_with(job));
        line.map(|l| {
            if l[job.len()..].starts_with("ok (cached)") {
                "cached"
            } else {
                &l[job.len()..job.len() + 2]
            }
            .to_owned()
        })
    };
    // The passes of this build, with the same variables as the runs below.
    with(Path::new(env!("CARGO_BIN_EXE_xtask"))).assert_ok();
    let copy = with(&build("same", b""));
    assert_eq!(verdict(&copy).as_deref(), Some("cached"), "{}", copy.stdout);
    let other = with(&build("other", b"\0"));
    assert_eq!(verdict(&other).as_deref(), Some("ok"), "{}", other.stdout);
    assert!(
        other
            .stdout
            .contains("ran again: changed since its last pass: the xtask's build\n"),
        "{}",
        other.stdout
    );
}

/// A ruff configuration that `python/pyproject.toml` extends from outside `python/`.
#[test]
fn a_configuration_extended_from_outside_python_is_an_input() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let lint = ["lint", "-p", "common", "--venv", "media-service"];
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replacen(
            "[tool.ruff]\n",
            "[tool.ruff]\nextend = \"../ruff-shared.toml\"\n",
            1,
        ),
    )
    .unwrap();
    fs::write(root.join("ruff-shared.toml"), "line-length = 100\n").unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    // A setting python/pyproject.toml does not override: single quotes, which the tree lacks.
    fs::write(
        root.join("ruff-shared.toml"),
        "line-length = 100\n[format]\nquote-style = \"single\"\n",
    )
    .unwrap();
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("would be reformatted"),
        "{}",
        out.stdout
    );

    // ruff's configuration is hierarchical: one in any folder under python/ applies below it,
    // and what it extends counts wherever it is.
    fs::write(&config, &text).unwrap();
    write(
        root,
        "python/libs/common/tests/ruff.toml",
        "extend = \"../../../../ruff-tests.toml\"\n",
    );
    write(
        root,
        "python/libs/common/tests/unit/test_unused.py",
        "\"\"\"Unused.\"\"\"\n\nimport os\n\n\ndef test_ok() -> None:\n    assert True\n",
    );
    fs::write(root.join("ruff-tests.toml"), "[lint]\nselect = [\"E\"]\n").unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    fs::write(
        root.join("ruff-tests.toml"),
        "[lint]\nselect = [\"E\", \"F\"]\n",
    )
    .unwrap();
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("F401"), "{}", out.stdout);
    fs::remove_file(root.join("python/libs/common/tests/ruff.toml")).unwrap();
    fs::remove_file(root.join("python/libs/common/tests/unit/test_unused.py")).unwrap();

    // So does what it extends in another package's folder: no file of common's jobs otherwise.
    write(
        root,
        "python/libs/common/ruff.toml",
        "extend = \"../contracts/ruff-shared.toml\"\n",
    );
    write(
        root,
        "python/libs/contracts/ruff-shared.toml",
        "extend = \"../../pyproject.toml\"\nline-length = 100\n",
    );
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(
        root,
        "python/libs/contracts/ruff-shared.toml",
        "extend = \"../../pyproject.toml\"\nline-length = 20\n",
    );
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("E501"), "{}", out.stdout);
}

/// Files named like a tool's output below a package's root are fixtures: inputs, and `clean`
/// leaves them.
#[test]
fn fixtures_named_like_tool_outputs_are_inputs() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    write(
        root,
        "python/libs/common/tests/fixtures/coverage.xml",
        "<coverage line-rate=\"1\"/>\n",
    );
    write(
        root,
        "python/libs/common/tests/fixtures/env/pyvenv.cfg",
        "home = /usr/bin\n",
    );
    write(
        root,
        "python/libs/common/tests/unit/test_fixtures.py",
        "from pathlib import Path\n\nFIXTURES = Path(__file__).parent.parent / \"fixtures\"\n\n\ndef test_coverage_fixture() -> None:\n    assert \"line-rate=\\\"1\\\"\" in (FIXTURES / \"coverage.xml\").read_text()\n\n\ndef test_venv_fixture() -> None:\n    assert \"/usr/bin\" in (FIXTURES / \"env\" / \"pyvenv.cfg\").read_text()\n",
    );
    // Left untracked: the seed's .gitignore ignores `coverage.xml` (a tool's report) anywhere.
    let test_common = ["test", "-p", "common", "--venv", "media-service"];
    run(xtask(root).args(test_common)).assert_ok();
    for (rel, original, edited) in [
        (
            "python/libs/common/tests/fixtures/coverage.xml",
            "<coverage line-rate=\"1\"/>\n",
            "<coverage line-rate=\"0\"/>\n",
        ),
        (
            "python/libs/common/tests/fixtures/env/pyvenv.cfg",
            "home = /usr/bin\n",
            "home = /opt/bin\n",
        ),
    ] {
        write(root, rel, edited);
        assert_eq!(agrees_with_fresh(root, &test_common, &[]).code, 1, "{rel}");
        write(root, rel, original);
        assert_eq!(agrees_with_fresh(root, &test_common, &[]).code, 0, "{rel}");
    }
    // clean removes the tools the xtask installed too: its own folder, not the shared one.
    let tools = TempDir::new("tools");
    run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()))
    .assert_ok();
    assert!(
        root.join("python/libs/common/tests/fixtures/coverage.xml")
            .is_file()
    );
    assert!(
        root.join("python/libs/common/tests/fixtures/env/pyvenv.cfg")
            .is_file()
    );
}

/// pytest options that choose tests from its cache are never remembered, however they come;
/// the terminal's size is the same for every job, so a resized terminal changes no verdict.
#[test]
fn pytest_cache_options_and_the_terminal_size() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let test_common = ["test", "-p", "common", "--venv", "media-service"];
    write(
        root,
        "python/libs/common/tests/unit/test_terminal.py",
        "import shutil\n\n\ndef test_width() -> None:\n    assert shutil.get_terminal_size().columns == 80\n",
    );
    run(xtask(root).args(test_common)).assert_ok();
    let resized = agrees_with_fresh(root, &test_common, &[("COLUMNS", "200")]);
    assert_eq!(resized.code, 0, "{}", resized.stdout);
    for (args, envs) in [
        (&test_common[..], &[("PYTEST_ADDOPTS", "--lf")][..]),
        (
            &[
                "test",
                "-p",
                "common",
                "--venv",
                "media-service",
                "--",
                "--sw-skip",
            ][..],
            &[][..],
        ),
    ] {
        for _ in 0..2 {
            let out = run(xtask(root).args(args).envs(envs.iter().copied()));
            out.assert_ok();
            let line = job_line(&out, "pytest common (media-service venv)");
            assert!(
                line.starts_with("ok"),
                "{args:?} {envs:?} was remembered:\n{}",
                out.stdout
            );
        }
    }
}

/// A named pipe under `python/` is never opened (it would hang every gate), and `-v` names it.
#[cfg(unix)]
#[test]
fn a_named_pipe_under_python_hangs_nothing() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let pipe = root.join("python/libs/common/tests/events.pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap()
            .success()
    );
    let mut child = xtask(root)
        .args(["test", "-p", "common", "--venv", "media-service", "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(240) {
            child.kill().unwrap();
            panic!("the gate hung on a named pipe");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("events.pipe is not a regular file"),
        "{stderr}"
    );
}

/// The tools folder's seed of a job's first run: `<tools>/job-caches`.
fn job_seeds() -> std::path::PathBuf {
    common::shared_tools().join("job-caches")
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A job's first run starts from the tools folder's seed, made by a job of another tree: mypy's
/// entries of the standard library arrive with their times (it checks them itself), and nothing
/// of a tree's modules is ever in the seed. A second tree with the same module, now a type error,
/// fails as a truly fresh run does.
#[test]
fn a_first_run_is_seeded_from_another_tree_never_with_its_modules() {
    let first = committed_set_up_tree();
    write(
        first.path(),
        LIMITS,
        "\"\"\"Limits.\"\"\"\n\nLIMIT: int = 128\n",
    );
    run(xtask(first.path()).args(["lint", "-p", "common", "--venv", "media-service"])).assert_ok();
    let seeds: Vec<_> = fs::read_dir(job_seeds())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mypy-")
        })
        .collect();
    assert!(
        !seeds.is_empty(),
        "no mypy seed in {}",
        job_seeds().display()
    );
    // The bytecode in any seed is a standard library's alone (of the interpreter the seed is
    // for: `lib/pythonX.Y` holding `os.py`): a plugin or conftest beside python/ is a tree's file.
    for seed in fs::read_dir(job_seeds()).unwrap().flatten() {
        let pyc = seed.path().join("pyc");
        for file in files_under(&pyc) {
            let rel = file.strip_prefix(&pyc).unwrap();
            let parts: Vec<_> = rel.components().collect();
            let stdlib = parts.windows(2).position(|w| {
                w[0].as_os_str() == "lib"
                    && w[1].as_os_str().to_string_lossy().starts_with("python3")
            });
            let real = stdlib.is_some_and(|at| {
                let dir: std::path::PathBuf = parts[..at + 2].iter().collect();
                Path::new("/").join(dir).join("os.py").is_file()
            });
            assert!(real, "not a standard library's: {}", file.display());
        }
    }
    for seed in &seeds {
        for file in files_under(seed) {
            let text = file.to_string_lossy();
            assert!(
                ![
                    "dubbing_common",
                    "dubbing_contracts",
                    "media_service",
                    "sts_service",
                    "limits"
                ]
                .iter()
                .any(|m| text.contains(m))
                    && !text.contains("xtask tést"),
                "a tree's entry in the seed: {text}"
            );
        }
    }

    let second = committed_set_up_tree();
    let root = second.path();
    write(root, LIMITS, "\"\"\"Limits.\"\"\"\n\nLIMIT: str = 128\n");
    run(xtask(root).arg("setup")).assert_ok();
    let started = std::time::SystemTime::now();
    let out = agrees_with_fresh(
        root,
        &["lint", "-p", "common", "--venv", "media-service"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("Incompatible types"), "{}", out.stdout);
    // What the fresh run's mypy found in its cache: seeded entries, older than the run.
    let cache = root.join("python/apps/media-service/.venv/xtask-cache");
    let builtins: Vec<_> = files_under(&cache)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("builtins.data")
        })
        .collect();
    assert!(
        !builtins.is_empty(),
        "no mypy entry of builtins in {}",
        cache.display()
    );
    for file in builtins {
        let time = fs::metadata(&file).unwrap().modified().unwrap();
        assert!(time < started, "{} was not seeded", file.display());
    }
}

/// Replaces the installed file `path` by a file of its own holding `content`, with the old
/// one's modification time: the venvs' copies are links to one file of uv's cache, which a
/// write through would change.
fn replace_keeping_time(path: &Path, content: &str) {
    let time = fs::metadata(path).unwrap().modified().unwrap();
    let aside = path.with_extension("py.new");
    fs::write(&aside, content).unwrap();
    fs::File::options()
        .write(true)
        .open(&aside)
        .unwrap()
        .set_modified(time)
        .unwrap();
    fs::rename(&aside, path).unwrap();
}

/// A `file://` URL of a local folder, every byte outside a plain set percent-encoded.
fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b':' | b'.' | b'-' | b'_' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// mypy's entries of an installed package, made in a venv and kept in the tools folder's seed,
/// are never seeded back into that venv once its install changed: at the same path, mypy
/// would trust them by the module's size and time. The package's module is edited in the venv
/// keeping both, then the install changes (a package added): the first mypy run after it fails
/// as a truly fresh run does. (Entries made in another venv are seeded: mypy hashes a module whose
/// path is not the entry's.)
#[test]
fn an_installed_packages_entries_made_in_this_venv_are_not_seeded_back_after_its_install_changed() {
    // A tools folder of its own, with the shared seeds: no other test's entry of the package.
    let tools = common::tools_with_uv_and_seeds("typed package tools");
    let tmp = common::set_up_tree();
    let root = tmp.path();
    let xtask = |root: &Path| {
        let mut cmd = xtask(root);
        cmd.env("XTASK_TOOLS_DIR", tools.path());
        cmd
    };
    let package = TempDir::new("typed package");
    write(
        package.path(),
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"typedpkg\"\nversion = \"1.0\"\n\n[tool.setuptools.package-data]\ntypedpkg = [\"py.typed\"]\n",
    );
    let typed = "def value() -> int:\n    return 1\n";
    write(package.path(), "typedpkg/__init__.py", typed);
    write(package.path(), "typedpkg/py.typed", "");
    let app = "python/apps/media-service";
    common::index::add_dependency(
        root,
        &format!("{app}/pyproject.toml"),
        &format!("typedpkg @ {}", file_url(package.path())),
    );
    write(
        root,
        &format!("{app}/src/media_service/typed_use.py"),
        "\"\"\"Uses typedpkg.\"\"\"\n\nfrom typedpkg import value\n\nVALUE: int = value()\n",
    );
    let lint = ["lint", "-p", "media-service"];
    run(xtask(root).arg("setup-stream")).assert_ok();
    run(xtask(root).args(lint)).assert_ok();
    // The installed module, now returning a str: a file of its own, the same size and time.
    let module = common::site_packages(root, "media-service").join("typedpkg/__init__.py");
    let poisoned = typed.replace("-> int", "-> str");
    assert_eq!(poisoned.len(), typed.len());
    replace_keeping_time(&module, &poisoned);
    run(xtask(root).args(["add", "media-service", "six==1.16.0"])).assert_ok();
    assert_eq!(
        fs::read_to_string(&module).unwrap(),
        poisoned,
        "the sync reinstalled typedpkg"
    );
    let out = run(xtask(root).args(lint));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("Incompatible types"), "{}", out.stdout);
    // Truly fresh: no cache in the tree, and a tools folder without seeds.
    let bare = common::tools_with_uv("typed package bare tools");
    common::remove_tool_caches(root);
    let fresh = run(xtask(root)
        .args(lint)
        .arg("--no-cache")
        .env("XTASK_TOOLS_DIR", bare.path()));
    assert_eq!(fresh.code, 1, "{}", fresh.stdout);
    assert!(
        fresh.stdout.contains("Incompatible types"),
        "{}",
        fresh.stdout
    );
}

/// ruff calls a module first-party when a folder of its name is in any of its `src` roots
/// (`libs/*`): a folder added to another package moves the verdict of ruff's import sorting.
#[test]
fn a_folder_in_another_package_that_makes_an_import_first_party() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    write(
        root,
        "python/libs/common/tests/unit/test_plug.py",
        "\"\"\"A third-party import, then a first-party one.\"\"\"\n\nimport pluggy\n\nimport dubbing_common\n\n\ndef test_plug() -> None:\n    assert pluggy.HookimplMarker(\"x\") is not None\n    assert dubbing_common.__version__\n",
    );
    let lint = ["lint", "-p", "common", "--venv", "media-service"];
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(root, "python/libs/contracts/pluggy/notes.txt", "notes\n");
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("I001"), "{}", out.stdout);
    // An empty folder of that name does the same, though no file stands for it (git keeps
    // none): the folder left behind by removing the file, then the folder removed too.
    let folder = root.join("python/libs/contracts/pluggy");
    fs::remove_file(folder.join("notes.txt")).unwrap();
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    fs::remove_dir(&folder).unwrap();
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    // A `src` root outside python/ (`../shared`): a module that comes there moves the verdict.
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, text.replace("src = [", "src = [\"../shared\", ")).unwrap();
    write(root, "shared/notes.txt", "notes\n");
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(root, "shared/pluggy.py", "\"\"\"Shadows pluggy.\"\"\"\n");
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // The `src` setting moved to a configuration outside python/ that python/'s extends, whose
    // entries ruff reads from its own folder: a module in `elsewhere/` moves the verdict too.
    fs::remove_file(root.join("shared/pluggy.py")).unwrap();
    let src_line = text.lines().find(|l| l.starts_with("src = [")).unwrap();
    fs::write(
        &config,
        text.replace(src_line, "extend = \"../ruff-base.toml\""),
    )
    .unwrap();
    write(
        root,
        "ruff-base.toml",
        "src = [\"elsewhere\", \"python/apps/*/src\", \"python/libs/*/src\", \"python/apps/*\", \"python/libs/*\"]\n",
    );
    write(root, "elsewhere/notes.txt", "notes\n");
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(root, "elsewhere/pluggy.py", "\"\"\"Shadows pluggy.\"\"\"\n");
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("I001"), "{}", out.stdout);
    // ruff matches an import's whole module path: with `elsewhere/pluggy/` there, `import
    // pluggy._hooks` is third-party until `elsewhere/pluggy/_hooks.py` comes.
    fs::remove_file(root.join("elsewhere/pluggy.py")).unwrap();
    write(root, "elsewhere/pluggy/notes.txt", "notes\n");
    let test_plug = "python/libs/common/tests/unit/test_plug.py";
    let plug = fs::read_to_string(root.join(test_plug)).unwrap();
    write(
        root,
        test_plug,
        &plug.replace("import pluggy\n", "import pluggy._hooks\n"),
    );
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(
        root,
        "elsewhere/pluggy/_hooks.py",
        "\"\"\"Shadows pluggy._hooks.\"\"\"\n",
    );
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    fs::remove_dir_all(root.join("elsewhere/pluggy")).unwrap();
    write(root, test_plug, &plug);
    // A `src` entry that names a variable (`$DUBBING_SHARED`): ruff expands it.
    let far = root.join("far");
    let env = [("DUBBING_SHARED", far.to_str().unwrap())];
    let base = fs::read_to_string(root.join("ruff-base.toml")).unwrap();
    write(
        root,
        "ruff-base.toml",
        &base.replace("\"elsewhere\"", "\"$DUBBING_SHARED\""),
    );
    write(root, "far/notes.txt", "notes\n");
    assert_eq!(agrees_with_fresh(root, &lint, &env).code, 0);
    write(root, "far/pluggy.py", "\"\"\"Shadows pluggy.\"\"\"\n");
    let out = agrees_with_fresh(root, &lint, &env);
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// A build backend that imports a tree's module (setuptools' `attr:` version, when the value is
/// not a literal) runs with the xtask's bytecode folder (PYTHONDONTWRITEBYTECODE set, as on CI):
/// an edit that keeps the module's size and time is built from its new content, as a fresh
/// setup (a new venv) builds it.
#[test]
fn a_build_that_imports_a_module_of_the_tree_sees_an_edit_that_keeps_size_and_time() {
    let tmp = common::scaffolded("build bytecode");
    let root = tmp.path();
    common::make_common_version_dynamic(root);
    let init = "python/libs/common/src/dubbing_common/__init__.py";
    let source = fs::read_to_string(root.join(init)).unwrap();
    // Not a literal: setuptools imports the module to read it.
    write(root, init, &source.replace("\"0.1.0\"", "\"0.1.\" + \"0\""));
    let setup = || {
        run(xtask(root)
            .args(["setup-stream"])
            .env("PYTHONDONTWRITEBYTECODE", "1"))
    };
    let installed = || {
        let (ok, out) = common::python_in(
            root,
            "media-service",
            "import importlib.metadata as m; print(m.version('dubbing-common'))",
        );
        assert!(ok, "{out}");
        out.trim().to_owned()
    };
    setup().assert_ok();
    assert_eq!(installed(), "0.1.0");
    let edited = source.replace("\"0.1.0\"", "\"0.1.\" + \"7\"");
    write_keeping_size_and_time(root, init, &edited);
    let out = setup();
    out.assert_ok();
    assert_eq!(installed(), "0.1.7", "{}", out.stdout);
    // What a fresh setup (a new venv) builds.
    run(xtask(root)
        .args(["setup-stream", "--force"])
        .env("PYTHONDONTWRITEBYTECODE", "1"))
    .assert_ok();
    assert_eq!(installed(), "0.1.7");
}

/// Files outside python/ that an option or a variable names are inputs too: pytest's `@file` in
/// `addopts`, in `PYTEST_ADDOPTS` or passed on to pytest, `COVERAGE_RCFILE`, the folders of
/// mypy's `mypy_path`, and a mypy plugin's file. Each edit there must move
/// the remembered verdict as it moves a fresh run's.
#[test]
fn a_file_outside_python_that_an_option_names() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let test = ["test", "-p", "common", "--venv", "media-service"];
    let lint = ["lint", "-p", "common", "--venv", "media-service"];
    // pytest's arguments from a file at the repository's top.
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    let addopts = "addopts = [\"--strict-markers\"";
    assert!(text.contains(addopts), "{text}");
    fs::write(
        &config,
        text.replace(
            addopts,
            "addopts = [\"@../../../pytest-args.txt\", \"--strict-markers\"",
        ),
    )
    .unwrap();
    write(root, "pytest-args.txt", "-q\n");
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);
    write(root, "pytest-args.txt", "--no-such-option\n");
    let out = agrees_with_fresh(root, &test, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    write(root, "pytest-args.txt", "-q\n");
    // The same from PYTEST_ADDOPTS, quoted as pytest's shell-like split wants a path with a space.
    let args = root.join("pytest args.txt");
    let quoted = format!("'@{}'", args.display());
    let env = [("PYTEST_ADDOPTS", quoted.as_str())];
    write(root, "pytest args.txt", "-q\n");
    assert_eq!(agrees_with_fresh(root, &test, &env).code, 0);
    write(root, "pytest args.txt", "--no-such-option\n");
    let out = agrees_with_fresh(root, &test, &env);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // The same passed on to pytest on the command line (`test -- @FILE`).
    let args = format!("@{}", root.join("cli args.txt").display());
    let passed = [
        "test",
        "-p",
        "common",
        "--venv",
        "media-service",
        "--",
        args.as_str(),
    ];
    write(root, "cli args.txt", "-q\n");
    assert_eq!(agrees_with_fresh(root, &passed, &[]).code, 0);
    write(root, "cli args.txt", "--no-such-option\n");
    let out = agrees_with_fresh(root, &passed, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // coverage's configuration from a variable.
    let rc = root.join("coverage.rc");
    let env = [("COVERAGE_RCFILE", rc.to_str().unwrap())];
    write(root, "coverage.rc", "[run]\nbranch = False\n");
    assert_eq!(agrees_with_fresh(root, &test, &env).code, 0);
    write(
        root,
        "coverage.rc",
        "[run]\nbranch = False\nplugins = no_such_coverage_plugin\n",
    );
    let out = agrees_with_fresh(root, &test, &env);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // mypy's stubs from a folder beside python/.
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "[tool.mypy]\n",
            "[tool.mypy]\nmypy_path = \"$MYPY_CONFIG_FILE_DIR/../stubs\"\n",
        ),
    )
    .unwrap();
    write(root, "stubs/outside_stub.pyi", "X: int\n");
    write(
        root,
        "python/libs/common/tests/unit/test_stub.py",
        "\"\"\"Reads a stub from mypy_path.\"\"\"\n\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from outside_stub import X\n\n    Y: int = X\n\n\ndef test_nothing() -> None:\n    assert True\n",
    );
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    write(root, "stubs/outside_stub.pyi", "X: str\n");
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // An edit there that keeps the stub's size and time: mypy's cache would trust the stub, so
    // its entry is forgotten before every run (a plain mypy without a cache fails here).
    write(root, "stubs/outside_stub.pyi", "X: int\n");
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write_keeping_size_and_time(root, "stubs/outside_stub.pyi", "X: str\n");
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    write(root, "stubs/outside_stub.pyi", "X: int\n");
    // A mypy plugin given by its path, beside python/: mypy runs its code.
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "[tool.mypy]\n",
            "[tool.mypy]\nplugins = [\"../mypy_check.py\"]\n",
        ),
    )
    .unwrap();
    let plugin = "\"\"\"A plugin that changes nothing.\"\"\"\n\nfrom mypy.plugin import Plugin\n\n\ndef plugin(version: str) -> type[Plugin]:\n    return Plugin\n";
    write(root, "mypy_check.py", plugin);
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write(
        root,
        "mypy_check.py",
        &format!("{plugin}\nraise RuntimeError(\"broken\")\n"),
    );
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // An edit of the plugin that keeps its size and time: Python would load the bytecode of
    // the plugin that passed (the key saw the edit, and nothing records the plugin's state for
    // the caches).
    let broken = format!("{plugin}\nraise RuntimeError(\"broken\")\n");
    let padded = format!(
        "{plugin}\n{}\n",
        "#".repeat(broken.len() - plugin.len() - 2)
    );
    write(root, "mypy_check.py", &padded);
    assert_eq!(agrees_with_fresh(root, &lint, &[]).code, 0);
    write_keeping_size_and_time(root, "mypy_check.py", &broken);
    let out = agrees_with_fresh(root, &lint, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// ruff's user configuration applies where no project configuration does: an input then. A
/// tree whose `python/pyproject.toml` sets no `[tool.ruff]`, under `XDG_CONFIG_HOME`.
#[test]
fn ruffs_user_configuration_is_an_input() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    let start = text.find("[tool.ruff]").unwrap();
    let end = text.find("[tool.mypy]").unwrap();
    fs::write(&config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let xdg = root.join("xdg");
    let env = [("XDG_CONFIG_HOME", xdg.to_str().unwrap())];
    let lint = ["lint", "-p", "common", "--venv", "media-service"];
    write(
        root,
        "xdg/ruff/ruff.toml",
        "line-length = 100\n[lint]\nselect = [\"E\"]\n",
    );
    assert_eq!(agrees_with_fresh(root, &lint, &env).code, 0);
    write(
        root,
        "xdg/ruff/ruff.toml",
        "line-length = 40\n[lint]\nselect = [\"E\"]\n",
    );
    let out = agrees_with_fresh(root, &lint, &env);
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// A `__pycache__` folder that holds more than bytecode is a person's: its files are inputs
/// (Python imports the folder as a namespace package), and `clean` keeps it.
#[test]
fn a_file_in_a_pycache_folder_that_is_not_bytecode() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let test = ["test", "-p", "common", "--venv", "media-service"];
    let helper = "python/libs/common/src/dubbing_common/__pycache__/helper.py";
    write(root, helper, "VALUE = 1\n");
    write(
        root,
        "python/libs/common/tests/unit/test_pycache.py",
        "\"\"\"A module in a __pycache__ folder.\"\"\"\n\nimport importlib\n\n\ndef test_value() -> None:\n    module = importlib.import_module(\"dubbing_common.__pycache__.helper\")\n    assert module.VALUE == 1\n",
    );
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);
    write(root, helper, "VALUE = 2\n");
    let out = agrees_with_fresh(root, &test, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // clean removes the tools the xtask installed too: its own folder, not the one the other
    // tests use at the same time.
    let tools = TempDir::new("tools");
    let out = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    assert!(root.join(helper).is_file(), "{}", out.stdout);
}

/// An installed module edited in one tree's venv, keeping its size and time (what Python's
/// bytecode check compares), never lends its bytecode to another tree's venv through the tools
/// folder's shared bytecode: a test there that fails on the real module fails. (The store holds
/// hash-checked bytecode, which Python checks against each module's content.)
#[test]
fn an_installed_module_edited_in_one_tree_leaves_another_trees_verdict_alone() {
    let tools = common::tools_with_uv("edited module tools");
    let edited = common::scaffolded("edited module");
    let other = common::scaffolded("edited module other");
    let with_tools = |root: &Path| {
        let mut cmd = xtask(root);
        cmd.env("XTASK_TOOLS_DIR", tools.path());
        cmd
    };
    write(
        other.path(),
        "python/apps/media-service/tests/unit/test_result.py",
        "\"\"\"pluggy's own _result module.\"\"\"\n\nimport pluggy._result as result\n\n\ndef test_result() -> None:\n    assert getattr(result, \"POISON\", 0) == 1\n",
    );
    for root in [edited.path(), other.path()] {
        run(with_tools(root).arg("setup-stream")).assert_ok();
    }
    // pluggy's _result.py in the first tree's venv: a file of its own (the venvs' copies are
    // links to one file of uv's cache), POISON set at the same size, and the same time.
    let site = common::site_packages(edited.path(), "media-service");
    let module = site.join("pluggy/_result.py");
    let text = fs::read_to_string(&module).unwrap();
    let future = "from __future__ import annotations\n";
    let end = text
        .find(future)
        .expect("pluggy's _result.py imports annotations")
        + future.len();
    let head = format!("{future}POISON = 1  #");
    assert!(end > head.len() + 1, "{text}");
    let poisoned = format!(
        "{head}{}\n{}",
        "x".repeat(end - head.len() - 1),
        &text[end..]
    );
    assert_eq!(poisoned.len(), text.len());
    replace_keeping_time(&module, &poisoned);
    // A job there compiles the edited module; the other tree's first job comes after.
    run(with_tools(edited.path()).args(["test", "-p", "media-service"])).assert_ok();
    let out = run(with_tools(other.path()).args(["test", "-p", "media-service"]));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("assert 0 == 1"), "{}", out.stdout);
}

/// A module whose compilation warns (an invalid escape) warns only when it is compiled, never when
/// its bytecode is loaded. With warnings made errors, a fresh run fails on it: so does the gate,
/// whether the bytecode would have come from the tools folder's shared store (another tree
/// imported the module first) or from the job's own earlier run (the setting came since).
#[test]
fn a_module_that_warns_when_compiled_fails_as_a_fresh_run_when_warnings_are_errors() {
    let tools = common::tools_with_uv("compile warning tools");
    let package = TempDir::new("warning package");
    write(
        package.path(),
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"warnpkg\"\nversion = \"1.0\"\n",
    );
    write(
        package.path(),
        "warnpkg/__init__.py",
        "import re\n\nPAT = re.compile(\"\\d+\")\n",
    );
    let url = file_url(package.path());
    let trees = [
        common::scaffolded("compile warning first"),
        common::scaffolded("compile warning second"),
    ];
    let with_tools = |root: &Path| {
        let mut cmd = xtask(root);
        cmd.env("XTASK_TOOLS_DIR", tools.path());
        cmd
    };
    for tree in &trees {
        let root = tree.path();
        common::index::add_dependency(
            root,
            "python/apps/media-service/pyproject.toml",
            &format!("warnpkg @ {url}"),
        );
        write(
            root,
            "python/apps/media-service/tests/unit/test_pattern.py",
            "\"\"\"A pattern of an installed package.\"\"\"\n\nimport warnpkg\n\n\ndef test_pattern() -> None:\n    assert warnpkg.PAT.match(\"12\")\n",
        );
        run(with_tools(root).arg("setup-stream")).assert_ok();
    }
    let test = ["test", "-p", "media-service"];
    let errors = |root: &Path| set_pytest_option(root, "filterwarnings = [\"error\"]");
    let fails_on_the_module = |root: &Path| {
        let out = run(with_tools(root).args(test));
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert!(out.stdout.contains("invalid escape"), "{}", out.stdout);
    };
    // The first tree imports the module (warnings are not errors there) and passes.
    run(with_tools(trees[0].path()).args(test)).assert_ok();
    // A conftest.py that makes warnings errors while it imports a module, added after a pass (a
    // file of the package: no setting changed): the first run's bytecode hides the warning
    // neither of a module of the tree nor of the installed one.
    let root = trees[0].path();
    let app = "python/apps/media-service";
    let esc = format!("{app}/src/media_service/esc.py");
    let test_esc = format!("{app}/tests/unit/test_esc.py");
    write(root, &esc, "\"\"\"A pattern.\"\"\"\n\nPAT = \"\\d+\"\n");
    write(
        root,
        &test_esc,
        "\"\"\"The pattern.\"\"\"\n\nfrom media_service import esc\n\n\ndef test_pat() -> None:\n    assert esc.PAT == \"\\\\d+\"\n",
    );
    run(with_tools(root).args(test)).assert_ok();
    let conftest = format!("{app}/tests/conftest.py");
    for module in ["media_service.esc", "warnpkg"] {
        write(
            root,
            &conftest,
            &format!(
                "\"\"\"Warnings are errors here.\"\"\"\n\nimport warnings\n\nwith warnings.catch_warnings():\n    warnings.simplefilter(\"error\")\n    import {module}  # noqa: F401\n"
            ),
        );
        fails_on_the_module(root);
    }
    for rel in [&conftest, &esc, &test_esc] {
        fs::remove_file(root.join(rel)).unwrap();
    }
    run(with_tools(root).args(test)).assert_ok();
    // The second, warnings made errors, fails on the module as a fresh run does.
    errors(trees[1].path());
    fails_on_the_module(trees[1].path());
    // The first tree, warnings made errors since its pass: its own bytecode of the module does
    // not hide the warning either.
    errors(trees[0].path());
    fails_on_the_module(trees[0].path());
}

/// A file edited while its job runs and put back before the run ends (content A, then B while
/// the tool reads it, then A again: `git stash` and `git stash pop` around a run) leaves no
/// remembered pass: the job read B, and its pass says nothing of A. Under `python/`, and
/// outside it (a folder pytest's `pythonpath` names). The Python test and this one take turns
/// through marker files outside `python/`, so the timing is exact.
#[test]
fn a_file_edited_and_put_back_while_its_job_runs_leaves_no_pass() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let signals = root.join("signals");
    fs::create_dir_all(&signals).unwrap();
    set_pytest_option(root, "pythonpath = [\"../flags\"]");
    let tests = "python/libs/common/tests/unit";
    write(
        root,
        &format!("{tests}/test_flag.py"),
        "\"\"\"The flags say good.\"\"\"\n\nimport pathlib\nimport time\n\nHERE = pathlib.Path(__file__).parent\nSIGNALS = HERE.parents[4] / \"signals\"\nFLAGS = [HERE / \"flag.txt\", HERE.parents[4] / \"flags\" / \"flag.txt\"]\n\n\ndef wait_for(name: str) -> None:\n    for _ in range(600):\n        if (SIGNALS / name).exists():\n            return\n        time.sleep(0.05)\n\n\ndef test_flag() -> None:\n    (SIGNALS / \"started\").touch()\n    wait_for(\"go\")\n    texts = [flag.read_text() for flag in FLAGS]\n    (SIGNALS / \"read\").touch()\n    wait_for(\"done\")\n    assert texts == [\"good\\n\", \"good\\n\"]\n",
    );
    let inside = root.join(tests).join("flag.txt");
    let outside = root.join("flags/flag.txt");
    write(root, "flags/flag.txt", "good\n");
    let test = ["test", "-p", "common", "--venv", "media-service"];
    let wait_for = |name: &str| {
        let start = Instant::now();
        while !signals.join(name).exists() {
            assert!(start.elapsed() < Duration::from_secs(60), "no {name}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    for flag in [&inside, &outside] {
        // A run with nothing in the way: the Python test does not wait.
        fs::write(flag, "good\n").unwrap();
        for marker in ["go", "done"] {
            fs::write(signals.join(marker), "").unwrap();
        }
        // (The second round's is remembered from the first's: no markers.)
        run(xtask(root).args(test)).assert_ok();
        for marker in ["go", "done", "started", "read"] {
            let _ = fs::remove_file(signals.join(marker));
        }
        fs::write(flag, "bad!\n").unwrap();
        let child = xtask(root)
            .args(test)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("started");
        fs::write(flag, "good\n").unwrap();
        fs::write(signals.join("go"), "").unwrap();
        wait_for("read");
        fs::write(flag, "bad!\n").unwrap();
        fs::write(signals.join("done"), "").unwrap();
        let during = child.wait_with_output().unwrap();
        assert!(during.status.success(), "the job read good and passed");
        // The flag says bad! now, as it did when the run started: no pass answers for it.
        let out = agrees_with_fresh(root, &test, &[]);
        assert_eq!(out.code, 1, "{}: {}", flag.display(), out.stdout);
        assert!(
            !job_line(&out, "pytest common").starts_with("cached"),
            "{}",
            out.stdout
        );
        for marker in ["started", "read"] {
            fs::remove_file(signals.join(marker)).unwrap();
        }
        fs::write(flag, "good\n").unwrap();
    }
}

/// Bytes that are not UTF-8 are inputs as they are: two file names, or two values of a
/// variable, that differ only there read alike once made text, yet a test sees them apart
/// (`os.listdir(b".")`, `os.environb`).
#[cfg(unix)]
#[test]
fn names_and_variables_that_are_not_utf8_count_byte_for_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let tests = root.join("python/libs/common/tests/unit");
    write(
        root,
        "python/libs/common/tests/unit/test_bytes.py",
        "\"\"\"Bytes as they are.\"\"\"\n\nimport os\nimport pathlib\n\nDATA = pathlib.Path(__file__).parent / \"data\"\n\n\ndef test_name() -> None:\n    assert os.listdir(os.fsencode(DATA)) == [b\"case_\\xff.txt\"]\n\n\ndef test_variable() -> None:\n    assert os.environb.get(b\"DUB_MODE\", b\"\\xff\") == b\"\\xff\"\n",
    );
    let data = tests.join("data");
    fs::create_dir_all(&data).unwrap();
    let name = |byte: u8| {
        data.join(OsStr::from_bytes(&[
            b'c', b'a', b's', b'e', b'_', byte, b'.', b't', b'x', b't',
        ]))
    };
    fs::write(name(0xff), "same\n").unwrap();
    let test = ["test", "-p", "common", "--venv", "media-service"];
    let gate = |mode: u8| {
        let remembered = run(xtask(root)
            .args(test)
            .env("DUB_MODE", OsStr::from_bytes(&[mode])));
        common::remove_tool_caches(root);
        let fresh = run(xtask(root)
            .args(test)
            .arg("--no-cache")
            .env("DUB_MODE", OsStr::from_bytes(&[mode])));
        assert_eq!(
            remembered.code, fresh.code,
            "remembered:\n{}\nfresh:\n{}",
            remembered.stdout, fresh.stdout
        );
        remembered.code
    };
    assert_eq!(gate(0xff), 0);
    assert_eq!(
        gate(0xfe),
        1,
        "a value differing in a byte that is not UTF-8"
    );
    assert_eq!(gate(0xff), 0);
    fs::rename(name(0xff), name(0xfe)).unwrap();
    assert_eq!(
        gate(0xff),
        1,
        "a name differing in a byte that is not UTF-8"
    );
}

/// A folder that pytest's `pythonpath` (or mypy's `mypy_path`) puts on the path is read by every
/// job of that tool, whichever package's folder holds it: an edit there is an input of common's
/// tests though no import of common names contracts.
#[test]
fn a_folder_a_path_setting_names_in_another_package_is_an_input() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    set_pytest_option(root, "pythonpath = [\"libs/contracts/testing\"]");
    let shared = "python/libs/contracts/testing/shared_values.py";
    write(
        root,
        shared,
        "\"\"\"Shared test values.\"\"\"\n\nVALUE = 1\n",
    );
    write(
        root,
        "python/libs/common/tests/unit/test_shared_values.py",
        "\"\"\"A value from the helpers on pytest's path.\"\"\"\n\nimport importlib\n\n\ndef test_shared_value() -> None:\n    assert importlib.import_module(\"shared_values\").VALUE == 1\n",
    );
    let test = ["test", "-p", "common", "--venv", "media-service"];
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);
    write(
        root,
        shared,
        "\"\"\"Shared test values.\"\"\"\n\nVALUE = 2\n",
    );
    let out = agrees_with_fresh(root, &test, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// `--confcutdir` above `python/` makes pytest load the `conftest.py` files up to there: the one
/// at the repository's root is then an input.
#[test]
fn a_conftest_above_python_that_confcutdir_reaches_is_an_input() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    let set = text.replace(
        "addopts = [\"--strict-markers\"",
        "addopts = [\"--confcutdir=../../..\", \"--strict-markers\"",
    );
    assert_ne!(set, text, "the seed's addopts");
    fs::write(&config, set).unwrap();
    let fixture = |verdict: &str| {
        format!(
            "\"\"\"Above python/.\"\"\"\n\nimport pytest\n\n\n@pytest.fixture(autouse=True)\ndef checked() -> None:\n    assert {verdict}\n"
        )
    };
    write(root, "conftest.py", &fixture("True"));
    let test = ["test", "-p", "common", "--venv", "media-service"];
    assert_eq!(agrees_with_fresh(root, &test, &[]).code, 0);
    write(root, "conftest.py", &fixture("False"));
    let out = agrees_with_fresh(root, &test, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // A confcutdir beside the tree (no parent of it): pytest loads every conftest.py above the
    // tests but its strict parents, the root's among them.
    fs::write(&config, &text).unwrap();
    let beside = TempDir::new("confcutdir beside");
    let addopts = format!("--confcutdir='{}'", beside.path().display());
    let env = [("PYTEST_ADDOPTS", addopts.as_str())];
    write(root, "conftest.py", &fixture("True"));
    assert_eq!(agrees_with_fresh(root, &test, &env).code, 0);
    write(root, "conftest.py", &fixture("False"));
    let out = agrees_with_fresh(root, &test, &env);
    assert_eq!(out.code, 1, "{}", out.stdout);
}
