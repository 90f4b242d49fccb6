//! Files that the tools read because an option or a variable names them, wherever they are: an
//! input of every job ([`crate::engine::outside`] counts those outside `python/`; the walk of
//! `python/` counts the others).
//!
//! - **pytest's `@file` arguments** (argparse's `fromfile_prefix_chars`, pytest >= 8.2): in the
//!   `addopts` of `python/pyproject.toml` (the configuration every pytest job passes with `-c`)
//!   and in `PYTEST_ADDOPTS`, followed into the files they name.
//! - **`COVERAGE_RCFILE`**: the configuration coverage reads instead of the pyproject's.
//! - **mypy's `mypy_path`** in `python/pyproject.toml`: folders mypy reads modules and stubs
//!   from, counted by the content of every file in them.
//! - **pytest's `--confcutdir`**: the `conftest.py` of every folder above `python/` that is no
//!   strict parent of it, which pytest then loads (by default it stops at `python/`).
//!
//! A relative path is relative to the tool's working folder: every job runs in a package's
//! folder, so each is resolved from every folder that holds a `pyproject.toml` under `python/`
//! (a union: it only widens what is counted). Not covered: a file that a test opens by path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::engine::outside::{expand_with, lexical};
use crate::project::PYTHON_DIR;
use crate::workspace;

/// What the options name: files read whole, folders read by the content of their files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Named {
    pub files: Vec<PathBuf>,
    pub folders: Vec<PathBuf>,
}

/// How deep `@file` arguments are followed into the files they name (a loop ends).
const ARGFILE_DEPTH: usize = 8;

/// The files the tools' options name, wherever they are, and the folders outside `python/`
/// ([`Named`]).
/// `passed_on`: the arguments passed on to pytest (`test -- ARGS`).
pub fn named_by_options(root: &Path, passed_on: &[String]) -> Named {
    let python = root.join(PYTHON_DIR);
    let bases = working_folders(root);
    let pyproject = python.join("pyproject.toml");
    let mut args = split_with_env(&config_addopts(&pyproject));
    args.extend(passed_on.iter().cloned());
    let (mut files, found) = argfiles(&bases, &args);
    args.extend(found);
    let coverage_rc = std::env::var("COVERAGE_RCFILE")
        .ok()
        .filter(|v| !v.is_empty());
    for rc in option_values(&args, "--cov-config")
        .into_iter()
        .chain(coverage_rc)
    {
        files.extend(bases.iter().map(|base| base.join(&rc)));
    }
    files.extend(conftests_above(&python, &bases, &args));
    // A file counts wherever it is: one in a package's folder is no file of the other packages'
    // jobs, whose keys count only their readers' files. A folder under `python/` is left to the
    // walk: the package whose folder holds it is a reader of every job of the tool
    // ([`path_folders_in_python`]).
    files = files.iter().map(|p| lexical(p)).collect();
    let mut folders: Vec<PathBuf> = resolved(&bases, mypy_path(&pyproject))
        .into_iter()
        .chain(resolved(&bases, pytest_pythonpath(&pyproject)))
        .filter(|p| !p.starts_with(&python))
        .collect();
    for list in [&mut files, &mut folders] {
        list.sort();
        list.dedup();
    }
    Named { files, folders }
}

/// The folders under `python/` that pytest's `pythonpath` and mypy's `mypy_path` put on the
/// path (resolved from every working folder, as [`named_by_options`] does): a module there is
/// read by every job of that tool, whatever package's folder holds it.
pub struct PathFolders {
    pub pytest: Vec<PathBuf>,
    pub mypy: Vec<PathBuf>,
}

pub fn path_folders_in_python(root: &Path) -> PathFolders {
    let python = root.join(PYTHON_DIR);
    let bases = working_folders(root);
    let pyproject = python.join("pyproject.toml");
    let inside = |entries: Vec<PathBuf>| -> Vec<PathBuf> {
        let mut folders: Vec<PathBuf> = resolved(&bases, entries)
            .into_iter()
            .filter(|p| p.starts_with(&python))
            .collect();
        folders.sort();
        folders.dedup();
        folders
    };
    PathFolders {
        pytest: inside(pytest_pythonpath(&pyproject)),
        mypy: inside(mypy_path(&pyproject)),
    }
}

/// Each of `entries` (relative paths, or absolute) resolved from each of `bases`, lexically.
fn resolved(bases: &[PathBuf], entries: Vec<PathBuf>) -> Vec<PathBuf> {
    entries
        .iter()
        .flat_map(|entry| bases.iter().map(move |base| lexical(&base.join(entry))))
        .collect()
}

