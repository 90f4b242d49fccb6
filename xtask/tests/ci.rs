//! `cargo xtask ci`: the workflow (valid for actionlint and the workflow schema, an edit kept and
//! named), the plan (exactly the venvs a change concerns), each entry's command reproducing the
//! runner's verdict, and remembered passes that survive a fresh clone with the venv restored.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{
    Run, TempDir, committed_set_up_tree, committed_tree, git, run, shell_words, write, xtask,
};

const WORKFLOW: &str = ".github/workflows/python.yml";

/// The generated workflow passes actionlint and the workflow schema (`ci --check` runs both, as
/// installed from PyPI); an edit by hand is kept by `ci`, named by `--check` and by verify.
#[test]
fn the_workflow_is_valid_and_an_edit_is_kept_and_named() {
    let tmp = committed_tree("ci workflow");
    let root = tmp.path();
    run(xtask(root).arg("ci")).assert_ok();
    let out = run(xtask(root).args(["ci", "--check"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("actionlint: no finding"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("check-jsonschema (vendor.github-workflows): no finding"),
        "{}",
        out.stdout
    );
    let path = root.join(WORKFLOW);
    let written = fs::read_to_string(&path).unwrap();
    // A key a person put above the digest line is an edit too.
    let above = format!("concurrency: python-${{{{ github.ref }}}}\n{written}");
    fs::write(&path, &above).unwrap();
    run(xtask(root).arg("ci")).assert_ok();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        above,
        "an edit was overwritten"
    );
    let edited = written.replace("fail-fast: false", "fail-fast: true");
    fs::write(&path, &edited).unwrap();
    run(xtask(root).arg("ci")).assert_ok();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        edited,
        "an edit was overwritten"
    );
    let out = run(xtask(root).args(["ci", "--check"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("+       fail-fast: true"),
        "{}",
        out.stderr
    );
    let out = run(xtask(root).args(["verify", "--tree"]));
    out.assert_clean_error();
    assert!(
        out.stdout.contains("edited by hand"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // A mistake the validators see: the schema and actionlint, not our reading.
    let broken = edited.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest");
    fs::write(&path, broken).unwrap();
    let own: String = fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("# xtask-ci-digest: "))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&path, own).unwrap();
    let out = run(xtask(root).args(["ci", "--check"]));
    out.assert_clean_error();
    assert!(out.stderr.contains("actionlint finds"), "{}", out.stderr);
}

/// A tree with a third library that only media-service installs, and sts-service on a GPU runner.
fn graph_tree() -> TempDir {
    let tmp = committed_tree("ci plan");
    let root = tmp.path();
    write(
        root,
        "python/libs/audio/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"dubbing-audio\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\n\
         dependencies = []\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
    );
    write(
        root,
        "python/libs/audio/src/dubbing_audio/__init__.py",
        "RATE = 48_000\n",
    );
    write(root, "python/libs/audio/README.md", "# audio\n");
    let media = root.join("python/apps/media-service/pyproject.toml");
    let text = fs::read_to_string(&media).unwrap().replacen(
        "dependencies = [\n",
        "dependencies = [\n    \"dubbing-audio\",\n",
        1,
    );
    fs::write(&media, text).unwrap();
    let sts = root.join("python/apps/sts-service/pyproject.toml");
    let text = fs::read_to_string(&sts).unwrap();
    fs::write(
        &sts,
        format!("{text}\n[tool.xtask.ci]\nruns-on = [\"self-hosted\", \"gpu\"]\n"),
    )
    .unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "audio"]);
    tmp
}

/// The venvs of `ci plan --changed-since HEAD` after an edit, and the `empty` line of its
/// GitHub form.
fn planned(root: &Path) -> (Vec<String>, String, String) {
    let out = run(xtask(root).args(["ci", "plan", "--changed-since", "HEAD"]));
    out.assert_ok();
    let venvs: Vec<String> = out
        .stdout
        .split("\"venv\":\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let github = run(xtask(root).args([
        "ci",
        "plan",
        "--changed-since",
        "HEAD",
        "--format",
        "github",
    ]));
    github.assert_ok();
    let empty = github
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("empty="))
        .unwrap()
        .to_owned();
    (venvs, empty, out.stdout)
}

