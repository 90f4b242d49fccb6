//! What the tools read outside `python/`: an input of every job ([`crate::engine::inputs`]).
//!
//! - **git's ignore rules**: ruff skips the files git ignores, so an ignore rule decides what it
//!   checks. Every `.gitignore` from the repository's top folder down to `python/` (those under
//!   `python/` are files of the tree already), the repository's `info/exclude`, the files
//!   `core.excludesFile` names in any of git's scopes, and git's default
//!   (`$XDG_CONFIG_HOME/git/ignore`): ruff reads only the user's setting, git the repository's
//!   first.
//! - **`.ignore` files**: ruff honours them as it does `.gitignore`, in every folder above
//!   `python/` to the file system's top, in a repository or not.
//! - **configuration that `python/` configuration extends**: ruff's `extend` in any
//!   `pyproject.toml`, `ruff.toml` or `.ruff.toml` under `python/` (ruff's configuration is
//!   hierarchical: one in any folder applies below it), followed from file to file, wherever it
//!   leads.
//! - **`src` folders outside `python/`** that a ruff configuration under `python/` names, or one
//!   it extends (wherever that is): ruff calls an import first-party when its module path is
//!   there. They count by the paths they hold at every depth, not by content.
//! - **ruff's user configuration** (`~/.config/ruff/ruff.toml` and the like), which ruff reads
//!   when no project configuration applies.
//! - **files an option or a variable names** ([`crate::engine::option_files`]): pytest's `@file`
//!   arguments (in `addopts`, `PYTEST_ADDOPTS`, or passed on by `test -- ARGS`), the files
//!   `--cov-config` and `COVERAGE_RCFILE` name, mypy's plugins given by path, and the folders
//!   of mypy's `mypy_path` and pytest's `pythonpath` (by the content of every file in them).
//!
//! Each file counts by its path and content, a `mypy_path` folder by every file's path and
//! content; a missing one counts as missing. A file that `extend` or an option names counts
//! wherever it is, under `python/` too: one in another package's folder is no file of this
//! package's jobs otherwise (the keys count only their readers' files).

use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item};

use crate::cmd::Cmd;
use crate::digest::{self, Hasher, TreeFile, hash};
use crate::engine::option_files::{self, named_by_options};
use crate::project::PYTHON_DIR;
use crate::workspace;

/// The ruff configuration files among the files of a walk of `python/`, by name (see
/// [`RUFF_CONFIGS`]): their paths relative to `python/`.
pub fn ruff_configs<'a>(
    files: impl Iterator<Item = &'a TreeFile>,
) -> impl Iterator<Item = &'a str> {
    files.map(|f| f.rel.as_str()).filter(|rel| {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        RUFF_CONFIGS.contains(&name)
    })
}

/// What the tools read outside `python/`: the one list behind both the keys ([`digest`]) and
/// the hooks ([`paths_read`]).
struct Read {
    /// Files by content, and `src` folders by the paths they hold: the ignore files, what the
    /// ruff configurations extend, the `src` folders outside `python/`, the files the options
    /// name, ruff's user configuration.
    files: Vec<PathBuf>,
    /// Folders read by the content of every file: mypy's `mypy_path` outside `python/`.
    content_folders: Vec<PathBuf>,
}

/// [`Read`], given the ruff configurations under `python/` (relative to it) and the arguments
/// passed on to pytest.
fn files_read(root: &Path, configs: &[&str], passed_on: &[String]) -> Read {
    let chains = ruff_chains(root, configs);
    let named = named_by_options(root, passed_on);
    let mut files = ignore_files(root);
    files.extend(extended_configs(&chains));
    files.extend(ruff_src_outside(root, &chains));
    files.extend(named.files);
    files.extend(mypy_plugin_files(root));
    files.extend(ruff_user_configs());
    files.sort();
    files.dedup();
    Read {
        files,
        content_folders: named.folders,
    }
}