/// The `conftest.py` files pytest loads above `python/` when `--confcutdir` (among `args`,
/// resolved from each of `bases`) is given: pytest loads one in every folder above the tests
/// but the strict parents of its confcutdir, so from `python/`'s parent up to a confcutdir
/// above it, and every folder up to the top for one beside it (`/usr/share`). By default pytest
/// stops at the configuration's folder (`python/`). Missing ones count too: one created there
/// is then a change.
fn conftests_above(python: &Path, bases: &[PathBuf], args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for cut in option_values(args, "--confcutdir") {
        for base in bases {
            let cut = lexical(&base.join(&cut));
            let mut dir = python.parent();
            while let Some(d) = dir {
                let strict_parent_of_cut = cut.starts_with(d) && cut != d;
                if !strict_parent_of_cut {
                    out.push(d.join("conftest.py"));
                }
                dir = d.parent();
            }
        }
    }
    out
}

/// The values `option` is given among `args`, as `OPTION=VALUE` or `OPTION VALUE`
/// (`--cov-config`, pytest-cov's; `--confcutdir`).
fn option_values(args: &[String], option: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if let Some(value) = word
            .strip_prefix(option)
            .and_then(|rest| rest.strip_prefix('='))
        {
            out.push(value.to_owned());
        } else if word == option {
            out.extend(words.next().cloned());
        }
    }
    out
}

/// The entries of pytest's `pythonpath` (`[tool.pytest.ini_options]`): folders it puts first on
/// `sys.path`, whose modules a test imports.
fn pytest_pythonpath(pyproject: &Path) -> Vec<PathBuf> {
    pytest_setting(pyproject, "pythonpath")
        .into_iter()
        .map(PathBuf::from)
        .collect()
}

/// The pytest arguments in the `@file`s that `addopts` (and `PYTEST_ADDOPTS`) name, followed
/// from file to file, resolved from every package's folder: what a job may see beside `addopts`.
pub fn argfile_args(root: &Path, addopts: &[String]) -> Vec<String> {
    argfiles(&working_folders(root), &split_with_env(addopts)).1
}

/// Where the jobs run: `python/` and every package's folder.
fn working_folders(root: &Path) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    workspace::tool_roots(root)
        .iter()
        .map(|rel| python.join(rel))
        .collect()
}

/// The `@file`s among `args`, resolved from each of `bases`, and the arguments they hold,
/// followed from file to file.
fn argfiles(bases: &[PathBuf], args: &[String]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut found = Vec::new();
    let mut pending: Vec<String> = args.to_vec();
    for _ in 0..ARGFILE_DEPTH {
        let mut next = Vec::new();
        for name in pending.iter().filter_map(|a| a.strip_prefix('@')) {
            for base in bases {
                let path = base.join(name);
                // argparse reads one argument a line.
                if let Ok(text) = std::fs::read_to_string(&path) {
                    next.extend(text.lines().map(str::to_owned));
                }
                files.push(path);
            }
        }
        if next.is_empty() {
            break;
        }
        found.extend(next.iter().cloned());
        pending = next;
    }
    (files, found)
}

/// `addopts` (split already), then `PYTEST_ADDOPTS`.
fn split_with_env(addopts: &[String]) -> Vec<String> {
    let mut args = addopts.to_vec();
    args.extend(env_addopts());
    args
}

/// `PYTEST_ADDOPTS`, split as pytest splits it ([`shell_split`]).
pub fn env_addopts() -> Vec<String> {
    shell_split(&std::env::var("PYTEST_ADDOPTS").unwrap_or_default())
}

/// A string of arguments split as Python's `shlex.split` splits it (quotes and escapes), as
/// pytest splits `PYTEST_ADDOPTS` and an `addopts` string; at whitespace when the quotes do not
/// close (pytest then fails on its own).
fn shell_split(text: &str) -> Vec<String> {
    shlex::split(text).unwrap_or_else(|| text.split_whitespace().map(str::to_owned).collect())
}

/// The `addopts` of a pytest configuration in a `pyproject.toml`
/// (`[tool.pytest.ini_options]`, or pytest 9's `[tool.pytest]`), as pytest takes them: a list's
/// entries whole, a string split as a shell would ([`shell_split`]).
pub fn config_addopts(pyproject: &Path) -> Vec<String> {
    pytest_setting(pyproject, "addopts")
}

/// A pytest setting of a `pyproject.toml` (`[tool.pytest.ini_options]`, or pytest 9's
/// `[tool.pytest]`) as pytest takes it: a list's entries whole, a string split as a shell would.
fn pytest_setting(pyproject: &Path, name: &str) -> Vec<String> {
    let Some(doc) = read_toml(pyproject) else {
        return Vec::new();
    };
    let Some(pytest) = doc.get("tool").and_then(|t| t.get("pytest")) else {
        return Vec::new();
    };
    [
        pytest.get("ini_options").and_then(|o| o.get(name)),
        pytest.get(name),
    ]
    .into_iter()
    .flatten()
    .flat_map(|value| match value.as_array() {
        Some(_) => strings(value),
        None => value.as_str().map(shell_split).unwrap_or_default(),
    })
    .collect()
}

