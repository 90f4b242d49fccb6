//! Faults leave nothing stuck: a venv is moved aside before it is deleted, and what an
//! interrupted removal left (the moved-aside folder, or a venv an older xtask half deleted in
//! place) is finished by the next setup or clean; a folder a person made is never taken for one.

use crate::common;

use std::fs;
use std::path::Path;

use common::{
    TempDir, committed_tree, python_in, run, scaffolded, set_up_tree, snapshot, write, xtask,
};

const MEDIA: &str = "python/apps/media-service";

/// The names in a folder that a removal moved aside.
fn removal_leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".xtask-trash-"))
        .collect()
}

#[test]
fn an_interrupted_removal_is_finished_by_the_next_setup() {
    let tmp = set_up_tree();
    let root = tmp.path();
    let service = root.join(MEDIA);
    let venv = service.join(".venv");
    run(xtask(root).arg("setup-stream")).assert_ok();

    // `setup --force` moves the old venv aside, deletes it, and leaves nothing beside the new one.
    let out = run(xtask(root).args(["setup-stream", "--force"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("recreating the venv: --force"),
        "{}",
        out.stdout
    );
    assert!(removal_leftovers(&service).is_empty());

    // Interrupted after the move, halfway through the deletion: the next setup finishes it.
    let aside = service.join(".venv.xtask-trash-4242-0");
    fs::rename(&venv, &aside).unwrap();
    fs::remove_file(aside.join("pyvenv.cfg")).unwrap();
    fs::remove_dir_all(aside.join(if cfg!(windows) { "Scripts" } else { "bin" })).unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout.contains(
            "media-service: deleted python/apps/media-service/.venv.xtask-trash-4242-0, left by an \
             interrupted removal of the venv"
        ),
        "{}",
        out.stdout
    );
    assert!(!aside.exists() && removal_leftovers(&service).is_empty());
    assert!(python_in(root, "media-service", "import dubbing_common").0);

    // A venv an older xtask half deleted in place (no pyvenv.cfg, its stamp still there): doctor
    // says so, setup finishes the removal and makes a new venv, instead of refusing.
    fs::remove_file(venv.join("pyvenv.cfg")).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("what an interrupted removal left of the venv"),
        "{}",
        doctor.stdout
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("deleted python/apps/media-service/.venv, left by an interrupted removal")
            && out.stdout.contains("venv created at"),
        "{}",
        out.stdout
    );
    assert!(venv.join("pyvenv.cfg").is_file());
    assert!(python_in(root, "media-service", "import dubbing_common").0);

    // A `.venv` a person made (files of their own, no pyvenv.cfg): refused, and left byte for byte.
    fs::remove_dir_all(&venv).unwrap();
    write(root, &format!("{MEDIA}/.venv/notes.txt"), "mine");
    write(root, &format!("{MEDIA}/.venv/lib/data.csv"), "1,2");
    let before = snapshot(&service);
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("it is not ours to replace"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&service), before);
}

/// `clean` finishes what interrupted removals left, whatever git says of it (git does not ignore
/// the moved-aside name), and keeps a person's `.venv`; `--dry-run` only says so.
#[test]
fn clean_finishes_interrupted_removals() {
    let with_git = committed_tree("clean leftovers");
    let without_git = scaffolded("clean leftovers no git");
    let tools = TempDir::new("clean leftovers tools");
    for root in [with_git.path(), without_git.path()] {
        write(
            root,
            &format!("{MEDIA}/.venv.xtask-trash-77-0/lib/x.py"),
            "",
        );
        write(root, "python/apps/sts-service/.venv/xtask-stamp.toml", "");
        write(root, "python/apps/sts-service/.venv/lib/x.py", "");
        write(root, "python/libs/common/.venv/notes.txt", "mine");
        // A person's folder named like a leftover, but not a venv's: theirs.
        let snapshots = "python/apps/media-service/tests/fixtures/snapshots.xtask-trash-2024-05";
        write(root, &format!("{snapshots}/frame-001.txt"), "x\n");
        let before = snapshot(root);
        let dry = run(xtask(root)
            .args(["clean", "--dry-run"])
            .env("XTASK_TOOLS_DIR", tools.path()));
        dry.assert_ok();
        assert_eq!(snapshot(root), before, "--dry-run changed the tree");
        for line in [
            "would remove python/apps/media-service/.venv.xtask-trash-77-0",
            "would remove python/apps/sts-service/.venv",
        ] {
            assert!(dry.stdout.contains(line), "{line:?} in:\n{}", dry.stdout);
        }
        let out = run(xtask(root)
            .arg("clean")
            .env("XTASK_TOOLS_DIR", tools.path()));
        out.assert_ok();
        assert!(!root.join(MEDIA).join(".venv.xtask-trash-77-0").exists());
        assert!(
            root.join(snapshots).join("frame-001.txt").is_file(),
            "{}",
            out.stdout
        );
        assert!(!root.join("python/apps/sts-service/.venv").exists());
        assert!(removal_leftovers(&root.join("python/apps/sts-service")).is_empty());
        assert!(
            root.join("python/libs/common/.venv/notes.txt").is_file(),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout
                .contains("kept python/libs/common/.venv: not a virtualenv"),
            "{}",
            out.stdout
        );
    }
}
