//! `cargo xtask scaffold`: creates the seed tree under `<root>/python/` from the templates. Plans
//! everything first and writes only when the whole plan is sound; never touches an existing file.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::flags::Mode;
use crate::fsutil::{self, Entry};
use crate::project::{self, PYTHON_DIR};
use crate::workspace::templates::{self, Template};

/// What scaffold does with one path.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    CreateDir(PathBuf),
    CreateFile(PathBuf, String),
    /// An existing file, left alone; `same` tells whether it equals the template.
    Keep {
        path: PathBuf,
        same: bool,
    },
}

/// The whole plan for a root, or every reason it cannot be carried out.
pub fn plan(root: &Path) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    let mut checked_dirs: HashSet<PathBuf> = HashSet::new();
    let mut created_dirs: HashSet<PathBuf> = HashSet::new();
    let python = root.join(PYTHON_DIR);
    'templates: for Template { path, content } in templates::all() {
        let file = python.join(&path);
        // Every folder from the root down, so a misplaced file or a symlink out of the tree is
        // caught at the level where it is, before anything is written.
        let mut dirs: Vec<&Path> = file
            .ancestors()
            .skip(1)
            .take_while(|d| *d != root)
            .collect();
        dirs.reverse();
        let mut parent_missing = false;
        for dir in dirs {
            if parent_missing || created_dirs.contains(dir) {
                parent_missing = true;
                if created_dirs.insert(dir.to_path_buf()) {
                    steps.push(Step::CreateDir(dir.to_path_buf()));
                }
                continue;
            }
            if checked_dirs.contains(dir) {
                continue;
            }
            match fsutil::inspect(root, dir) {
                Ok(Entry::Dir) => {
                    checked_dirs.insert(dir.to_path_buf());
                }
                Ok(Entry::Missing) => {
                    parent_missing = true;
                    created_dirs.insert(dir.to_path_buf());
                    steps.push(Step::CreateDir(dir.to_path_buf()));
                }
                Ok(Entry::File) => {
                    problems.push(format!(
                        "{} is a file where the seed tree has a folder: move it away, then run scaffold again",
                        fsutil::display_rel(root, dir)
                    ));
                    continue 'templates;
                }
                Err(e) => {
                    problems.push(format!("{e:#}"));
                    continue 'templates;
                }
            }
        }
        if parent_missing {
            steps.push(Step::CreateFile(file, content));
            continue;
        }
        match fsutil::inspect(root, &file) {
            Ok(Entry::Missing) => steps.push(Step::CreateFile(file, content)),
            Ok(Entry::File) => {
                let existing = fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                steps.push(Step::Keep { path: file, same: existing == content.as_bytes() });
            }
            Ok(Entry::Dir) => problems.push(format!(
                "{} is a folder where the seed tree has a file: move it away, then run scaffold again",
                fsutil::display_rel(root, &file)
            )),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        bail!(
            "nothing was written, because:\n  - {}",
            problems.join("\n  - ")
        );
    }
    Ok(steps)
}

pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let started = Instant::now();
    let steps = plan(root)
        .with_context(|| format!("cannot scaffold {}", root.join(PYTHON_DIR).display()))?;
    let rel = |p: &Path| fsutil::display_rel(root, p);
    let (mut created, mut kept, mut differ) = (0, 0, 0);
    let mut missing = Vec::new();
    for step in &steps {
        match (step, mode) {
            (Step::CreateDir(dir), Mode::Write) => {
                fs::create_dir(dir)
                    .with_context(|| format!("cannot create the folder {}", dir.display()))?;
                println!("created {}/", rel(dir));
            }
            (Step::CreateFile(file, content), Mode::Write) => {
                fsutil::write_atomic(file, content.as_bytes())?;
                println!("created {}", rel(file));
                created += 1;
            }
            (Step::CreateDir(path) | Step::CreateFile(path, _), Mode::DryRun) => {
                let is_dir = matches!(step, Step::CreateDir(_));
                println!(
                    "would create {}{}",
                    rel(path),
                    if is_dir { "/" } else { "" }
                );
                created += usize::from(!is_dir);
            }
            (Step::CreateFile(path, _), Mode::Check) => missing.push(rel(path)),
            (Step::CreateDir(_), Mode::Check) => {}
            (Step::Keep { path, same }, _) => {
                kept += 1;
                if !same {
                    differ += 1;
                }
                if mode != Mode::Check {
                    let how = if *same {
                        "same as the template"
                    } else {
                        "differs from the template"
                    };
                    println!("kept {} ({how})", rel(path));
                }
            }
        }
    }
    if mode == Mode::Check {
        if !missing.is_empty() {
            for path in &missing {
                println!("missing {path}");
            }
            bail!(
                "{} file(s) of the seed tree are missing under {}; create them with: {}",
                missing.len(),
                root.join(PYTHON_DIR).display(),
                project::xtask_command(root, &["scaffold"])
            );
        }
        println!(
            "scaffold: the tree is complete ({kept} files, {differ} edited since the template)"
        );
        return Ok(());
    }
    let verb = if mode == Mode::DryRun {
        "would create"
    } else {
        "created"
    };
    println!(
        "scaffold: {created} {verb}, {kept} kept ({differ} differ from the template) in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}
