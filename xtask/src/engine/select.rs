//! Which packages a gate works on: all, the named ones (`--package`), or the ones changed since a
//! git revision (`--changed-since`) plus every package that depends on one of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cmd::git_paths_at_once;
use crate::digest;
use crate::engine::inputs::{Inputs, Tool};
use crate::engine::local_inputs;
use crate::engine::outside;
use crate::project::PYTHON_DIR;
use crate::workspace::{self, Package, Workspace};

/// The reason of a package named with `-p` (`selected: common (named)`).
pub const NAMED: &str = "named";
/// The reason of the package the current folder is in, when nothing else selects.
pub const HERE: &str = "the current folder is in it; run from the root for all";

/// The selected packages, each with why, in workspace order.
pub struct Selection<'a> {
    pub packages: Vec<&'a Package>,
    pub reasons: BTreeMap<String, String>,
    pub all: bool,
    /// The files changed since the revision, relative to the root; none without one.
    changed: Vec<String>,
    /// The owners of the venvs whose install inputs changed (a pyproject, a requirement file).
    pub changed_venvs: BTreeSet<String>,
}

impl<'a> Selection<'a> {
    /// Every package, each with its reason kept or `why`.
    pub fn add_all(&mut self, ws: &'a Workspace, why: &str) {
        for package in &ws.packages {
            self.reasons
                .entry(package.name.clone())
                .or_insert_with(|| why.to_owned());
        }
        self.packages = ws.packages.iter().collect();
        self.all = true;
    }

    /// What a change since `rev` concerns beyond [`select`]'s files: every package when a module
    /// path in a `src` root came or went ([`module_paths_moved`]) that a file of a package not
    /// selected names ([`named_elsewhere`]), and the packages that load a selected one
    /// ([`Selection::add_readers`]).
    pub fn widen_for_change(
        &mut self,
        ws: &'a Workspace,
        rev: &str,
        inputs: &Inputs<'a>,
    ) -> Result<()> {
        if let Some(file) = outside_changed(ws, rev)? {
            self.add_all(ws, &format!("{file} changed, which the gates read"));
        }
        let now = || local_inputs::State::now(&ws.root, inputs);
        if let Some(path) = local_inputs::changed_since_verified(&ws.root, now) {
            let why = format!(
                "{path} changed since the last verify of every package, which the gates read and the revision cannot show"
            );
            self.add_all(ws, &why);
        }
        // The work tree's paths under python/: the keys' own walk, for both steps.
        let now = inputs.tree();
        let moved = module_paths_moved(ws, rev, &now)?;
        if let Some((root, module, file)) = named_elsewhere(ws, &now, &moved, &self.reasons) {
            let why = format!(
                "a module name in {root} came or went ({module}), which {file} names: ruff's first-party imports may move"
            );
            self.add_all(ws, &why);
        }
        if let Some(why) = renamed_distribution(ws, rev, &self.changed) {
            self.add_all(ws, &why);
        }
        // Until nothing more is added: a package added for a link loads in turn, and is loaded.
        loop {
            let before = self.reasons.len();
            self.add_readers(ws, inputs);
            self.add_linkers(ws, &now);
            if self.all || self.reasons.len() == before {
                return Ok(());
            }
        }
    }