/// ruff's user configuration, which it reads when no project configuration applies to a file
/// (a tree whose `python/` sets no `[tool.ruff]`): `ruff/pyproject.toml`, `ruff/ruff.toml` or
/// `ruff/.ruff.toml` in `$XDG_CONFIG_HOME`, else `~/.config`, and on macOS also in
/// `~/Library/Application Support`. Counted whether or not a project configuration applies
/// (a missing file counts as missing): a few `stat`s, and no rule of ruff's to copy.
fn ruff_user_configs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(xdg));
    }
    if let Some(home) = &home {
        dirs.push(home.join(".config"));
        if cfg!(target_os = "macos") {
            dirs.push(home.join("Library").join("Application Support"));
        }
    }
    dirs.iter()
        .flat_map(|dir| {
            RUFF_CONFIGS
                .iter()
                .map(move |name| dir.join("ruff").join(name))
        })
        .collect()
}

/// What the tools read outside `python/` ([`files_read`]), each path with the digest of what is
/// read there.
pub struct Outside {
    entries: Vec<(PathBuf, String)>,
    /// The digest of them all, made once: a part of every job's key.
    digest: String,
    /// See [`Outside::states`].
    states: String,
}

impl Outside {
    /// Reads them; `configs`: the ruff configurations of the keys' walk of `python/`
    /// ([`ruff_configs`]); `passed_on`: the arguments passed on to pytest (`test -- ARGS`). The
    /// targets of symlinks under `python/` are not here: that walk reads through them.
    pub fn read(root: &Path, configs: &[&str], passed_on: &[String]) -> Outside {
        let Read {
            files,
            content_folders,
        } = files_read(root, configs, passed_on);
        let mut paths = files;
        paths.extend(content_folders.iter().cloned());
        paths.sort();
        paths.dedup();
        // Each path's state is read by the walk that reads its digest: no second walk.
        let mut states = Hasher::new();
        let entries: Vec<(PathBuf, String)> = paths
            .into_iter()
            .map(|path| {
                let by_content = content_folders.contains(&path);
                let digest = read_path(&path, by_content, &mut states);
                (path, digest)
            })
            .collect();
        let mut h = Hasher::new();
        for (path, digest) in &entries {
            h.write(path.to_string_lossy().as_bytes());
            h.write(&[0]);
            h.write(digest.as_bytes());
            h.write(&[0]);
        }
        Outside {
            entries,
            digest: h.finish(),
            states: states.finish(),
        }
    }

    /// The digest of them all: a part of every job's key.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The state (size, modification and change time) of every file read, as when they were
    /// read: a pass is filed only when it is the same after the run (see
    /// [`crate::engine::inputs::Inputs::states_of`]).
    pub fn states(&self) -> &str {
        &self.states
    }

    /// Each path with the digest of what is read there ([`is_missing`] when nothing is).
    pub fn entries(&self) -> &[(PathBuf, String)] {
        &self.entries
    }
}

/// Whether a digest of [`Outside::entries`] stands for a path where nothing is.
pub fn is_missing(digest: &str) -> bool {
    digest == MISSING
}

const MISSING: &str = "missing";

