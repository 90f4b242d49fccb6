//! `cargo xtask new lib|service NAME [--dep LIB]... [--into SERVICE]...`: a package made from the
//! seed's templates (`workspace/templates.rs`), so it passes `verify` at once; then locked and
//! set up as `add` does. Everything is checked before anything is written: the name (PEP 508, a
//! Python identifier once normalised, not a keyword, not taken), the libraries and services it
//! names, the edits of those services' `pyproject.toml`, and that git would not ignore a file.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::cmd::Cmd;
use crate::commands::{edit as edit_command, ide};
use crate::env::lock;
use crate::flags::{EnvArgs, NewArgs, NewKind, NewPackage};
use crate::fsutil;
use crate::output::say;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::blueprint::{self, Kind};
use crate::workspace::edit::{self, Target};
use crate::workspace::templates;
use crate::workspace::{Package, Workspace, normalize};

/// Python's keywords: an import name may be none of them (soft keywords such as `match` may).
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The names of a new package: `name` is the folder's and the distribution's (normalised).
#[derive(Debug, PartialEq, Eq)]
pub struct Names {
    pub name: String,
    pub import: String,
}

/// Checks `given` as a distribution name (PEP 508) whose import name (the normalised name with
/// `_` for `-`) is a Python identifier and no keyword.
pub fn names(given: &str) -> Result<Names> {
    let fix = "choose a name of ASCII letters, digits and `-`, starting with a letter, such as `audio-tools`";
    let bytes = given.as_bytes();
    let valid_char = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    let pep508 = !bytes.is_empty()
        && bytes.iter().all(valid_char)
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    if !pep508 {
        bail!(
            "`{given}` is not a distribution name (PEP 508: ASCII letters, digits, `-`, `_` and `.`, \
             beginning and ending with a letter or digit); {fix}"
        );
    }
    let name = normalize(given);
    let import = name.replace('-', "_");
    if import.starts_with(|c: char| c.is_ascii_digit()) {
        bail!(
            "`{given}` makes the import name `{import}`, which is not a Python identifier (it begins with a digit); {fix}"
        );
    }
    if KEYWORDS.contains(&import.as_str()) {
        bail!(
            "`{given}` makes the import name `{import}`, a Python keyword: `import {import}` cannot be written; {fix}"
        );
    }
    Ok(Names { name, import })
}

/// Whether the name is taken: a package folder (of either kind: folder names name packages on the
/// command line), a distribution name or an import name of the tree.
fn check_free(ws: &Workspace, names: &Names) -> Result<()> {
    let python = ws.root.join(PYTHON_DIR);
    for folder in ["apps", "libs"] {
        let dir = python.join(folder).join(&names.name);
        if fs::symlink_metadata(&dir).is_ok() {
            bail!(
                "{} exists; choose another name (a package's folder name names it on the command line)",
                fsutil::display_rel(&ws.root, &dir)
            );
        }
    }
    for package in &ws.packages {
        if package.name == names.name || package.folder_name() == names.name {
            bail!(
                "the name `{}` is taken by {} (distribution `{}`); choose another",
                names.name,
                package.rel,
                package.dist
            );
        }
        if package.import_names().contains(&names.import) {
            bail!(
                "the import name `{}` is taken by {}; choose another name",
                names.import,
                package.rel
            );
        }
    }
    Ok(())
}

/// Each of `given` as a package of the tree of the right kind.
fn packages_of_kind<'a>(
    ws: &'a Workspace,
    given: &[String],
    kind: Kind,
    flag: &str,
) -> Result<Vec<&'a Package>> {
    let mut out: Vec<&Package> = Vec::new();
    for name in given {
        let package = ws.package(name).with_context(|| format!("{flag} {name}"))?;
        if package.kind != kind {
            let (is, wants) = match kind {
                Kind::Library => ("a service", "a library: a service is never a dependency"),
                Kind::Service => ("a library", "a service"),
            };
            bail!(
                "{flag} {name}: {} is {is}; {flag} takes {wants}",
                package.rel
            );
        }
        if !out.iter().any(|p| p.name == package.name) {
            out.push(package);
        }
    }
    Ok(out)
}

/// Everything `new` writes, decided before anything is.
struct Plan {
    names: Names,
    kind: Kind,
    /// The package's folder, absolute.
    dir: PathBuf,
    /// New files, absolute paths.
    files: Vec<(PathBuf, String)>,
    /// The services' `pyproject.toml` with the new library added: (path, before, after).
    edits: Vec<(PathBuf, String, String)>,
}

/// What the templates know of a package of the tree, owned: the views borrow from it.
struct Known {
    dir: String,
    dist: String,
    import: String,
    kind: Kind,
    summary: String,
    deps: Vec<String>,
}

impl Known {
    fn of(package: &Package, deps: Vec<String>) -> Known {
        Known {
            dir: package.python_rel().to_owned(),
            dist: package.name.clone(),
            import: package.import_names().first().cloned().unwrap_or_default(),
            kind: package.kind,
            summary: String::new(),
            deps,
        }
    }

