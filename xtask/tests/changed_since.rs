//! `--changed-since REF` on real git repositories: the packages with changed files (edited, added,
//! deleted, moved) and their dependents; every package for a shared file under `python/`; paths
//! relative to the root wherever in the repository it is.

use crate::common;

use std::fs;
use std::path::Path;

use common::{TempDir, committed_tree, git, run, xtask};

/// Writes `content` to `rel` under the root, creating its folders.
fn put(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
}

/// The `selected:` line of `lint --changed-since REV`. The selection is printed before the venvs
/// are looked at, so no setup is needed: with `--no-setup` and no venv, lint then stops, which is
/// fine here as long as the selection itself did not fail.
#[track_caller]
fn selected(root: &Path, rev: &str) -> String {
    let out = run(xtask(root).args(["lint", "--changed-since", rev, "--no-setup"]));
    assert!(
        out.code == 0 || !out.stderr.contains("--changed-since"),
        "the selection failed:\n{}",
        out.stderr
    );
    out.stdout
        .lines()
        .find(|l| l.starts_with("selected:"))
        .unwrap_or_else(|| panic!("no selected: line\n{}\n{}", out.stdout, out.stderr))
        .to_owned()
}

#[test]
fn changed_since_selects_changed_packages_and_their_dependents() {
    let tmp = committed_tree("changed");
    let root = tmp.path();
    assert_eq!(
        selected(root, "HEAD"),
        "selected: no package (nothing under python/apps or python/libs changed)"
    );

    put(
        root,
        "python/apps/sts-service/src/sts_service/asr/engine.py",
        "\"\"\"Engine.\"\"\"\n",
    );
    assert_eq!(
        selected(root, "HEAD"),
        "selected: sts-service (python/apps/sts-service/src/sts_service/asr/engine.py changed)"
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "asr"]);

    let rel = "python/libs/contracts/src/dubbing_contracts/__init__.py";
    let text = fs::read_to_string(root.join(rel)).unwrap();
    fs::write(root.join(rel), format!("{text}\nSCHEMA_VERSION = 1\n")).unwrap();
    assert_eq!(
        selected(root, "HEAD"),
        format!(
            "selected: media-service (depends on contracts), sts-service (depends on contracts), contracts ({rel} changed)"
        )
    );
    git(root, &["checkout", "--", rel]);

    let text = fs::read_to_string(root.join("python/pyproject.toml")).unwrap();
    fs::write(
        root.join("python/pyproject.toml"),
        format!("{text}\n# a tooling change\n"),
    )
    .unwrap();
    let line = selected(root, "HEAD");
    // One reason for every package: said once.
    assert_eq!(
        line,
        "selected: all 4 packages (python/pyproject.toml changed)"
    );
    git(root, &["checkout", "--", "python/pyproject.toml"]);

    // Any file under python/ in no package may be read by every tool job (pytest's conftest.py,
    // ruff's configuration, the e2e tests): all packages, naming it.
    for shared in [
        "python/conftest.py",
        "python/ruff.toml",
        "python/tests/e2e/test_more.py",
    ] {
        put(root, shared, "\"\"\"Shared.\"\"\"\n");
        let line = selected(root, "HEAD");
        assert_eq!(line, format!("selected: all 4 packages ({shared} changed)"));
        fs::remove_file(root.join(shared)).unwrap();
    }
    // Outside python/, nothing.
    put(root, "docs/notes.md", "notes\n");
    assert_eq!(
        selected(root, "HEAD"),
        "selected: no package (nothing under python/apps or python/libs changed)"
    );
    // But hadolint's configuration at the top: every service's deploy job reads it when no
    // nearer one is there.
    put(root, ".hadolint.yaml", "failure-threshold: warning\n");
    assert_eq!(
        selected(root, "HEAD"),
        "selected: media-service (.hadolint.yaml changed), sts-service (.hadolint.yaml changed)"
    );
    fs::remove_file(root.join(".hadolint.yaml")).unwrap();

    let out = run(xtask(root).args(["lint", "--changed-since", "no-such-revision"]));
    out.assert_clean_error();
    // git's words (the cause) first, then what to name instead and how to list it.
    assert!(
        out.stderr
            .starts_with("error: fatal: bad revision 'no-such-revision'")
            && out
                .stderr
                .contains("is `no-such-revision` a commit, branch or tag")
            && out.stderr.contains("branch --all"),
        "{}",
        out.stderr
    );
    let out = run(xtask(root).args(["lint", "--venv", "nosuch"]));
    out.assert_clean_error();
    assert!(
        out.stderr.starts_with(
            "error: no package `nosuch`; the venvs are those of: media-service, sts-service \
             (`--venv nosuch`)"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn changed_since_from_a_root_below_the_top_counts_moves_and_deletions() {
    let top = TempDir::new("changed top");
    let root = top.path().join("repo sub");
    fs::create_dir_all(&root).unwrap();
    run(xtask(&root).arg("scaffold")).assert_ok();
    fs::copy(
        common::repo_root().join(".gitignore"),
        root.join(".gitignore"),
    )
    .unwrap();
    let moved_from = "python/libs/common/src/dubbing_common/moved.py";
    let moved_to = "python/libs/contracts/src/dubbing_contracts/moved.py";
    put(&root, moved_from, "\"\"\"To be moved.\"\"\"\n");
    put(top.path(), "README.md", "the top of the repository\n");
    git(top.path(), &["init", "-q"]);
    git(top.path(), &["add", "."]);
    git(top.path(), &["commit", "-q", "-m", "seed"]);

    // Paths are relative to the root, not to the top of the repository.
    let rel = "python/apps/sts-service/src/sts_service/asr/engine.py";
    put(&root, rel, "\"\"\"Engine.\"\"\"\n");
    assert_eq!(
        selected(&root, "HEAD"),
        format!("selected: sts-service ({rel} changed)")
    );
    fs::remove_file(root.join(rel)).unwrap();

    // A change above the root is not under its python/.
    put(top.path(), "README.md", "changed\n");
    assert_eq!(
        selected(&root, "HEAD"),
        "selected: no package (nothing under python/apps or python/libs changed)"
    );
    // Unless the gates read it: a .gitignore at the top (ruff skips what it names).
    let ignore = top.path().join(".gitignore");
    fs::write(&ignore, "scratch.py\n").unwrap();
    git(top.path(), &["add", ".gitignore"]);
    git(top.path(), &["commit", "-q", "-m", "ignore"]);
    fs::write(&ignore, "other.py\n").unwrap();
    let line = selected(&root, "HEAD");
    assert!(
        line.contains("selected: all")
            && line.contains("(.gitignore changed, which the gates read)"),
        "{line}"
    );
    git(top.path(), &["checkout", "-q", "--", ".gitignore"]);

    // A module moved from one library to another: both, and what depends on either.
    git(
        top.path(),
        &[
            "mv",
            &format!("repo sub/{moved_from}"),
            &format!("repo sub/{moved_to}"),
        ],
    );
    let line = selected(&root, "HEAD");
    assert!(
        line.contains(&format!("common ({moved_from} changed)"))
            && line.contains(&format!("contracts ({moved_to} changed)")),
        "{line}"
    );
    assert!(
        line.contains("media-service (depends on ") && line.contains("sts-service (depends on "),
        "{line}"
    );
    git(top.path(), &["commit", "-q", "-m", "move"]);
    assert_eq!(
        selected(&root, "HEAD~1"),
        line,
        "a committed move selects the same"
    );

    // A deleted file selects its package.
    let deleted = "python/apps/media-service/README.md";
    fs::remove_file(root.join(deleted)).unwrap();
    assert_eq!(
        selected(&root, "HEAD"),
        format!("selected: media-service ({deleted} changed)")
    );
}

/// A package whose jobs load a changed one without depending on it is selected too: its keys
/// cover the change (a pytest plugin registered in the same venv, its import name in a string),
/// so a narrower selection would leave out a verdict the change can move. No venv is needed:
/// the plugin is read from the pyproject that declares it.
#[test]
fn changed_since_selects_packages_that_load_a_changed_one() {
    let tmp = committed_tree("readers selected");
    let root = tmp.path();
    let plugin = "python/libs/contracts/src/dubbing_contracts/pytest_plugin.py";
    put(root, plugin, "\"\"\"Fixtures.\"\"\"\n");
    let pyproject = root.join("python/libs/contracts/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    let with_plugin = text.replacen(
        "[tool.setuptools",
        "[project.entry-points.pytest11]\ndubbing_contracts = \"dubbing_contracts.pytest_plugin\"\n\n[tool.setuptools",
        1,
    );
    fs::write(&pyproject, with_plugin).unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "plugin"]);
    put(root, plugin, "\"\"\"Fixtures, edited.\"\"\"\n");
    let line = selected(root, "HEAD");
    assert!(line.contains("common (loads contracts"), "{line}");

    // Without the plugin, a string naming the import name is what reaches it.
    fs::write(&pyproject, &text).unwrap();
    put(
        root,
        "python/libs/common/tests/unit/test_reach.py",
        "import importlib\n\n\ndef test_reach() -> None:\n    assert importlib.import_module(\"dubbing_contracts\")\n",
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "string"]);
    put(root, plugin, "\"\"\"Fixtures, edited again.\"\"\"\n");
    let line = selected(root, "HEAD");
    assert!(line.contains("common (loads contracts"), "{line}");
    // Neither: the change concerns contracts and the services that depend on it.
    fs::remove_file(root.join("python/libs/common/tests/unit/test_reach.py")).unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "neither"]);
    put(root, plugin, "\"\"\"Fixtures, edited once more.\"\"\"\n");
    let line = selected(root, "HEAD");
    assert!(!line.contains("common"), "{line}");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "edited"]);

    // A symlink in common's tests that leads to a file of contracts: common's jobs read it by
    // content, so a change to it concerns common, which depends on nothing there.
    #[cfg(unix)]
    {
        let data = "python/libs/contracts/tests/data/greeting.txt";
        put(root, data, "hello\n");
        std::os::unix::fs::symlink(
            "../../contracts/tests/data/greeting.txt",
            root.join("python/libs/common/tests/greeting.txt"),
        )
        .unwrap();
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "a link"]);
        put(root, data, "hello, world\n");
        let line = selected(root, "HEAD");
        assert!(
            line.contains("common (python/libs/common/tests/greeting.txt leads into contracts)"),
            "{line}"
        );
        git(root, &["checkout", "-q", "--", data]);
        // The link's target moved away: the link now leads nowhere, and common's jobs fail.
        let moved = "python/libs/contracts/tests/data/moved.txt";
        fs::rename(root.join(data), root.join(moved)).unwrap();
        let line = selected(root, "HEAD");
        assert!(
            line.contains("common (python/libs/common/tests/greeting.txt leads into contracts)"),
            "{line}"
        );
        fs::rename(root.join(moved), root.join(data)).unwrap();
        // The same through a linked folder: the link's path, read as written, stays in common;
        // the system's leads into contracts, where the change deleted the file.
        put(
            root,
            "python/libs/contracts/tests/data/other.txt",
            "other\n",
        );
        std::os::unix::fs::symlink(
            "../contracts/tests/data",
            root.join("python/libs/common/peer"),
        )
        .unwrap();
        fs::remove_file(root.join("python/libs/common/tests/greeting.txt")).unwrap();
        std::os::unix::fs::symlink(
            "../peer/greeting.txt",
            root.join("python/libs/common/tests/greeting.txt"),
        )
        .unwrap();
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "links"]);
        fs::remove_file(root.join(data)).unwrap();
        let line = selected(root, "HEAD");
        assert!(
            line.contains("common (python/libs/common/") && line.contains(" leads into contracts)"),
            "{line}"
        );
        git(root, &["checkout", "-q", "--", data]);
        // A library that depends on common alone: selected with common, for the link.
        let beta = fs::read_to_string(root.join("python/libs/common/pyproject.toml"))
            .unwrap()
            .replacen("name = \"dubbing-common\"", "name = \"beta\"", 1)
            .replacen(
                "dependencies = []",
                "dependencies = [\"dubbing-common\"]",
                1,
            );
        assert!(beta.contains("[\"dubbing-common\"]"), "{beta}");
        put(root, "python/libs/beta/pyproject.toml", &beta);
        put(
            root,
            "python/libs/beta/src/beta/__init__.py",
            "\"\"\"Beta.\"\"\"\n",
        );
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "beta"]);
        put(root, data, "hello, world\n");
        let line = selected(root, "HEAD");
        assert!(line.contains("beta (depends on common)"), "{line}");
        git(root, &["checkout", "-q", "--", data]);
        fs::remove_dir_all(root.join("python/libs/beta")).unwrap();
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "no beta"]);
    }

    // A library that takes another distribution name: the services that installed it by the
    // old one (in no graph of now) are concerned too; so is every package.
    let renamed = text.replacen(
        "name = \"dubbing-contracts\"",
        "name = \"dubbing-contracts2\"",
        1,
    );
    assert_ne!(renamed, text);
    fs::write(&pyproject, renamed).unwrap();
    let line = selected(root, "HEAD");
    assert!(
        line.contains("renames the distribution dubbing-contracts (at HEAD) to dubbing-contracts2")
            && line.contains("media-service"),
        "{line}"
    );
}