/// The digest of what the tools read at `path`: a file's content; a folder's every file (path
/// and content) when `by_content` (a folder mypy reads modules from), else the paths it holds at
/// every depth (a `src` folder: ruff matches an import's whole module path there, not the
/// content); [`is_missing`] when nothing is there (a file where a folder is read by content
/// too). Its state (its own and, for a folder, every file's below it, from the same walk) is
/// written into `states`.
fn read_path(path: &Path, by_content: bool, states: &mut Hasher) -> String {
    states.write(path.as_os_str().as_encoded_bytes());
    states.write(digest::file_meta(path).as_bytes());
    if !path.is_dir() {
        return if by_content {
            MISSING.to_owned()
        } else {
            fs::read(path).map_or_else(|_| MISSING.to_owned(), |content| hash(&content))
        };
    }
    let tree = if by_content {
        digest::tree_files_reading(path, &[], &mut |_, _| {})
    } else {
        digest::tree_listing(path, &[])
    };
    for file in &tree.files {
        file.write_state(states);
    }
    let mut h = Hasher::new();
    if by_content {
        // Every file's path and content.
        for file in &tree.files {
            h.write(file.rel.as_bytes());
            h.write(&[0]);
            h.write(file.digest.as_bytes());
            h.write(&[0]);
        }
    } else {
        // A `src` folder: the paths it holds.
        for rel in tree.files.iter().map(|f| &f.rel).chain(&tree.empty_folders) {
            h.write(rel.as_bytes());
            h.write(&[0]);
        }
    }
    h.finish()
}

/// What is read at `path` by content: a folder's every file (path and content), or a file's
/// content; [`is_missing`] when nothing is there.
pub fn content_digest(path: &Path) -> String {
    read_path(path, path.is_dir(), &mut Hasher::new())
}

/// Every path outside `python/` that a gate reads, for the hooks, which judge what git holds
/// (what is in the repository among these is watched as `python/` is): [`files_read`], found by
/// the keys' own walk of `python/` (listing, not reading), and where its symlinks lead (a file or
/// a folder), which the keys count by content.
pub fn paths_read(root: &Path) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    let tree = digest::tree_listing(&python, &workspace::tool_roots(root));
    let configs: Vec<&str> = ruff_configs(tree.files.iter()).collect();
    let inside = fs::canonicalize(&python).unwrap_or_else(|_| python.clone());
    let Read {
        files: mut paths,
        content_folders,
    } = files_read(root, &configs, &[]);
    paths.extend(content_folders);
    paths.extend(
        tree.link_targets
            .iter()
            .filter(|target| !target.starts_with(&inside))
            .cloned(),
    );
    paths.sort();
    paths.dedup();
    paths
}

/// [`paths_read`] as git pathspecs from the repository's top (`:(top,literal)path`), those in
/// the repository and outside its `.git`; none outside a repository.
pub fn repo_pathspecs(root: &Path) -> Vec<String> {
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--show-toplevel"])
        .output();
    let Some(top) = out
        .ok()
        .filter(|o| o.success())
        .map(|o| o.output.trim().to_owned())
    else {
        return Vec::new();
    };
    pathspecs_under(&PathBuf::from(top), root)
}

/// [`paths_read`] of `root` as git pathspecs from `top`, the top folder of the repository (or of
/// a worktree of it) that holds `root`: those in it and outside its `.git`.
pub fn pathspecs_under(top: &Path, root: &Path) -> Vec<String> {
    let top = fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    let mut specs: Vec<String> = Vec::new();
    for path in paths_read(root) {
        // A `src` pattern that stands for itself (see `Patterns`): what it matches and below.
        let pattern = !path.exists() && path.to_string_lossy().contains(['*', '?', '[']);
        for rel in repo_paths(&top, &path) {
            if pattern {
                specs.push(format!(":(top,glob){rel}"));
                specs.push(format!(":(top,glob){rel}/**"));
            } else {
                specs.push(format!(":(top,literal){rel}"));
            }
        }
    }
    specs.sort();
    specs.dedup();
    specs
}

/// A path's names in the repository at `top` (canonical), from the top: its own (as written),
/// every symlink on the way to it (git holds the link, not what is below it) and where it really
/// is (what the links lead to, which git holds apart: an edit there changes what is read). None
/// outside the repository or in its `.git`.
fn repo_paths(top: &Path, path: &Path) -> Vec<String> {
    let in_repo = |path: &Path| -> Option<String> {
        let rel = path
            .strip_prefix(top)
            .ok()?
            .to_string_lossy()
            .replace('\\', "/");
        (!rel.is_empty() && rel != ".git" && !rel.starts_with(".git/")).then_some(rel)
    };
    let mut out: Vec<String> = in_repo(path).into_iter().collect();
    let mut at = PathBuf::new();
    for part in path.components() {
        at.push(part);
        if at.starts_with(top) && fs::symlink_metadata(&at).is_ok_and(|m| m.is_symlink()) {
            out.extend(in_repo(&at));
        }
    }
    if let Ok(real) = fs::canonicalize(path) {
        out.extend(in_repo(&real));
    }
    out
}