/// An edit, the plan, and the edit undone.
fn plan_after(root: &Path, rel: &str, text: &str) -> (Vec<String>, String, String) {
    let path = root.join(rel);
    let before = fs::read(&path).ok();
    write(root, rel, text);
    let plan = planned(root);
    match before {
        Some(bytes) => fs::write(&path, bytes).unwrap(),
        None => fs::remove_file(&path).unwrap(),
    }
    plan
}

/// The plan follows the graph: a library's change plans exactly the venvs that install it, a
/// service's only its own, python/pyproject.toml every venv, a change outside python/ none.
#[test]
fn the_plan_lists_exactly_the_venvs_a_change_concerns() {
    let tmp = graph_tree();
    let root = tmp.path();
    let both = vec!["media-service".to_owned(), "sts-service".to_owned()];
    let (venvs, empty, _) = planned(root);
    assert!(venvs.is_empty() && empty == "true", "{venvs:?}");
    let (venvs, _, json) = plan_after(
        root,
        "python/libs/audio/src/dubbing_audio/extra.py",
        "X = 1\n",
    );
    assert_eq!(venvs, ["media-service"], "{json}");
    assert!(
        json.contains("\"packages\":[\"audio\",\"media-service\"]"),
        "{json}"
    );
    let (venvs, ..) = plan_after(
        root,
        "python/libs/common/src/dubbing_common/extra.py",
        "X = 1\n",
    );
    assert_eq!(venvs, both);
    let (venvs, _, json) = plan_after(
        root,
        "python/apps/sts-service/src/sts_service/extra.py",
        "X = 1\n",
    );
    assert_eq!(venvs, ["sts-service"]);
    assert!(
        json.contains("\"runs-on\":[\"self-hosted\",\"gpu\"]"),
        "{json}"
    );
    assert!(
        json.contains("\"command\":\"cargo xtask verify --venv sts-service\""),
        "{json}"
    );
    let config = fs::read_to_string(root.join("python/pyproject.toml")).unwrap();
    let (venvs, ..) = plan_after(
        root,
        "python/pyproject.toml",
        &format!("{config}\n# edited\n"),
    );
    assert_eq!(venvs, both);
    let (venvs, empty, json) = plan_after(root, "README.md", "# the repository\n");
    assert!(venvs.is_empty() && empty == "true", "{json}");
    assert_eq!(json.trim(), "{\"include\":[]}");
}

/// `cargo xtask ARGS...` of an entry's command, run on `root`.
fn run_entry(root: &Path, command: &str) -> Run {
    let words = shell_words(command);
    assert_eq!(&words[..2], ["cargo", "xtask"], "{command}");
    run(xtask(root).args(&words[2..]))
}

/// Each entry's command, run here as its runner runs it, gives the verdict the plan expects:
/// a failing test in sts-service plans sts-service alone, whose command fails; media-service's
/// command and the tree's checks pass.
#[test]
fn each_entry_reproduces_the_runners_verdict() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    run(xtask(root).arg("setup")).assert_ok();
    // The locks the first setup made are committed, as in a team's repository.
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "locks"]);
    write(
        root,
        "python/apps/sts-service/tests/unit/test_broken.py",
        "def test_broken() -> None:\n    assert 1 + 1 == 3\n",
    );
    let out = run(xtask(root).args(["ci", "plan", "--changed-since", "HEAD"]));
    out.assert_ok();
    let commands: Vec<String> = out
        .stdout
        .split("\"command\":\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["cargo xtask verify --venv sts-service"]);
    let sts = run_entry(root, &commands[0]);
    assert_eq!(sts.code, 1, "{}", sts.stdout);
    assert!(sts.stdout.contains("test_broken"), "{}", sts.stdout);
    assert!(
        !sts.stdout.contains("(media-service venv)"),
        "{}",
        sts.stdout
    );
    run_entry(root, "cargo xtask verify --venv media-service").assert_ok();
    run(xtask(root).args(["verify", "--tree"])).assert_ok();
}