    /// Adds every package holding a file (as the keys' walk `tree` finds them) that leads, through
    /// a symlink, into a selected package's folder: its jobs read the file there, by content. A
    /// link whose target is gone leads where it points: into a selected package, or to a path
    /// the change moved or deleted (a package's whole folder, too).
    fn add_linkers(&mut self, ws: &'a Workspace, tree: &digest::Tree) {
        if self.all {
            return;
        }
        let python = ws.root.join(PYTHON_DIR);
        let root = std::fs::canonicalize(&ws.root).unwrap_or_else(|_| ws.root.clone());
        let selected: Vec<(PathBuf, &str)> = self
            .packages
            .iter()
            .filter_map(|p| Some((std::fs::canonicalize(&p.dir).ok()?, p.folder_name())))
            .collect();
        let gone: Vec<&String> = self
            .changed
            .iter()
            .filter(|c| std::fs::symlink_metadata(ws.root.join(c)).is_err())
            .collect();
        let mut places = Places::default();
        let mut added = Vec::new();
        for package in ws
            .packages
            .iter()
            .filter(|p| !self.reasons.contains_key(&p.name))
        {
            let own = std::fs::canonicalize(&package.dir).unwrap_or_else(|_| package.dir.clone());
            let prefix = format!(
                "{}/",
                package.rel.trim_start_matches(&format!("{PYTHON_DIR}/"))
            );
            let linked = tree
                .files
                .iter()
                .filter(|f| f.rel.starts_with(&prefix))
                .find_map(|f| {
                    let path = python.join(&f.rel);
                    let target = places.real(&path)?;
                    if target.starts_with(&own) {
                        return None;
                    }
                    if let Some((_, name)) =
                        selected.iter().find(|(dir, _)| target.starts_with(dir))
                    {
                        return Some((path, format!("leads into {name}")));
                    }
                    let rel = moved_away(&target, &root, &gone)?;
                    Some((
                        path,
                        format!("leads to {rel}, which the change moved or deleted"),
                    ))
                });
            if let Some((link, why)) = linked {
                let rel = crate::fsutil::display_rel(&ws.root, &link);
                added.push((package, format!("{rel} {why}")));
            }
        }
        self.add(ws, added);
    }

    /// Adds, to a selection made from changed files, every package whose jobs can load a selected
    /// one without depending on it: by a string naming its import name, as a pytest plugin
    /// installed in the same venv, as a mypy plugin ([`Inputs::readers`]). Their keys cover the
    /// selected packages, so a gate would run them again: a narrower selection would leave out a
    /// verdict the change can move (pre-push, `ci plan`).
    pub fn add_readers(&mut self, ws: &'a Workspace, inputs: &Inputs<'a>) {
        if self.all {
            return;
        }
        let mut added = Vec::new();
        for package in &ws.packages {
            if self.reasons.contains_key(&package.name) {
                continue;
            }
            let loaded = ws.venvs_of(package).into_iter().find_map(|venv| {
                [Tool::Pytest, Tool::Mypy].into_iter().find_map(|tool| {
                    inputs
                        .readers(package, venv, tool)
                        .into_iter()
                        .find(|r| r.name != package.name && self.reasons.contains_key(&r.name))
                })
            });
            if let Some(loaded) = loaded {
                let declared = ws
                    .closure(package)
                    .is_ok_and(|set| set.iter().any(|p| p.name == loaded.name));
                let why = if declared {
                    format!("depends on {}", loaded.folder_name())
                } else {
                    format!(
                        "loads {} (a plugin, or its name in a string)",
                        loaded.folder_name()
                    )
                };
                added.push((package, why));
            }
        }
        self.add(ws, added);
    }

    /// Adds each package with why, keeping the selection in workspace order.
    fn add(&mut self, ws: &'a Workspace, added: Vec<(&'a Package, String)>) {
        for (package, why) in added {
            self.reasons.insert(package.name.clone(), why);
        }
        self.packages = ws
            .packages
            .iter()
            .filter(|p| self.reasons.contains_key(&p.name))
            .collect();
    }

    pub fn describe(&self) -> String {
        if self.all && self.reasons.is_empty() {
            return format!("selected: all {} packages", self.packages.len());
        }
        // One reason for every package (a file they all read changed): said once.
        let mut whys = self.packages.iter().map(|p| self.reasons.get(&p.name));
        if self.all
            && let Some(Some(first)) = whys.next()
            && whys.all(|why| why == Some(first))
        {
            return format!("selected: all {} packages ({first})", self.packages.len());
        }
        if self.packages.is_empty() {
            return "selected: no package (nothing under python/apps or python/libs changed)"
                .to_owned();
        }
        let parts: Vec<String> = self
            .packages
            .iter()
            .map(|p| match self.reasons.get(&p.name) {
                Some(why) => format!("{} ({why})", p.folder_name()),
                None => p.folder_name().to_owned(),
            })
            .collect();
        format!("selected: {}", parts.join(", "))
    }
}