/// The ignore files that apply to `python/` from outside it: `.ignore` in every folder above it,
/// and git's (none outside a repository).
fn ignore_files(root: &Path) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    let mut files: Vec<PathBuf> = python
        .ancestors()
        .skip(1)
        .map(|d| d.join(".ignore"))
        .collect();
    let Some((top, common_dir)) = repository(root) else {
        return files;
    };
    files.push(common_dir.join("info").join("exclude"));
    let mut dir = root.join(PYTHON_DIR);
    while let Some(parent) = dir.parent() {
        files.push(parent.join(".gitignore"));
        if parent == top {
            break;
        }
        dir = parent.to_path_buf();
    }
    files.extend(global_excludes(root));
    files
}

/// The repository's top folder and its common git folder (where `info/exclude` lives, shared by
/// every worktree), found by looking, without running git.
pub fn repository(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let top = root.ancestors().find(|d| d.join(".git").exists())?;
    let dot_git = top.join(".git");
    if dot_git.is_dir() {
        return Some((top.to_path_buf(), dot_git));
    }
    // A worktree: `.git` is a file `gitdir: <path>`, whose `commondir` leads to the common one.
    let text = fs::read_to_string(&dot_git).ok()?;
    let git_dir = top.join(text.strip_prefix("gitdir:")?.trim());
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir,
    };
    Some((top.to_path_buf(), common))
}