/// The entries of `[tool.mypy] mypy_path`, expanded as mypy expands them (`~`, variables, and
/// `$MYPY_CONFIG_FILE_DIR` as the configuration's folder); a string is split at commas and
/// colons, as mypy splits it.
fn mypy_path(pyproject: &Path) -> Vec<PathBuf> {
    let Some(value) = tool_setting(pyproject, "mypy", "mypy_path") else {
        return Vec::new();
    };
    let dir = pyproject.parent().unwrap_or(Path::new("."));
    let dir = dir.to_string_lossy();
    let extra = [("MYPY_CONFIG_FILE_DIR", dir.as_ref())];
    strings(&value)
        .iter()
        .flat_map(|s| s.split([',', ':']).map(str::trim).collect::<Vec<_>>())
        .filter(|entry| !entry.is_empty())
        .map(|entry| expand_with(entry, &extra))
        .collect()
}

/// The top-level module names that the folders hold: each folder's name and each `.py` or `.pyi`
/// file's stem (mypy's cache names an entry by its module's dotted name).
pub fn module_names_in(folders: &[PathBuf]) -> BTreeSet<String> {
    folders
        .iter()
        .flat_map(|folder| crate::fsutil::kinds(folder))
        .filter_map(|(_, name, kind)| {
            if kind.is_dir() {
                Some(name)
            } else {
                name.strip_suffix(".pyi")
                    .or_else(|| name.strip_suffix(".py"))
                    .map(str::to_owned)
            }
        })
        .collect()
}

/// `[tool.<tool>] <name>` of a `pyproject.toml`.
pub fn tool_setting(pyproject: &Path, tool: &str, name: &str) -> Option<toml_edit::Item> {
    let doc = read_toml(pyproject)?;
    doc.get("tool")?.get(tool)?.get(name).cloned()
}

fn read_toml(path: &Path) -> Option<DocumentMut> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

/// A string, or each string of an array.
pub fn strings(value: &toml_edit::Item) -> Vec<String> {
    match value.as_array() {
        Some(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        None => value.as_str().map(str::to_owned).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `@file`s are resolved from every working folder and followed from file to file;
    /// `mypy_path` expands `$MYPY_CONFIG_FILE_DIR`; a folder in `python/` is left to its walk.
    #[test]
    fn options_name_files_anywhere_and_folders_outside_python() {
        let root = std::env::temp_dir().join(format!("xtask-options-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("python/libs/a")).unwrap();
        std::fs::write(root.join("python/libs/a/pyproject.toml"), "").unwrap();
        std::fs::write(
            root.join("python/pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = \"-q @../../../args.txt @inside.txt\"\n\
             [tool.mypy]\nmypy_path = \"$MYPY_CONFIG_FILE_DIR/../stubs, typings\"\n",
        )
        .unwrap();
        std::fs::write(root.join("args.txt"), "-x\n@../../../more.txt\n").unwrap();
        std::fs::write(root.join("more.txt"), "--lf\n").unwrap();
        let named = named_by_options(&root, &[]);
        assert!(named.files.contains(&root.join("args.txt")), "{named:?}");
        assert!(named.files.contains(&root.join("more.txt")), "{named:?}");
        // `@inside.txt` resolves in python/ and in the package's folder: a file there is no
        // input of the other packages' jobs otherwise, so it counts too.
        assert!(
            named.files.contains(&root.join("python/libs/a/inside.txt")),
            "{named:?}"
        );
        assert!(named.folders.contains(&root.join("stubs")), "{named:?}");
        // `typings` resolves inside python/ from every working folder: the walk counts it.
        assert!(
            named.folders.iter().all(|f| !f.ends_with("typings")),
            "{named:?}"
        );
        let addopts = config_addopts(&root.join("python/pyproject.toml"));
        let args = argfile_args(&root, &addopts);
        assert!(args.contains(&"--lf".to_owned()), "{args:?}");
        // The arguments passed on, a `--cov-config` in either form (from a file too), and
        // pytest's `pythonpath` folders.
        std::fs::write(
            root.join("more.txt"),
            "--cov-config=../../../cov.rc
",
        )
        .unwrap();
        std::fs::write(
            root.join("python/pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = \"@../../../args.txt\"\npythonpath = [\"../extlib\"]\n",
        )
        .unwrap();
        let passed = [
            "@../../../cli.txt".to_owned(),
            "--cov-config".to_owned(),
            "../../../cli.rc".to_owned(),
        ];
        let named = named_by_options(&root, &passed);
        for file in ["cov.rc", "cli.txt", "cli.rc"] {
            assert!(named.files.contains(&root.join(file)), "{file}: {named:?}");
        }
        assert!(named.folders.contains(&root.join("extlib")), "{named:?}");
        // As pytest takes them: a list's entries whole, a string split as a shell would.
        std::fs::write(
            root.join("python/pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = [\"@my args.txt\", \"-q\"]\n",
        )
        .unwrap();
        assert_eq!(
            config_addopts(&root.join("python/pyproject.toml")),
            ["@my args.txt", "-q"]
        );
        std::fs::write(
            root.join("python/pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = \"-q '@my args.txt' a\\\\ b\"\n",
        )
        .unwrap();
        assert_eq!(
            config_addopts(&root.join("python/pyproject.toml")),
            ["-q", "@my args.txt", "a b"]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