/// `target` from the root, when the change moved or deleted it, or a folder of it (`gone`: the
/// changed paths no longer there).
fn moved_away(target: &Path, root: &Path, gone: &[&String]) -> Option<String> {
    let rel = target
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .replace('\\', "/");
    let moved = gone
        .iter()
        .any(|g| **g == rel || g.starts_with(&format!("{rel}/")));
    moved.then_some(rel)
}

/// Where files really are, with each folder's real place found once (a file that is no
/// symlink is where its folder really is: one `lstat`).
#[derive(Default)]
struct Places {
    folders: std::collections::HashMap<PathBuf, Option<PathBuf>>,
}

impl Places {
    fn real(&mut self, path: &Path) -> Option<PathBuf> {
        let parent = path.parent()?;
        let folder = self
            .folders
            .entry(parent.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(parent).ok())
            .clone()?;
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.file_type().is_symlink() {
            return Some(folder.join(path.file_name()?));
        }
        link_target(&folder, path, 8)
    }
}

/// Where the symlink `link` (in the real folder `folder`) leads: through every link on the
/// way while the path exists (so a `..` after a linked folder goes where the system goes),
/// then as named, once a part is gone; a link to a link that leads nowhere is followed too,
/// up to `hops` links.
fn link_target(folder: &Path, link: &Path, hops: usize) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(link) {
        return Some(real);
    }
    let named = std::fs::read_link(link).ok()?;
    let mut target = if named.is_absolute() {
        PathBuf::new()
    } else {
        folder.to_path_buf()
    };
    let mut exists = true;
    for part in named.components() {
        match part {
            std::path::Component::ParentDir => {
                target.pop();
            }
            std::path::Component::CurDir => {}
            part => {
                target.push(part);
                if !exists {
                    continue;
                }
                if let Ok(real) = std::fs::canonicalize(&target) {
                    target = real;
                } else if hops > 0
                    && std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink())
                {
                    let inner = target.parent()?.to_path_buf();
                    target = link_target(&inner, &target, hops - 1)?;
                    exists = false;
                } else {
                    exists = false;
                }
            }
        }
    }
    Some(target)
}

/// The first of what the gates read outside `python/` ([`outside::repo_pathspecs`]: an extended
/// ruff configuration, an ignore file, a symlink's target, wherever in the repository, above
/// the root too) that differs from `rev`'s, in the work tree.
pub fn outside_changed(ws: &Workspace, rev: &str) -> Result<Option<String>> {
    let specs = outside::repo_pathspecs(&ws.root);
    if specs.is_empty() {
        return Ok(None);
    }
    let mut args = vec!["diff", "--name-only", "-z", "--no-renames", rev, "--"];
    args.extend(specs.iter().map(String::as_str));
    Ok(git_about(&ws.root, rev, &args)?.into_iter().next())
}