/// The files `core.excludesFile` names in any of git's configuration scopes, and git's default
/// (`$XDG_CONFIG_HOME/git/ignore`, else `~/.config/git/ignore`): git takes the repository's own
/// setting first, while ruff reads only the user's configuration, and falls back to the default.
/// Counting every one covers both.
fn global_excludes(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["config", "--path", "--get-all", "core.excludesFile"])
        .output()
        .ok()
        .filter(|out| out.success())
        .map(|out| {
            out.output
                .lines()
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    files.extend(config_home.map(|d| d.join("git").join("ignore")));
    files
}

/// The names of the files ruff reads its configuration from.
pub const RUFF_CONFIGS: &[&str] = &["pyproject.toml", "ruff.toml", ".ruff.toml"];

/// Each ruff configuration under `python/` (`configs`, relative to it) with those its `extend`
/// leads to ([`ruff_chain`]): found once, for every setting read from them.
fn ruff_chains(root: &Path, configs: &[&str]) -> Vec<Vec<PathBuf>> {
    let python = root.join(PYTHON_DIR);
    configs
        .iter()
        .map(|rel| ruff_chain(&python.join(rel)))
        .collect()
}

/// The files ruff's `extend` leads to in `chains` ([`ruff_chains`]), wherever they are: one in
/// another package's folder is no file of this package's jobs otherwise.
fn extended_configs(chains: &[Vec<PathBuf>]) -> Vec<PathBuf> {
    chains
        .iter()
        .flat_map(|chain| chain.iter().skip(1))
        .cloned()
        .collect()
}

/// A ruff configuration and those its `extend` leads to, followed from file to file (at most 16
/// steps: a loop ends).
fn ruff_chain(start: &Path) -> Vec<PathBuf> {
    let mut chain = vec![start.to_path_buf()];
    for _ in 0..16 {
        let Some(next) = chain.last().and_then(|config| ruff_extend(config)) else {
            break;
        };
        chain.push(next);
    }
    chain
}

/// The file a ruff configuration's `extend` names, resolved from the configuration's folder.
fn ruff_extend(config: &Path) -> Option<PathBuf> {
    let settings = ruff_settings(config, "extend")?;
    let extend = expand(settings.get("extend")?.as_str()?);
    Some(lexical(&config.parent()?.join(extend)))
}

/// The settings of a ruff configuration file (`[tool.ruff]` in a `pyproject.toml`, the whole of
/// a `ruff.toml`), when its text holds `needle`: most configurations set none of the few keys
/// read here, and are not parsed.
fn ruff_settings(config: &Path, needle: &str) -> Option<Item> {
    let text = fs::read_to_string(config).ok()?;
    if !text.contains(needle) {
        return None;
    }
    let doc: DocumentMut = text.parse().ok()?;
    if config.file_name()? == "pyproject.toml" {
        doc.get("tool")?.get("ruff").cloned()
    } else {
        Some(doc.as_item().clone())
    }
}

/// `a/b/../c` as `a/c`, without asking the file system (the file may not exist).
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A path of a ruff setting as ruff expands it (`shellexpand::full`): `~/x` as the home
/// folder's `x`, `$NAME` and `${NAME}` as the variable's value. A variable that is not set is
/// left as written (ruff refuses such a configuration).
fn expand(path: &str) -> PathBuf {
    expand_with(path, &[])
}

/// [`expand`], with `extra` variables that the tool defines itself (mypy's
/// `MYPY_CONFIG_FILE_DIR`) looked up before the environment.
pub(crate) fn expand_with(path: &str, extra: &[(&str, &str)]) -> PathBuf {
    let var = |name: &str| {
        extra
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| std::env::var(name).ok())
    };
    let home = std::env::var("HOME").ok();
    let (mut out, rest) = match (path.strip_prefix('~'), &home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            (home.clone(), rest)
        }
        _ => (String::new(), path),
    };
    let mut chars = rest.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek().is_some_and(|&(_, c)| c == '{');
        let start = if braced { at + 2 } else { at + 1 };
        let end = if braced {
            rest[start..].find('}').map(|n| start + n)
        } else {
            let n = rest[start..]
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(rest.len() - start);
            (n > 0).then_some(start + n)
        };
        let value = end.and_then(|end| var(&rest[start..end]));
        match (end, value) {
            (Some(end), Some(value)) => {
                out.push_str(&value);
                let skip_to = if braced { end + 1 } else { end };
                while chars.peek().is_some_and(|&(i, _)| i < skip_to) {
                    chars.next();
                }
            }
            _ => out.push('$'),
        }
    }
    PathBuf::from(out)
}

/// The folders ruff's `src` setting names under `python/`, relative to the root, each ending in
/// `/`: [`src_folders_named`] by the ruff configurations under `python/` (found in `tree`, a
/// listing of it as the keys walk it) and those they extend. Those outside `python/`:
/// [`ruff_src_outside`].
pub fn ruff_src_roots(root: &Path, tree: &digest::Tree) -> Vec<String> {
    let python = root.join(PYTHON_DIR);
    let configs: Vec<&str> = ruff_configs(tree.files.iter()).collect();
    let mut roots: Vec<String> = src_folders_named(&ruff_chains(root, &configs), Patterns::Matches)
        .into_iter()
        .filter_map(|dir| {
            let rel = dir
                .strip_prefix(&python)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            Some(match rel.as_str() {
                "" | "." => format!("{PYTHON_DIR}/"),
                rel => format!("{PYTHON_DIR}/{rel}/"),
            })
        })
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The folders outside `python/` that ruff's `src` setting names (`"../shared"`, or `"shared"`
/// in a configuration outside `python/` that one there extends): ruff calls an import
/// first-party when a module of its name is there, so the names they hold are an input of every
/// ruff job, and the hooks watch them whole. A folder that is not there counts as missing.
fn ruff_src_outside(root: &Path, chains: &[Vec<PathBuf>]) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    src_folders_named(chains, Patterns::Above)
        .into_iter()
        .filter(|dir| !dir.starts_with(&python))
        .collect()
}