    fn view<'a>(&'a self, deps: &'a [&'a str]) -> blueprint::Package<'a> {
        blueprint::Package {
            dir: &self.dir,
            dist: &self.dist,
            import: &self.import,
            kind: self.kind,
            summary: &self.summary,
            subpackages: &[],
            local_deps: deps,
            setup_command: None,
            base_image: None,
            platform: None,
        }
    }
}

/// Whether a library's import package sets `__version__`: the first test of a package that
/// depends on it checks it, as the seed's do, so a library without one is left out of it.
fn has_version(package: &Package) -> bool {
    package.layout.imports.iter().any(|i| {
        fs::read_to_string(i.path.join("__init__.py")).is_ok_and(|t| t.contains("__version__"))
    })
}

/// The new package's files, rendered by the seed's templates from a tree of the services (with
/// the new library among the dependencies of those it goes into), the libraries it depends on,
/// and itself.
fn render(
    ws: &Workspace,
    names: &Names,
    kind: Kind,
    deps: &[&Package],
    into: &[&Package],
) -> Vec<templates::Template> {
    let mut known: Vec<Known> = Vec::new();
    for service in ws.services() {
        let mut service_deps = service.local_deps.clone();
        if into.iter().any(|s| s.name == service.name) {
            service_deps.push(names.name.clone());
        }
        known.push(Known::of(service, service_deps));
    }
    for lib in deps.iter().filter(|lib| has_version(lib)) {
        known.push(Known::of(lib, Vec::new()));
    }
    let (folder, what) = match kind {
        Kind::Library => ("libs", "library"),
        Kind::Service => ("apps", "service"),
    };
    known.push(Known {
        dir: format!("{folder}/{}", names.name),
        dist: names.name.clone(),
        import: names.import.clone(),
        kind,
        summary: format!("{}, a {what} of the dubbing platform", names.name),
        deps: deps.iter().map(|d| d.name.clone()).collect(),
    });
    let dep_lists: Vec<Vec<&str>> = known
        .iter()
        .map(|k| k.deps.iter().map(String::as_str).collect())
        .collect();
    let tree: Vec<blueprint::Package> = known
        .iter()
        .zip(&dep_lists)
        .map(|(k, d)| k.view(d))
        .collect();
    templates::new_package(&tree[tree.len() - 1], &tree)
}

/// Git ignores none of the new files (a name like `venv` would be): SC-007 would fail.
fn check_not_ignored(root: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    let rels: Vec<String> = files
        .iter()
        .map(|(path, _)| fsutil::display_rel(root, path))
        .collect();
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["check-ignore", "--no-index", "--"])
        .args(&rels)
        .output();
    // Outside a git repository (or without git) nothing is ignored.
    let Ok(out) = out else { return Ok(()) };
    let ignored: Vec<&str> = out
        .output
        .lines()
        .filter(|l| rels.iter().any(|r| r == l))
        .collect();
    if out.code == Some(0) && !ignored.is_empty() {
        bail!(
            "git would ignore {} of the new package's files, {} among them: the name matches a \
             pattern of a .gitignore (`git -C {} check-ignore -v {}` says which); choose another name",
            ignored.len(),
            ignored[0],
            project::quote(&root.to_string_lossy()),
            project::quote(ignored[0]),
        );
    }
    Ok(())
}

/// Decides everything; writes nothing.
fn plan(ws: &Workspace, kind: Kind, spec: &NewPackage, into: &[String]) -> Result<Plan> {
    let names = names(&spec.name)?;
    check_free(ws, &names)?;
    let deps = packages_of_kind(ws, &spec.deps, Kind::Library, "--dep")?;
    let into = packages_of_kind(ws, into, Kind::Service, "--into")?;
    // A library no service installs is tested in a venv of its own, with the workspace's tools.
    if kind == Kind::Library && into.is_empty() && !ws.shared_dev_missing.is_empty() {
        bail!(
            "a library that no service installs is tested with the workspace's dev tools, and \
             {PYTHON_DIR}/pyproject.toml's [dependency-groups] dev lacks {}; add them there \
             (dev = [\"pytest>=7.0\", \"pytest-cov>=4.0\", \"ruff>=0.1.0\", \"mypy>=1.0\"]), or give it a service with --into",
            ws.shared_dev_missing.join(", ")
        );
    }
    let python = ws.root.join(PYTHON_DIR);
    let mut files = Vec::new();
    for template in render(ws, &names, kind, &deps, &into) {
        let path = python.join(&template.path);
        // A service's deployment folder may be there already: its files are the team's.
        if fs::symlink_metadata(&path).is_err() {
            files.push((path, template.content));
        }
    }
    check_not_ignored(&ws.root, &files)?;
    // A lock edited by hand is a person's: `add`, and so `new`, never writes over it.
    for service in &into {
        if let status @ lock::Status::Edited(_) = lock::status(ws, service)? {
            bail!("{}", lock::stale_message(ws, service, &status));
        }
    }
    let mut edits = Vec::new();
    for service in &into {
        let path = service.pyproject();
        let rel = fsutil::display_rel(&ws.root, &path);
        let before = fs::read_to_string(&path).with_context(|| format!("cannot read {rel}"))?;
        let (after, _) = edit::add(&before, &[vec![names.name.clone()]], Target::Runtime)
            .with_context(|| format!("cannot add {} to {rel}", names.name))?;
        edits.push((path, before, after));
    }
    let folder = if kind == Kind::Library {
        "libs"
    } else {
        "apps"
    };
    let dir = python.join(folder).join(&names.name);
    Ok(Plan {
        names,
        kind,
        dir,
        files,
        edits,
    })
}