/// The module paths that came or went in a `src` root since `rev`, each with its root (dotted:
/// `pluggy._hooks`): ruff calls an import first-party when its whole module path is in a `src`
/// root (`import pluggy._hooks` once `pluggy/_hooks/` or `pluggy/_hooks.py` is there, not
/// `pluggy/` alone), so one that comes or goes, at any depth, can move the import order of any
/// file that imports it, in any package ([`Inputs`]'s layout: every ruff key counts every path).
/// The roots: the packages' folders and their `src/`, and every folder ruff's `src` setting names
/// ([`outside::ruff_src_roots`]). The work tree's side is the keys' walk of `python/`, `now`
/// (venvs, tool caches and bytecode are no path; a `build/` folder, an empty folder or a file git
/// ignores is one, as ruff sees them and the keys count them), the revision's is what git
/// holds.
pub fn module_paths_moved(
    ws: &Workspace,
    rev: &str,
    now: &digest::Tree,
) -> Result<Vec<(String, String)>> {
    let mut roots: Vec<String> = ws
        .packages
        .iter()
        .flat_map(|p| [format!("{}/", p.rel), format!("{}/src/", p.rel)])
        .collect();
    roots.extend(outside::ruff_src_roots(&ws.root, now));
    roots.sort();
    roots.dedup();
    let mut args = vec!["ls-tree", "-r", "-z", "--name-only", rev, "--"];
    args.extend(roots.iter().map(String::as_str));
    let then_files = git_about(&ws.root, rev, &args)?;
    let now_paths: Vec<(String, bool)> = now
        .files
        .iter()
        .map(|f| (format!("{PYTHON_DIR}/{}", f.rel), false))
        .chain(
            now.empty_folders
                .iter()
                .map(|d| (format!("{PYTHON_DIR}/{d}"), true)),
        )
        .collect();
    let mut moved = Vec::new();
    for root in &roots {
        let then = module_paths_under(root, then_files.iter().map(|f| (f.as_str(), false)));
        let now = module_paths_under(root, now_paths.iter().map(|(p, d)| (p.as_str(), *d)));
        let root = root.trim_end_matches('/');
        moved.extend(
            then.symmetric_difference(&now)
                .map(|module| (root.to_owned(), module.replace('/', "."))),
        );
    }
    Ok(moved)
}

/// The first of `moved` (root, module) that a file under `python/` outside the selected packages
/// names, with that file: an import of it there may change sides. A file names a module when its
/// text holds the dotted path (`import pluggy._hooks`, `from pluggy._hooks import x`, the same in
/// a notebook's JSON); the files ruff checks are read: `*.py`, `*.pyi` and `*.ipynb`, or every
/// file when a ruff configuration sets `include` or `extend-include`. Blind spot: an import
/// that spells the path with spaces or a line break around a dot (`import pluggy . _hooks`),
/// which `ruff format --check` fails unless the line is exempt from formatting. Files of selected packages are not read: their jobs run
/// anyway. Nothing is read when no module path moved (the common case).
fn named_elsewhere(
    ws: &Workspace,
    now: &digest::Tree,
    moved: &[(String, String)],
    selected: &BTreeMap<String, String>,
) -> Option<(String, String, String)> {
    if moved.is_empty() {
        return None;
    }
    let python = ws.root.join(PYTHON_DIR);
    // The files ruff checks: by default Python files and notebooks (a large data file or model
    // is never read); any file when a configuration includes more.
    let configs: Vec<&str> = outside::ruff_configs(now.files.iter()).collect();
    let any_file = outside::ruff_includes_more(&ws.root, &configs);
    let checked = |rel: &str| {
        any_file
            || [".py", ".pyi", ".ipynb"]
                .iter()
                .any(|ext| rel.ends_with(ext))
    };
    let skip: Vec<String> = ws
        .packages
        .iter()
        .filter(|p| selected.contains_key(&p.name))
        .map(|p| format!("{}/", p.rel))
        .collect();
    for file in &now.files {
        let rel = format!("{PYTHON_DIR}/{}", file.rel);
        if !checked(&rel) || skip.iter().any(|s| rel.starts_with(s.as_str())) {
            continue;
        }
        let Ok(text) = std::fs::read(python.join(&file.rel)) else {
            continue;
        };
        if let Some((root, module)) = moved
            .iter()
            .find(|(_, module)| memchr::memmem::find(&text, module.as_bytes()).is_some())
        {
            return Some((root.clone(), module.clone(), rel));
        }
    }
    None
}