/// Every folder a `src` entry names in the ruff configurations of `chains` ([`ruff_chains`]).
/// ruff resolves a configuration's relative paths from that configuration's folder; an entry of
/// an extended one is also resolved from the folder of the configuration that extends it, in
/// case a ruff release reads it so (a union only widens what a caller watches). Globs: as
/// `patterns` says. Not read: ruff's default `src` (the project's folder and
/// its `src/`), which lies in `python/` for a configuration there.
fn src_folders_named(chains: &[Vec<PathBuf>], patterns: Patterns) -> Vec<PathBuf> {
    let mut folders = Vec::new();
    for chain in chains {
        let Some(start_dir) = chain.first().and_then(|start| start.parent()) else {
            continue;
        };
        for config in chain {
            let Some(dir) = config.parent() else {
                continue;
            };
            for entry in setting_entries(config, "src") {
                folders.extend(src_folders(dir, &entry, patterns));
                if dir != start_dir {
                    folders.extend(src_folders(start_dir, &entry, patterns));
                }
            }
        }
    }
    folders.sort();
    folders.dedup();
    folders
}

/// The entries of one list setting of a ruff configuration file (`src`).
fn setting_entries(config: &Path, key: &str) -> Vec<String> {
    string_entries(ruff_settings(config, key).as_ref().and_then(|s| s.get(key)))
}