/// A module name that comes or goes in a package's folder or its `src/` (ruff's `src` roots)
/// can make an import of any other package first-party: every package is selected. A new file
/// in a folder that was there already is no new name.
#[test]
fn changed_since_selects_all_when_a_module_name_comes_or_goes() {
    let tmp = committed_tree("module names");
    let root = tmp.path();
    // common's tests import pluggy, a third-party module, and pluggy._hooks.
    let plug = "python/libs/common/tests/unit/test_plug.py";
    put(
        root,
        plug,
        "\"\"\"Plug.\"\"\"\n\nimport pluggy\nimport pluggy._hooks\n",
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "a test importing pluggy"]);
    // A module path that comes where nothing else names it: contracts alone.
    put(
        root,
        "python/libs/contracts/tests/unit/test_more.py",
        "\"\"\"More.\"\"\"\n",
    );
    let line = selected(root, "HEAD");
    assert!(!line.contains("common"), "{line}");
    put(root, "python/libs/contracts/pluggy/notes.txt", "notes\n");
    let line = selected(root, "HEAD");
    assert!(
        line.contains("common (a module name in python/libs/contracts came or went"),
        "{line}"
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "a folder"]);
    assert!(!selected(root, "HEAD").contains("common"));
    // A deeper module path counts as well: ruff matches an import's whole path.
    put(root, "python/libs/contracts/pluggy/_hooks.py", "");
    let line = selected(root, "HEAD");
    assert!(
        line.contains(&format!(
            "common (a module name in python/libs/contracts came or went (pluggy._hooks), which {plug} names"
        )),
        "{line}"
    );
    fs::remove_file(root.join("python/libs/contracts/pluggy/_hooks.py")).unwrap();
    fs::remove_dir_all(root.join("python/libs/contracts/pluggy")).unwrap();
    assert!(selected(root, "HEAD").contains("common (a module name"));
    git(root, &["checkout", "-q", "--", "."]);

    // A root that ruff's `src` setting adds (`libs/*/extra`) is watched the same way.
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    let src = "src = [\"apps/*/src\", \"libs/*/src\", \"apps/*\", \"libs/*\"";
    assert!(text.contains(src), "{text}");
    fs::write(
        &config,
        text.replace(src, &format!("{src}, \"libs/*/extra\"")),
    )
    .unwrap();
    put(root, "python/libs/contracts/extra/keep.txt", "kept\n");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "another src root"]);
    put(
        root,
        "python/libs/contracts/extra/pluggy/notes.txt",
        "notes\n",
    );
    let line = selected(root, "HEAD");
    assert!(
        line.contains("common (a module name in python/libs/contracts/extra came or went"),
        "{line}"
    );
    fs::remove_dir_all(root.join("python/libs/contracts/extra/pluggy")).unwrap();

    // ruff checks notebooks too: one that imports a module whose path comes counts as well.
    let notebook = "python/libs/common/notebooks/demo.ipynb";
    put(
        root,
        notebook,
        r#"{"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["import zz_vendored\n", "import build\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#,
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "a notebook"]);
    assert!(!selected(root, "HEAD").contains("common"));
    put(
        root,
        "python/libs/contracts/zz_vendored/notes.txt",
        "notes\n",
    );
    let line = selected(root, "HEAD");
    assert!(
        line.contains(&format!(
            "common (a module name in python/libs/contracts came or went (zz_vendored), which {notebook} names"
        )),
        "{line}"
    );
    fs::remove_dir_all(root.join("python/libs/contracts/zz_vendored")).unwrap();
    // A file ruff checks only because the configuration includes it (`*.pyw`) counts too; a
    // data file that nothing includes is not read.
    put(
        root,
        "python/libs/common/scripts/tool.pyw",
        "import zz_other\n",
    );
    put(root, "python/libs/common/data/notes.txt", "zz_data\n");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "a script and a data file"]);
    put(root, "python/libs/contracts/zz_data/notes.txt", "notes\n");
    assert!(!selected(root, "HEAD").contains("common"));
    fs::remove_dir_all(root.join("python/libs/contracts/zz_data")).unwrap();
    put(root, "python/libs/contracts/zz_other/notes.txt", "notes\n");
    assert!(!selected(root, "HEAD").contains("common"));
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "[tool.ruff]\n",
            "[tool.ruff]\nextend-include = [\"*.pyw\"]\n",
        ),
    )
    .unwrap();
    git(root, &["add", "python/pyproject.toml"]);
    git(root, &["commit", "-q", "-m", "scripts are checked"]);
    let line = selected(root, "HEAD");
    assert!(
        line.contains("common (a module name in python/libs/contracts came or went (zz_other)"),
        "{line}"
    );
    fs::remove_dir_all(root.join("python/libs/contracts/zz_other")).unwrap();
    // A build folder that a build left in a package is a module path to ruff like any other.
    put(root, "python/libs/contracts/build/lib/x.py", "");
    let line = selected(root, "HEAD");
    assert!(
        line.starts_with(
            "selected: all 4 packages (a module name in python/libs/contracts came or went (build)"
        ),
        "{line}"
    );
    fs::remove_dir_all(root.join("python/libs/contracts/build")).unwrap();

    // An empty folder inside a package (a namespace package to Python) is a change git cannot
    // show: its package is selected.
    fs::create_dir(root.join("python/libs/common/src/dubbing_common/plugins")).unwrap();
    let line = selected(root, "HEAD");
    assert!(
        line.contains("common (python/libs/common/src/dubbing_common/plugins/ changed)"),
        "{line}"
    );
}