/// The module paths that the given paths (from the root; a folder's ends in `/`) make under
/// `root`: each folder on the way that an import can name, and each `.py` or `.pyi` file's stem
/// (`pluggy`, `pluggy/_hooks`), up to the first part no import can name.
fn module_paths_under<'p>(
    root: &str,
    paths: impl Iterator<Item = (&'p str, bool)>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, is_dir) in paths {
        let Some(rest) = path.strip_prefix(root) else {
            continue;
        };
        let is_dir = is_dir || rest.ends_with('/');
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let mut module = String::new();
        for (i, part) in parts.iter().enumerate() {
            let folder = is_dir || i + 1 < parts.len();
            let Some(name) = identifier_stem(part, folder) else {
                break;
            };
            if !module.is_empty() {
                module.push('/');
            }
            module.push_str(&name);
            out.insert(module.clone());
        }
    }
    out
}

/// A folder's name, a `.py` or `.pyi` file's stem, when an import can say it.
fn identifier_stem(name: &str, is_dir: bool) -> Option<String> {
    let stem = if is_dir {
        name
    } else {
        name.strip_suffix(".py")
            .or_else(|| name.strip_suffix(".pyi"))?
    };
    let identifier = stem
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_alphabetic())
        && stem.chars().all(|c| c == '_' || c.is_alphanumeric());
    identifier.then(|| stem.to_owned())
}

/// Why every package is concerned when a changed `pyproject.toml` gives a package another
/// distribution name than at `rev`: the packages that installed it by its old name are in no
/// graph of now (their venvs and locks change all the same).
fn renamed_distribution(ws: &Workspace, rev: &str, changed: &[String]) -> Option<String> {
    ws.packages.iter().find_map(|package| {
        let file = format!("{}/pyproject.toml", package.rel);
        if !changed.contains(&file) {
            return None;
        }
        let old = crate::cmd::Cmd::new("git")
            .arg("-C")
            .arg(&ws.root)
            .arg("show")
            .arg(format!("{rev}:./{file}"))
            .output()
            .ok()
            .filter(|out| out.success())?;
        let doc: toml_edit::DocumentMut = old.output.parse().ok()?;
        let name = doc.get("project")?.get("name")?.as_str()?;
        (workspace::normalize(name) != workspace::normalize(&package.dist)).then(|| {
            format!(
                "{file} renames the distribution {name} (at {rev}) to {}",
                package.dist
            )
        })
    })
}

/// One git command about `rev`, run in the root: the NUL-separated names it printed.
fn git_about(root: &Path, rev: &str, args: &[&str]) -> Result<Vec<String>> {
    let fix = not_a_revision(root, rev);
    Ok(git_paths_at_once(root, &[(args, &fix)])?.remove(0))
}

/// What to ask when git fails on `rev`.
fn not_a_revision(root: &Path, rev: &str) -> String {
    format!(
        "is `{rev}` a commit, branch or tag of the git repository of {}? (`{}` lists the \
         branches; a remote's needs a `git fetch` first)",
        root.display(),
        crate::cmd::Cmd::new("git")
            .arg("-C")
            .arg(root)
            .args(["branch", "--all"])
            .display()
    )
}