/// The strings of a list setting; none when it is not a list.
fn string_entries(list: Option<&Item>) -> Vec<String> {
    list.and_then(Item::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Whether a ruff configuration under `python/` (in `configs`, relative to it) or one it extends
/// sets `include` or `extend-include`: ruff then checks files beyond `*.py`, `*.pyi` and
/// `*.ipynb`.
pub fn ruff_includes_more(root: &Path, configs: &[&str]) -> bool {
    // `include` is in `extend-include` too: one read a file finds either.
    ruff_chains(root, configs).iter().flatten().any(|config| {
        ruff_settings(config, "include").is_some_and(|settings| {
            ["include", "extend-include"]
                .iter()
                .any(|key| !string_entries(settings.get(key)).is_empty())
        })
    })
}

/// The folders one `src` entry names, resolved from `dir` (`~/` expanded, `..` taken
/// lexically): the one it names, or for a glob those that are there now.
fn src_folders(dir: &Path, entry: &str, patterns: Patterns) -> Vec<PathBuf> {
    let entry = entry.trim_start_matches("./").trim_end_matches('/');
    let path = lexical(&dir.join(expand(entry)));
    if !entry.contains(['*', '?', '[']) {
        return vec![path];
    }
    if patterns == Patterns::Above {
        let literal: Vec<&str> = entry
            .split('/')
            .take_while(|part| !part.contains(['*', '?', '[']))
            .collect();
        let above = lexical(&dir.join(expand(&literal.join("/"))));
        // Not a folder that holds the configuration's (`../*`): that would be all of it. Then
        // the folders it matches now, and the pattern itself, which the hooks watch as one.
        if !dir.starts_with(&above) {
            return vec![above];
        }
    }
    let mut found: Vec<PathBuf> = glob::glob(&path.to_string_lossy())
        .map(|found| found.flatten().filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    if patterns == Patterns::Above {
        found.push(path);
    }
    found
}

/// What a `src` entry with a wildcard stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Patterns {
    /// The folders it matches now.
    Matches,
    /// The folder above its first wildcard, which holds every folder it matches now and every
    /// one a commit may add: what the hooks watch outside `python/` (a list found in a work tree
    /// at another commit would miss a folder the pushed one adds), and the keys read whole.
    Above,
}

/// mypy's plugins given as a path (`plugins = ["../checks.py"]`, from `python/`): mypy runs
/// the file's code. One given as a module is a local package's (see `Inputs::readers`) or an
/// installed one's.
fn mypy_plugin_files(root: &Path) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    mypy_plugins(root)
        .iter()
        .map(|plugin| {
            plugin
                .rsplit_once(':')
                .map_or(plugin.as_str(), |(path, _)| path)
        })
        .filter(|plugin| plugin.ends_with(".py") || plugin.contains(['/', '\\']))
        .map(|plugin| lexical(&python.join(plugin)))
        .collect()
}

/// The plugins `[tool.mypy] plugins` in `python/pyproject.toml` names: modules, or paths from
/// `python/`.
pub fn mypy_plugins(root: &Path) -> Vec<String> {
    let pyproject = root.join(PYTHON_DIR).join("pyproject.toml");
    let Some(plugins) = option_files::tool_setting(&pyproject, "mypy", "plugins") else {
        return Vec::new();
    };
    match plugins.as_str() {
        Some(one) => one.split(',').map(|p| p.trim().to_owned()).collect(),
        None => option_files::strings(&plugins),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside `python/`, a `src` pattern stands for the folder above its first wildcard: a
    /// folder a pushed commit adds there is watched though the work tree lacks it; never a
    /// folder that holds the configuration's.
    #[test]
    fn a_src_pattern_outside_stands_for_the_folder_above_it() {
        let dir = std::env::temp_dir().join(format!("xtask-src-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        fs::create_dir_all(dir.join("vendor/old")).unwrap();
        fs::create_dir_all(&python).unwrap();
        assert_eq!(
            src_folders(&python, "../vendor/*", Patterns::Above),
            [dir.join("vendor")]
        );
        assert_eq!(
            src_folders(&python, "../vendor/*", Patterns::Matches),
            [dir.join("vendor/old")]
        );
        let all = src_folders(&python, "../*", Patterns::Above);
        assert!(
            all.contains(&python) && all.contains(&dir.join("vendor")),
            "{all:?}"
        );
        // A wildcard in a folder beside the configuration's: the pattern stands for itself.
        let beside = src_folders(&python, "../vendor-*", Patterns::Above);
        assert_eq!(beside, [dir.join("vendor-*")]);
        fs::create_dir_all(dir.join("vendor-x")).unwrap();
        let beside = src_folders(&python, "../vendor-*", Patterns::Above);
        assert_eq!(beside, [dir.join("vendor-x"), dir.join("vendor-*")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Every file's `src` counts, globs name the folders there now, an extended configuration's
    /// entries count from its own folder, and a root outside `python/` counts by the names it
    /// holds.
    #[test]
    fn ruff_src_roots_are_read_from_every_configuration_and_what_it_extends() {
        let root = std::env::temp_dir().join(format!("xtask-src-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("python/libs/a/extra")).unwrap();
        fs::create_dir_all(root.join("python/libs/b")).unwrap();
        fs::write(
            root.join("python/pyproject.toml"),
            "[tool.ruff]\nsrc = [\"libs/*/extra\", \"../outside\"]\n",
        )
        .unwrap();
        fs::write(root.join("python/ruff.toml"), "src = [\".\", \"tools\"]\n").unwrap();
        // A package's own configuration extends one outside python/, whose `src` names `far`.
        fs::write(
            root.join("python/libs/b/pyproject.toml"),
            "[project]\nname = \"b\"\n[tool.ruff]\nextend = \"../../../base.toml\"\n",
        )
        .unwrap();
        fs::write(root.join("base.toml"), "src = [\"far\"]\n").unwrap();
        let tree = digest::tree_listing(&root.join("python"), &workspace::tool_roots(&root));
        assert_eq!(
            ruff_src_roots(&root, &tree),
            [
                "python/",
                "python/libs/a/extra/",
                "python/libs/b/far/",
                "python/tools/"
            ]
        );
        let configs = ["pyproject.toml", "ruff.toml", "libs/b/pyproject.toml"];
        // Those outside: their names are read, their content is not.
        assert_eq!(
            ruff_src_outside(&root, &ruff_chains(&root, &configs)),
            [root.join("far"), root.join("outside")]
        );
        let before = Outside::read(&root, &configs, &[]).digest().to_owned();
        fs::create_dir_all(root.join("outside")).unwrap();
        let empty = Outside::read(&root, &configs, &[]).digest().to_owned();
        assert_ne!(empty, before);
        fs::write(root.join("outside/pluggy.py"), "").unwrap();
        let named = Outside::read(&root, &configs, &[]).digest().to_owned();
        assert_ne!(named, empty);
        fs::write(root.join("outside/pluggy.py"), "x = 1\n").unwrap();
        assert_eq!(
            Outside::read(&root, &configs, &[]).digest().to_owned(),
            named
        );
        fs::create_dir_all(root.join("far")).unwrap();
        fs::write(root.join("far/pluggy.py"), "").unwrap();
        assert_ne!(
            Outside::read(&root, &configs, &[]).digest().to_owned(),
            named
        );
        fs::remove_dir_all(&root).unwrap();
    }

    /// `~`, `$NAME` and `${NAME}` as ruff expands them; what is not set stays as written.
    #[test]
    fn setting_paths_are_expanded_as_ruff_expands_them() {
        let home = std::env::var("HOME").unwrap_or_default();
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(expand("~/x"), PathBuf::from(format!("{home}/x")));
        assert_eq!(expand("a/~/x"), PathBuf::from("a/~/x"));
        assert_eq!(expand("$PATH/x"), PathBuf::from(format!("{path}/x")));
        assert_eq!(expand("${PATH}x"), PathBuf::from(format!("{path}x")));
        assert_eq!(expand("a/$PATH"), PathBuf::from(format!("a/{path}")));
        let unset = "XTASK_SURELY_UNSET_VARIABLE";
        assert!(std::env::var_os(unset).is_none());
        assert_eq!(
            expand(&format!("${unset}/x")),
            PathBuf::from(format!("${unset}/x"))
        );
        assert_eq!(expand("a$/b"), PathBuf::from("a$/b"));
        assert_eq!(expand("${PATH"), PathBuf::from("${PATH"));
    }

    #[test]
    fn an_extended_ruff_configuration_outside_python_counts() {
        let root = std::env::temp_dir().join(format!("xtask-outside-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("python")).unwrap();
        fs::write(
            root.join("python/pyproject.toml"),
            "[tool.ruff]\nextend = \"../shared.toml\"\n",
        )
        .unwrap();
        fs::write(root.join("shared.toml"), "line-length = 100\n").unwrap();
        let before = Outside::read(&root, &["pyproject.toml"], &[])
            .digest()
            .to_owned();
        fs::write(root.join("shared.toml"), "line-length = 90\n").unwrap();
        assert_ne!(
            Outside::read(&root, &["pyproject.toml"], &[])
                .digest()
                .to_owned(),
            before
        );
        assert_eq!(
            extended_configs(&ruff_chains(&root, &["pyproject.toml"])),
            [root.join("shared.toml")]
        );
        // The hooks' list: the same extended file, found by the keys' walk, and where a symlink
        // under python/ leads outside it.
        fs::create_dir_all(root.join("fixtures")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("../fixtures", root.join("python/data")).unwrap();
        let read = paths_read(&root);
        let real = |rel: &str| fs::canonicalize(root.join(rel)).unwrap();
        assert!(read.contains(&root.join("shared.toml")), "{read:?}");
        #[cfg(unix)]
        assert!(read.contains(&real("fixtures")), "{read:?}");
        fs::remove_dir_all(&root).unwrap();
    }
}