/// What a hosted runner's environment holds that differs on every run.
fn runner_env<'a>(cmd: &'a mut Command, run_id: &str, temp: &Path) -> &'a mut Command {
    cmd.env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", run_id)
        .env("GITHUB_RUN_NUMBER", run_id)
        .env("GITHUB_SHA", format!("{run_id:0>40}"))
        .env("GITHUB_OUTPUT", temp.join(format!("output-{run_id}")))
        .env("GITHUB_ENV", temp.join(format!("env-{run_id}")))
        .env("RUNNER_TEMP", temp)
        .env("RUNNER_NAME", format!("GitHub Actions {run_id}"))
        .env("ACTIONS_RUNTIME_TOKEN", format!("token-{run_id}"))
        .env("INVOCATION_ID", run_id)
}

/// The tool jobs a verify output marks cached, and those it ran.
fn cached_and_ran(out: &Run) -> (usize, Vec<String>) {
    let cached = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("cached "))
        .count();
    let ran = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok ") && (l.contains("mypy") || l.contains("pytest")))
        .map(str::to_owned)
        .collect();
    (cached, ran)
}

/// A fresh clone at the same path with the venv folder restored from an archive (as the
/// workflow's cache does; GNU tar's default format keeps times to the second only), in another
/// run's runner environment: every tool job is remembered
/// and the venv is not set up again; after an edit, that package's jobs run again.
#[test]
fn a_restored_venv_keeps_its_passes_in_a_fresh_clone() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    // As in a team's repository: the locks are committed.
    run(xtask(root).args(["lock"])).assert_ok();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "locks"]);
    let temp = TempDir::new("runner temp");
    let first = run(runner_env(
        xtask(root).args(["verify", "--venv", "media-service"]),
        "101",
        temp.path(),
    ));
    first.assert_ok();
    let archive = temp.path().join("venv.tar");
    // A venv's files are hard links into shared folders (the tools folder's seeded job caches,
    // uv's cache), so another test linking the same file meanwhile moves its ctime, not its
    // content: GNU tar then says "file changed as we read it" and exits 1 (seen in CI, on a
    // seeded mypy cache file). That alone is no failure here.
    let tar = |args: &[&str]| {
        let out = Command::new("tar").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let only_moved_ctime = out.status.code() == Some(1)
            && stderr
                .lines()
                .all(|l| l.contains("file changed as we read it"));
        assert!(
            out.status.success() || only_moved_ctime,
            "tar {args:?}: {stderr}"
        );
    };
    let service = root.join("python/apps/media-service");
    tar(&[
        "-cf",
        archive.to_str().unwrap(),
        "-C",
        service.to_str().unwrap(),
        ".venv",
    ]);
    let origin = TempDir::new("origin");
    let bare = origin.path().join("repo.git");
    git(
        root,
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
    );
    fs::remove_dir_all(root).unwrap();
    git(
        origin.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            root.to_str().unwrap(),
        ],
    );
    tar(&[
        "-xf",
        archive.to_str().unwrap(),
        "-C",
        service.to_str().unwrap(),
    ]);
    let again = run(runner_env(
        xtask(root).args(["verify", "--venv", "media-service"]),
        "102",
        temp.path(),
    ));
    again.assert_ok();
    let (cached, ran) = cached_and_ran(&again);
    assert!(ran.is_empty() && cached >= 6, "{}", again.stdout);
    assert!(
        again.stdout.contains("media-service: up to date"),
        "{}",
        again.stdout
    );
    let module = service.join("src/media_service/pipelines/__init__.py");
    let text = fs::read_to_string(&module).unwrap();
    fs::write(&module, format!("{text}\nEXTRA = 1\n")).unwrap();
    let edited = run(runner_env(
        xtask(root).args(["verify", "--venv", "media-service"]),
        "103",
        temp.path(),
    ));
    edited.assert_ok();
    let (_, ran) = cached_and_ran(&edited);
    assert!(
        ran.iter().any(|l| l.contains("pytest media-service"))
            && !ran.iter().any(|l| l.contains("pytest common")),
        "{}",
        edited.stdout
    );
}