/// Files changed since `rev` (committed, staged, unstaged and untracked; added, deleted, and both
/// sides of a rename), relative to the root with `/`, wherever in its repository the root is.
pub fn changed_files(root: &Path, rev: &str) -> Result<Vec<String>> {
    let fix = not_a_revision(root, rev);
    // `--relative`: paths relative to the root (git prints them relative to the top otherwise),
    // and only changes under it. `--no-renames`: a move is a deletion and an addition, so both
    // packages count. `-z`: names as they are, not quoted. The untracked files' names are
    // relative to the working folder (the root) already.
    let diff: &[&str] = &[
        "diff",
        "--name-only",
        "-z",
        "--relative",
        "--no-renames",
        rev,
        "--",
    ];
    let untracked: &[&str] = &["ls-files", "-z", "--others", "--exclude-standard"];
    let in_repo = format!("is {} in a git repository?", root.display());
    let mut files: Vec<String> = git_paths_at_once(root, &[(diff, &fix), (untracked, &in_repo)])?
        .into_iter()
        .flatten()
        .collect();
    // git holds no empty folder, so every one here is a change from the revision.
    files.extend(empty_folders(root));
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every folder under `python/` that holds no file a tool reads (see
/// [`digest::Tree::empty_folders`]), relative to the root and ending in `/`: an input of the
/// keys that git cannot hold, so never what a revision has.
pub fn empty_folders(root: &Path) -> Vec<String> {
    let python = root.join(PYTHON_DIR);
    digest::tree_listing(&python, &workspace::tool_roots(root))
        .empty_folders
        .into_iter()
        .map(|rel| format!("{PYTHON_DIR}/{rel}"))
        .collect()
}

/// `here`: the package the current folder is in; with no other selection, it alone is selected.
pub fn select<'a>(
    ws: &'a Workspace,
    names: &[String],
    changed_since: Option<&str>,
    here: Option<&'a Package>,
) -> Result<Selection<'a>> {
    let changed = match changed_since {
        // The cause first, then the flag it came from.
        Some(rev) => Some(
            changed_files(&ws.root, rev)
                .map_err(|e| anyhow::anyhow!("{e:#} (`--changed-since {rev}`)"))?,
        ),
        None => None,
    };
    select_from(ws, names, changed.as_deref(), here)
}

/// [`select`], with the files changed since the revision already read (`ci plan` reads them
/// once for its own rules too).
pub fn select_from<'a>(
    ws: &'a Workspace,
    names: &[String],
    changed: Option<&[String]>,
    here: Option<&'a Package>,
) -> Result<Selection<'a>> {
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    let mut changed_venvs = BTreeSet::new();
    let mut all = names.is_empty() && changed.is_none();
    if all && let Some(package) = here {
        all = false;
        reasons.insert(package.name.clone(), HERE.into());
    }
    for name in names {
        // The cause first, then the flag it came from.
        let package = ws
            .package(name)
            .map_err(|e| anyhow::anyhow!("{e} (--package {name})"))?;
        reasons.insert(package.name.clone(), NAMED.into());
    }
    if let Some(files) = changed {
        let mut changes = Changes {
            ws,
            files,
            reasons: &mut reasons,
        };
        all |= changes.shared_file();
        changes.hadolint_configuration();
        changes.package_files();
        changed_venvs = changes.install_inputs();
        changes.dependents();
    }
    let packages = ws
        .packages
        .iter()
        .filter(|p| all || reasons.contains_key(&p.name))
        .collect();
    Ok(Selection {
        packages,
        reasons,
        all,
        changed: changed.map(<[String]>::to_vec).unwrap_or_default(),
        changed_venvs,
    })
}

/// The packages that files changed since a revision concern, each with its first reason, one
/// rule a step.
struct Changes<'w, 'r> {
    ws: &'w Workspace,
    files: &'w [String],
    reasons: &'r mut BTreeMap<String, String>,
}

impl Changes<'_, '_> {
    fn concern(&mut self, package: &str, reason: impl FnOnce() -> String) {
        self.reasons
            .entry(package.to_owned())
            .or_insert_with(reason);
    }