/// Writes the plan: the files, then the services' edits. What was written is said as it goes.
fn write(root: &Path, plan: &Plan) -> Result<()> {
    for (path, content) in &plan.files {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        fsutil::write_atomic(path, content.as_bytes())?;
        say(format!("created {}", fsutil::display_rel(root, path)));
    }
    for (path, _, after) in &plan.edits {
        fsutil::write_atomic(path, after.as_bytes())?;
        say(format!("edited {}", fsutil::display_rel(root, path)));
    }
    Ok(())
}

/// What to run to finish, or to undo, after a step that failed once files were written.
fn recovery(root: &Path, plan: &Plan, venvs: &[String]) -> String {
    let mut finish = vec!["lock"];
    finish.extend(venvs.iter().map(String::as_str));
    let mut setup = vec!["setup"];
    setup.extend(venvs.iter().map(String::as_str));
    let written: Vec<String> = plan
        .edits
        .iter()
        .map(|(path, _, _)| fsutil::display_rel(root, path))
        .collect();
    let mut undo = format!(
        "remove the folder {}",
        project::quote(&fsutil::display_rel(root, &plan.dir))
    );
    if !written.is_empty() {
        undo += &format!(
            " and take `{}` out of the dependencies of {}",
            plan.names.name,
            written.join(", ")
        );
    }
    format!(
        "the package's files are written ({}{}); finish with {} && {}, or undo: {undo}",
        fsutil::display_rel(root, &plan.dir),
        if written.is_empty() {
            String::new()
        } else {
            format!(", and {} edited", written.join(", "))
        },
        project::xtask_command(root, &finish),
        project::xtask_command(root, &setup),
    )
}

/// Locks and sets up every venv that installs the new package (its own, or the services it went
/// into), as `add` does; then refreshes the editor files when they exist.
fn finish(root: &Path, plan: &Plan, env: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root).context("cannot read the tree with the new package")?;
    let package = ws
        .get(&plan.names.name)
        .context("the new package is part of the tree")?;
    let venvs: Vec<String> = ws
        .venv_owners()
        .filter(|o| {
            ws.closure(o)
                .is_ok_and(|c| c.iter().any(|p| p.name == package.name))
        })
        .map(|o| o.folder_name().to_owned())
        .collect();
    edit_command::relock(root, &plan.names.name, env)
        .with_context(|| recovery(root, plan, &venvs))?;
    ide::refresh(root, "new");
    Ok(())
}

pub fn run(root: &Path, args: &NewArgs) -> Result<()> {
    let (kind, spec, into, env) = match &args.kind {
        NewKind::Lib { package, into, env } => (Kind::Library, package, into.as_slice(), env),
        NewKind::Service { package, env } => (Kind::Service, package, &[][..], env),
    };
    let ws = Workspace::load(root)?;
    // The cause first, then what it means: nothing was written.
    let plan = plan(&ws, kind, spec, into).map_err(|e| anyhow!("{e:#}; nothing was written"))?;
    write(root, &plan).with_context(|| {
        format!(
            "writing stopped part-way: what it wrote is listed above; remove {} to undo",
            project::quote(&fsutil::display_rel(root, &plan.dir))
        )
    })?;
    finish(root, &plan, env)?;
    let name = &plan.names.name;
    let what = if plan.kind == Kind::Service {
        "service"
    } else {
        "library"
    };
    say(format!(
        "new: the {what} {name} (import {}) is ready in {}; test it with {}",
        plan.names.import,
        fsutil::display_rel(root, &plan.dir),
        project::xtask_command(root, &["test", "--package", name])
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_normalised_and_its_import_name_follows() {
        let got = names("Audio_Tools.v2").unwrap();
        assert_eq!(got.name, "audio-tools-v2");
        assert_eq!(got.import, "audio_tools_v2");
        assert_eq!(
            names("match").unwrap().import,
            "match",
            "a soft keyword is a name"
        );
    }

    #[test]
    fn a_name_that_is_no_distribution_or_no_identifier_is_refused() {
        for (given, why) in [
            ("", "not a distribution name"),
            ("a b", "not a distribution name"),
            ("-a", "not a distribution name"),
            ("a.", "not a distribution name"),
            ("é", "not a distribution name"),
            ("2fast", "begins with a digit"),
            ("lambda", "a Python keyword"),
            ("Async", "a Python keyword"),
        ] {
            let err = names(given).unwrap_err().to_string();
            assert!(err.contains(why), "{given}: {err}");
        }
    }
}