    /// A file under python/ in no package (pyproject.toml, .python-version, conftest.py,
    /// ruff.toml, tests/e2e/...) may be read by any tool job: every package is concerned. So may
    /// the installer's configuration at the root: it changes every venv; and the root's
    /// .gitattributes, by which a checkout writes every file (`eol=crlf`). True when one changed.
    fn shared_file(&mut self) -> bool {
        let prefixes: Vec<String> = self
            .ws
            .packages
            .iter()
            .map(|p| format!("{}/", p.rel))
            .collect();
        let shared = self.files.iter().find(|f| {
            (f.starts_with(&format!("{PYTHON_DIR}/"))
                && !prefixes.iter().any(|p| f.starts_with(p.as_str())))
                || crate::env::installer::CONFIG_FILES.contains(&f.as_str())
                || f.as_str() == ".gitattributes"
        });
        let Some(shared) = shared else {
            return false;
        };
        for p in &self.ws.packages {
            self.concern(&p.name, || format!("{shared} changed"));
        }
        true
    }

    /// hadolint's configuration at the root: the deploy job of every service reads it when no
    /// nearer one is there (`python/.hadolint.yaml` is a shared file above).
    fn hadolint_configuration(&mut self) {
        let hadolint = self
            .files
            .iter()
            .find(|f| crate::env::hadolint::CONFIG_NAMES.contains(&f.as_str()));
        if let Some(config) = hadolint {
            for service in self.ws.services() {
                self.concern(&service.name, || format!("{config} changed"));
            }
        }
    }

    /// A package with a changed file of its own.
    fn package_files(&mut self) {
        for package in &self.ws.packages {
            let prefix = format!("{}/", package.rel);
            if let Some(file) = self.files.iter().find(|f| f.starts_with(&prefix)) {
                self.concern(&package.name, || format!("{file} changed"));
            }
        }
    }

    /// A changed install input (a pyproject.toml, a requirement file) changes every venv that
    /// installs the package: every package checked in those venvs is concerned. The venvs that
    /// change, by their service's name.
    fn install_inputs(&mut self) -> BTreeSet<String> {
        let mut changed_venvs = BTreeSet::new();
        for package in &self.ws.packages {
            let input = self.files.iter().find(|f| {
                f.strip_prefix(&format!("{}/", package.rel))
                    .is_some_and(|name| {
                        name == "pyproject.toml"
                            || (name.starts_with("requirements") && name.ends_with(".txt"))
                    })
            });
            let Some(input) = input else { continue };
            for owner in self.ws.venvs_of(package) {
                changed_venvs.insert(owner.name.clone());
                for installed in self.ws.closure(owner).unwrap_or_default() {
                    self.concern(&installed.name, || {
                        format!(
                            "the venv of {} changes ({input} changed)",
                            owner.folder_name()
                        )
                    });
                }
            }
        }
        changed_venvs
    }

    /// The dependents of every package concerned so far.
    fn dependents(&mut self) {
        let ws = self.ws;
        let changed: Vec<&Package> = ws
            .packages
            .iter()
            .filter(|p| self.reasons.contains_key(&p.name))
            .collect();
        for package in changed {
            for dependent in ws.dependents(package) {
                self.concern(&dependent.name, || {
                    format!("depends on {}", package.folder_name())
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link whose target is gone leads where the system would take it: through a linked
    /// folder and the `..` after it, and through a link to a link.
    #[cfg(unix)]
    #[test]
    fn a_broken_link_leads_where_the_system_would_go() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("xtask-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/real")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        let dir = std::fs::canonicalize(&dir).unwrap();
        symlink("../a/real", dir.join("b/folder")).unwrap();
        // Read as written: b/real/gone.txt; the system: a/real/.. is a, then a/real/gone.txt.
        symlink("folder/../real/gone.txt", dir.join("b/file")).unwrap();
        symlink("file", dir.join("b/chain")).unwrap();
        let mut places = Places::default();
        let gone = dir.join("a/real/gone.txt");
        assert_eq!(places.real(&dir.join("b/file")), Some(gone.clone()));
        assert_eq!(places.real(&dir.join("b/chain")), Some(gone));
        std::fs::write(dir.join("b/plain.txt"), "").unwrap();
        assert_eq!(
            places.real(&dir.join("b/plain.txt")),
            Some(dir.join("b/plain.txt"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
