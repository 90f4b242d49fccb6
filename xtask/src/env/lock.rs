//! The lock of a venv owner (a service, or a library with a venv of its own): one resolution of
//! the third-party requirements of its install set, for every platform and every Python from the
//! floor of `requires-python` up, with hashes, by the pinned uv. Written beside its
//! `pyproject.toml` in two files: `requirements.txt` (what runs) and `requirements-dev.txt` (the
//! dev tools, resolved with the runtime pins as constraints and without repeating them).
//!
//! Each file's header records a digest of every input, one line each, so that `lock --check` and
//! `verify` tell offline, in milliseconds, whether the lock is what a new `lock` would start
//! from, and name the input that changed; and a digest of the file's own pins, so that a hand
//! edit is noticed too.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::digest::{self, hash};
use crate::env::build_bytecode::BuildBytecode;
use crate::env::installer::{self, UV_VERSION};
use crate::env::requirements;
use crate::fsutil;
use crate::project;
use crate::workspace::pep440::Version;
use crate::workspace::{DevSource, Package, Workspace, normalize, requirement_name};

/// The runtime lock and the dev lock, beside the owner's `pyproject.toml`.
pub const RUNTIME: &str = "requirements.txt";
pub const DEV: &str = "requirements-dev.txt";

/// uv's variables that change *what* a resolution picks (not where from: an index mirror stays
/// the person's): a lock is the same for everyone, so they are not seen by `lock`.
const RESOLUTION_VARS: &[&str] = &[
    "UV_PRERELEASE",
    "UV_RESOLUTION",
    "UV_EXCLUDE_NEWER",
    "UV_OVERRIDE",
    "UV_CONSTRAINT",
    "UV_BUILD_CONSTRAINT",
    "UV_FORK_STRATEGY",
    "UV_TORCH_BACKEND",
    "UV_NO_BINARY",
    "UV_ONLY_BINARY",
    "UV_PYTHON",
];

/// Bumped when the way a lock is made changes, so every lock is made again.
const RECIPE: &str = "1";

/// Which pins a `lock` may move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Keep every pin the inputs still allow.
    None,
    /// Resolve everything anew, to the newest versions allowed.
    All,
    /// Move only these packages.
    Packages(Vec<String>),
    /// These were just added (or their requirement changed): the newest versions that fit, the
    /// others kept, as `uv add` does. When the index cannot be reached (`UV_OFFLINE`, no
    /// network), uv's cache answers, and [`Locked::Written`] says so.
    Added(Vec<String>),
}

/// Whether `UV_OFFLINE` keeps uv from every index (uv reads it as a boolean).
pub fn offline_env() -> bool {
    std::env::var("UV_OFFLINE").is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "y" | "t" | "on"
        )
    })
}

/// What a lock is made from.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The third-party requirements of the install set (local packages are installed editable,
    /// never locked).
    pub runtime: Vec<String>,
    /// The owner's dev tools.
    pub dev: Vec<String>,
    /// Index URLs, the owner's own first.
    pub indexes: Vec<String>,
    /// The lowest Python every `requires-python` of the set allows: `3.10`.
    pub python: String,
    /// Each kind of input and its digest, as the header records them.
    pub parts: Vec<(String, String)>,
}

/// The lowest `3.X` that every `requires-python` of the set allows.
fn python_floor(set: &[&Package]) -> Result<String> {
    for minor in 6..=30 {
        let allowed = |v: &Version| {
            set.iter()
                .all(|p| p.requires_python.as_ref().is_none_or(|s| s.contains(v)))
        };
        let first = Version(vec![3, minor, 0]);
        let late = Version(vec![3, minor, 99]);
        if allowed(&first) || allowed(&late) {
            return Ok(format!("3.{minor}"));
        }
    }
    bail!("no Python 3 release satisfies every requires-python of the install set")
}

/// The header's label of the owner's dev tools. Where they come from is part of it for the
/// workspace's: a change to that group then names the file to look at. (The label of a
/// package's own tools is the one locks have always had.)
fn dev_label(owner: &Package) -> String {
    let from_workspace = owner
        .dev
        .as_ref()
        .is_some_and(|d| d.source == DevSource::Workspace);
    if from_workspace {
        format!(
            "the dev tools of {} (python/pyproject.toml [dependency-groups] dev)",
            owner.folder_name()
        )
    } else {
        format!("the dev tools of {}", owner.folder_name())
    }
}

impl Inputs {
    pub fn of(ws: &Workspace, owner: &Package) -> Result<Inputs> {
        let set = ws.closure(owner)?;
        let local: Vec<&str> = ws.packages.iter().map(|p| p.name.as_str()).collect();
        let third_party = |requirements: &[String]| -> Vec<String> {
            let mut out: Vec<String> = requirements
                .iter()
                .filter(|r| !local.contains(&normalize(requirement_name(r)).as_str()))
                .map(|r| r.trim().to_owned())
                .collect();
            out.sort();
            out.dedup();
            out
        };
        // The runtime lock pins what the service runs with: the packages its dependencies reach.
        // A local package only a dev tool list names (a test kit) brings its dependencies to the
        // dev lock, never to the runtime one (nor to a deployable).
        let runs_with: Vec<String> = ws
            .runtime_closure(owner)?
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let mut parts = Vec::new();
        let mut runtime = Vec::new();
        let mut dev_only = Vec::new();
        for package in &set {
            let own = third_party(&package.dependencies);
            // A local project a dependency names by URL: its own dependencies are resolved too.
            // (None: the text alone, as locks have always recorded it.)
            let mut text = own.join("\n");
            for target in own
                .iter()
                .filter_map(|r| requirements::local_target_digest(&package.dir, r))
            {
                text = format!("{text}\0{target}");
            }
            parts.push((
                format!("the dependencies of {}", package.folder_name()),
                hash(text.as_bytes()),
            ));
            if runs_with.contains(&package.name) {
                runtime.extend(own);
            } else {
                dev_only.extend(own);
            }
        }
        runtime.sort();
        runtime.dedup();
        let mut dev = third_party(
            &owner
                .dev
                .as_ref()
                .map(|d| d.requirements.clone())
                .unwrap_or_default(),
        );
        dev.extend(dev_only.into_iter().filter(|r| !runtime.contains(r)));
        dev.sort();
        dev.dedup();
        parts.push((dev_label(owner), hash(dev.join("\n").as_bytes())));
        let indexes: Vec<String> = owner.indexes.iter().map(|i| i.url.clone()).collect();
        let declared: Vec<String> = owner
            .indexes
            .iter()
            .map(|i| format!("{} {} {}", i.name, i.url, i.explicit))
            .chain(
                owner
                    .index_sources
                    .iter()
                    .map(|(p, i)| format!("{p} from {i}")),
            )
            .collect();
        parts.push((
            format!("the indexes of {}", owner.folder_name()),
            hash(declared.join("\n").as_bytes()),
        ));
        let python = python_floor(&set)?;
        parts.push(("the Python floor".into(), python.clone()));
        parts.push(("the resolver".into(), format!("uv {UV_VERSION}")));
        parts.push(("the lock recipe".into(), RECIPE.into()));
        Ok(Inputs {
            runtime,
            dev,
            indexes,
            python,
            parts,
        })
    }

    /// The header. Its command names no `--root`: a lock is the same whichever checkout made
    /// it, and holds no path of the machine that wrote it.
    fn header(&self, owner: &Package, body: &str) -> String {
        let command = format!("cargo xtask lock {}", project::quote(owner.folder_name()));
        let mut out = format!(
            "# Generated by `cargo xtask lock` with uv {UV_VERSION} for every platform and Python >= {}:\n\
             # do not edit. Regenerate with `{command}` (upgrade: --upgrade, --upgrade-package NAME).\n",
            self.python
        );
        for (label, digest) in &self.parts {
            out += &format!("# input: {label} = {digest}\n");
        }
        out += &format!("# pins: {}\n", hash(body.as_bytes()));
        out
    }
}

/// What a lock file records: its inputs, and the digest of its pins as written.
struct Recorded {
    inputs: BTreeMap<String, String>,
    pins: Option<String>,
    body: String,
    /// A header line that `lock` does not write (a person's note): the file was edited.
    foreign_line: bool,
}

fn read(path: &Path) -> Option<Recorded> {
    let text = fs::read_to_string(path).ok()?;
    let mut inputs = BTreeMap::new();
    let mut pins = None;
    // The header is the leading comment lines; the body, all that follows, is taken whole
    // (a lock is hundreds of lines, and the xtask runs unoptimised).
    let mut header_len = 0;
    let mut foreign_line = false;
    for (at, line) in text.split_inclusive('\n').enumerate() {
        if !line.starts_with('#') {
            break;
        }
        header_len += line.len();
        let written = match at {
            0 => line.starts_with("# Generated by `cargo xtask lock` with uv "),
            1 => line.starts_with("# do not edit. Regenerate with `cargo xtask lock "),
            _ => line.starts_with("# input: ") || line.starts_with("# pins: "),
        };
        foreign_line |= !written;
        if let Some(rest) = line.strip_prefix("# input: ")
            && let Some((label, digest)) = rest.trim_end().rsplit_once(" = ")
        {
            inputs.insert(label.to_owned(), digest.to_owned());
        } else if let Some(digest) = line.strip_prefix("# pins: ") {
            pins = Some(digest.trim_end().to_owned());
        }
    }
    let body = text[header_len..].to_owned();
    Some(Recorded {
        inputs,
        pins,
        body,
        foreign_line,
    })
}

/// How a lock compares with its inputs now.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Fresh,
    /// A file is missing.
    Missing(PathBuf),
    /// A file was not written by `lock`, or its pins were edited by hand since.
    Edited(PathBuf),
    /// These inputs changed since the lock was made.
    Stale(Vec<String>),
}

impl Status {
    /// `python/apps/media-service/requirements.txt is missing`, ... for an error or a report.
    pub fn describe(&self, root: &Path) -> String {
        match self {
            Status::Fresh => "up to date".into(),
            Status::Missing(path) => format!("{} is missing", fsutil::display_rel(root, path)),
            Status::Edited(path) => format!(
                "{} was not written by `lock`, or was edited since",
                fsutil::display_rel(root, path)
            ),
            Status::Stale(changed) => format!("changed since the lock: {}", changed.join(", ")),
        }
    }
}

/// `media-service: its lock is not what its inputs make (...); run cargo xtask lock media-service`.
pub fn stale_message(ws: &Workspace, owner: &Package, status: &Status) -> String {
    format!(
        "{}: its lock is not what its inputs make ({}); run {}",
        owner.folder_name(),
        status.describe(&ws.root),
        project::xtask_command(&ws.root, &["lock", owner.folder_name()])
    )
}

/// The lock files of an owner.
pub fn files(owner: &Package) -> [PathBuf; 2] {
    [owner.dir.join(RUNTIME), owner.dir.join(DEV)]
}

/// Whether the owner's lock is what its inputs make: offline, no process, a few file reads.
pub fn status(ws: &Workspace, owner: &Package) -> Result<Status> {
    let inputs = Inputs::of(ws, owner)?;
    let mut changed: Vec<String> = Vec::new();
    let mut recorded_files = Vec::new();
    // A file there that `lock` did not write is a person's: never Missing (which would let
    // setup write over it), whichever file is there.
    for path in files(owner) {
        match read(&path) {
            // Written by an older xtask, whose digests were shorter: changed, not a person's.
            Some(recorded)
                if recorded
                    .pins
                    .as_ref()
                    .is_some_and(|pins| pins.len() != digest::HEX_LEN) =>
            {
                return Ok(Status::Stale(vec![
                    "the digest format (the lock was written by an older xtask)".into(),
                ]));
            }
            Some(recorded)
                if recorded.pins.as_deref() == Some(hash(recorded.body.as_bytes()).as_str()) =>
            {
                recorded_files.push(recorded);
            }
            Some(_) => return Ok(Status::Edited(path)),
            None if path.exists() => return Ok(Status::Edited(path)),
            None => {}
        }
    }
    if recorded_files.len() < 2 {
        let missing = files(owner)
            .into_iter()
            .find(|p| !p.exists())
            .unwrap_or_else(|| owner.dir.join(RUNTIME));
        return Ok(Status::Missing(missing));
    }
    for recorded in recorded_files {
        for (label, digest) in &inputs.parts {
            if recorded.inputs.get(label) != Some(digest) && !changed.contains(label) {
                changed.push(label.clone());
            }
        }
        for label in recorded.inputs.keys() {
            if !inputs.parts.iter().any(|(l, _)| l == label) && !changed.contains(label) {
                changed.push(format!("{label} (gone)"));
            }
        }
    }
    Ok(if changed.is_empty() {
        Status::Fresh
    } else {
        Status::Stale(changed)
    })
}

/// The `name==version ; marker` lines of a lock body, without hashes and comments: what
/// constraints and comparisons need.
pub fn pins(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("--") {
            continue;
        }
        let pin = line.trim_end_matches('\\').trim();
        if pin.contains("==") {
            out.push(pin.to_owned());
        }
    }
    out
}

/// Whether `after` pins every package that both files pin as `before` does (a package with one
/// pin, its version alone; with several, each with the Pythons it is for): uv's cache answers only
/// from what it holds, so a resolution offline can succeed with other versions than the index
/// would give (a release it never fetched, a fork for a Python this machine never resolved
/// for). Packages added or removed are the inputs'.
fn keeps_pins(before: &str, after: &str) -> bool {
    // Each package's pins: (what it is pinned to, for which Pythons). The markers count only
    // where a package has several pins: there they say which Python gets which version.
    let by_name = |body: &str| {
        let mut named: BTreeMap<String, std::collections::BTreeSet<(String, String)>> =
            BTreeMap::new();
        for pin in pins(body) {
            let (requirement, marker) = pin.split_once(';').unwrap_or((&pin, ""));
            let name = crate::workspace::normalize(crate::workspace::requirement_name(requirement));
            // `name==1.2` or `name @ URL`: what follows the name.
            let to = requirement
                .split_once("==")
                .or_else(|| requirement.split_once(" @ "))
                .map_or("", |(_, v)| v)
                .trim()
                .to_owned();
            let marker = marker.split_whitespace().collect::<Vec<_>>().join(" ");
            named.entry(name).or_default().insert((to, marker));
        }
        for pins in named.values_mut() {
            if pins.len() == 1 {
                *pins = pins
                    .iter()
                    .map(|(to, _)| (to.clone(), String::new()))
                    .collect();
            }
        }
        named
    };
    let (before, after) = (by_name(before), by_name(after));
    after
        .iter()
        .all(|(name, now)| before.get(name).is_none_or(|old| old == now))
}

/// Every pin of an owner's lock, both files: `(name, version, marker)`.
pub fn pinned(owner: &Package) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for path in files(owner) {
        let Some(recorded) = read(&path) else {
            continue;
        };
        for pin in pins(&recorded.body) {
            let (requirement, marker) = pin.split_once(';').unwrap_or((&pin, ""));
            if let Some((name, version)) = requirement.split_once("==") {
                out.push((
                    normalize(name.trim()),
                    version.trim().to_owned(),
                    marker.trim().to_owned(),
                ));
            }
        }
    }
    out
}

/// The requirements of the owner's inputs that its lock pins nowhere (new since the lock): a
/// relock resolves them against the index, as `add` does, so a hand edit gets the newest
/// version that fits too, not whichever the cache holds.
fn unpinned(ws: &Workspace, owner: &Package) -> Result<Vec<String>> {
    let inputs = Inputs::of(ws, owner)?;
    let pinned: Vec<String> = pinned(owner).into_iter().map(|(name, _, _)| name).collect();
    let mut out: Vec<String> = Vec::new();
    for requirement in inputs.runtime.iter().chain(&inputs.dev) {
        let name = normalize(requirement_name(requirement));
        if !pinned.contains(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// What a library left from when it had a venv of its own (no service installed it then; one does
/// now): the venv, if there, and each lock file, with whether `lock` wrote it as it is (a file
/// edited since is a person's).
pub struct FormerOwner<'a> {
    pub library: &'a Package,
    /// The services that install it now.
    pub services: Vec<&'a Package>,
    pub venv: Option<PathBuf>,
    pub locks: Vec<(PathBuf, bool)>,
}

/// Every library that is not a venv owner any more but still has its venv or its lock.
pub fn former_owners(ws: &Workspace) -> Vec<FormerOwner<'_>> {
    let mut out = Vec::new();
    for library in &ws.packages {
        let services = ws.services_installing(library);
        if services.is_empty() || ws.services().any(|s| s.name == library.name) {
            continue;
        }
        let venv = crate::env::venv::Venv::of(library).dir;
        let venv = fs::symlink_metadata(&venv).is_ok().then_some(venv);
        // Only a file with lock's header: a `requirements.txt` without one is a person's.
        let locks: Vec<(PathBuf, bool)> = files(library)
            .into_iter()
            .filter_map(|path| {
                let recorded = read(&path).filter(|r| !r.inputs.is_empty())?;
                // Its body as written, and no line in its header that lock does not write.
                let intact = !recorded.foreign_line
                    && recorded.pins.as_deref() == Some(hash(recorded.body.as_bytes()).as_str());
                Some((path, intact))
            })
            .collect();
        if venv.is_some() || !locks.is_empty() {
            out.push(FormerOwner {
                library,
                services,
                venv,
                locks,
            });
        }
    }
    out
}

/// What `lock` did for one owner.
pub enum Locked {
    /// The lock was what its inputs make: no resolver ran.
    UpToDate,
    /// Written anew; whether its pins changed, and why uv's cache answered for packages that
    /// were to be the newest (the index out of reach), if it did.
    Written {
        changed: bool,
        from_cache: Option<String>,
    },
}

/// What moved between two sets of pins ([`pinned`]): `added six 1.17.0, idna 3.10`,
/// `numpy 2.2.6 -> 1.26.4`, `removed six 1.17.0`; a name pinned at several versions (by marker)
/// shows them all.
pub fn changes(
    before: &[(String, String, String)],
    after: &[(String, String, String)],
) -> Vec<String> {
    let versions = |pins: &[(String, String, String)]| {
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, version, _) in pins {
            let versions = by_name.entry(name.clone()).or_default();
            if !versions.contains(version) {
                versions.push(version.clone());
            }
        }
        by_name
    };
    let (old, new) = (versions(before), versions(after));
    let (mut added, mut moved, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for (name, now) in &new {
        match old.get(name) {
            None => added.push(format!("{name} {}", now.join(" | "))),
            Some(was) if was != now => {
                moved.push(format!("{name} {} -> {}", was.join(" | "), now.join(" | ")));
            }
            Some(_) => {}
        }
    }
    for (name, was) in &old {
        if !new.contains_key(name) {
            removed.push(format!("{name} {}", was.join(" | ")));
        }
    }
    let mut out = Vec::new();
    if !added.is_empty() {
        out.push(format!("added {}", added.join(", ")));
    }
    out.extend(moved);
    if !removed.is_empty() {
        out.push(format!("removed {}", removed.join(", ")));
    }
    out
}

/// What a lock resolves with, asked for only when it resolves: the pinned uv, and the interpreter
/// uv is told of (`--python`). uv needs one to build a source distribution's metadata; the
/// resolution follows `--python-version` and `--universal`. Without it, uv looks for one itself,
/// and runs every pyenv shim on PATH to do so (0.7 s of CPU for each of the two compiles, where a
/// resolution from its cache takes 30 ms).
pub type Resolver<'r> = &'r dyn Fn() -> Result<(PathBuf, Option<PathBuf>)>;

/// Resolves the owner's lock with the pinned uv (the resolver's, asked for only when the lock is
/// to be made) and writes both files atomically, or leaves the old ones byte for byte and says
/// why, uv's explanation first.
pub fn lock(
    ws: &Workspace,
    owner: &Package,
    resolver: Resolver<'_>,
    upgrade: &Upgrade,
) -> Result<Locked> {
    let name = owner.folder_name();
    if *upgrade == Upgrade::None && status(ws, owner)? == Status::Fresh {
        return Ok(Locked::UpToDate);
    }
    if matches!(upgrade, Upgrade::All | Upgrade::Packages(_)) && offline_env() {
        bail!(
            "{name}: an upgrade asks the index for the newest versions, and UV_OFFLINE keeps uv \
             from it (uv's cache would only repeat what it holds): run it again without \
             UV_OFFLINE; the lock is unchanged"
        );
    }
    let newly_required = match upgrade {
        Upgrade::None if !pinned(owner).is_empty() => unpinned(ws, owner)?,
        _ => Vec::new(),
    };
    let added = Upgrade::Added(newly_required);
    let upgrade = match &added {
        Upgrade::Added(names) if !names.is_empty() => &added,
        _ => upgrade,
    };
    let inputs = Inputs::of(ws, owner)?;
    let (uv, python) = resolver()?;
    let (uv, python) = (uv.as_path(), python.as_deref());
    let work = owner.dir.join(".xtask-lock");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let compile = Compile {
        ws,
        owner,
        uv,
        python,
        upgrade,
        inputs: &inputs,
    };
    let result = compile.both(&work);
    let _ = fs::remove_dir_all(&work);
    let (runtime, dev, from_cache) = result.map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n{name}: the lock was not written; the old one, if any, is unchanged"
        )
    })?;
    let [runtime_path, dev_path] = files(owner);
    let before: Vec<Option<Recorded>> = vec![read(&runtime_path), read(&dev_path)];
    let changed = before[0].as_ref().is_none_or(|r| r.body != runtime)
        || before[1].as_ref().is_none_or(|r| r.body != dev);
    for (path, body) in [(&runtime_path, &runtime), (&dev_path, &dev)] {
        let text = format!("{}{body}", inputs.header(owner, body));
        fsutil::write_atomic(path, text.as_bytes())?;
    }
    Ok(Locked::Written {
        changed,
        from_cache,
    })
}

/// One resolution of an owner's lock: both files, by `uv pip compile`.
#[derive(Clone, Copy)]
struct Compile<'a> {
    ws: &'a Workspace,
    owner: &'a Package,
    uv: &'a Path,
    python: Option<&'a Path>,
    upgrade: &'a Upgrade,
    inputs: &'a Inputs,
}

impl<'a> Compile<'a> {
    /// The upgrade for one file's requirements: added names only where that file requires them,
    /// so the other file still resolves from the cache (a round trip to the index per package
    /// saved: adding a runtime package does not ask the index about every dev tool).
    fn narrowed(&self, requirements: &[String], keep: &'a mut Upgrade) -> Compile<'a> {
        let Upgrade::Added(names) = self.upgrade else {
            return *self;
        };
        let required: Vec<String> = requirements
            .iter()
            .map(|r| normalize(requirement_name(r)))
            .collect();
        let mine: Vec<String> = names
            .iter()
            .filter(|n| required.contains(n))
            .cloned()
            .collect();
        *keep = if mine.is_empty() {
            Upgrade::None
        } else {
            Upgrade::Added(mine)
        };
        Compile {
            upgrade: keep,
            ..*self
        }
    }

    /// The two bodies: the runtime resolution, then the dev tools' with the runtime pins as
    /// constraints and without repeating them; and why the cache answered, if it did.
    fn both(&self, work: &Path) -> Result<(String, String, Option<String>)> {
        let [runtime_path, dev_path] = files(self.owner);
        let mut from_cache = None;
        let runtime = if self.inputs.runtime.is_empty() {
            String::new()
        } else {
            let input = work.join("runtime.in");
            fs::write(&input, self.inputs.runtime.join("\n") + "\n")?;
            let previous = read(&runtime_path).map(|r| r.body);
            let mut upgrade = Upgrade::None;
            let (body, cached) = self
                .narrowed(&self.inputs.runtime, &mut upgrade)
                .one(&input, &work.join(RUNTIME), previous, &[])
                .map_err(|e| self.failed(e, "runtime requirements", &self.inputs.runtime))?;
            from_cache = from_cache.or(cached);
            body
        };
        let dev = if self.inputs.dev.is_empty() {
            String::new()
        } else {
            let input = work.join("dev.in");
            fs::write(&input, self.inputs.dev.join("\n") + "\n")?;
            let constraints = work.join("runtime-pins.txt");
            let runtime_pins = pins(&runtime);
            fs::write(&constraints, runtime_pins.join("\n") + "\n")?;
            let mut extra = vec!["-c".to_owned(), constraints.to_string_lossy().into_owned()];
            for pin in &runtime_pins {
                extra.push("--no-emit-package".into());
                extra.push(requirement_name(pin).to_owned());
            }
            let previous = read(&dev_path).map(|r| r.body);
            let mut upgrade = Upgrade::None;
            let (body, cached) = self
                .narrowed(&self.inputs.dev, &mut upgrade)
                .one(&input, &work.join(DEV), previous, &extra)
                .map_err(|e| self.failed(e, "dev tools", &self.inputs.dev))?;
            from_cache = from_cache.or(cached);
            body
        };
        Ok((runtime, dev, from_cache))
    }

    /// uv's explanation first, then what it was resolving.
    fn failed(&self, error: anyhow::Error, what: &str, requirements: &[String]) -> anyhow::Error {
        anyhow::anyhow!(
            "{error:#}\n(uv {UV_VERSION} resolving the {what} of {}: {})",
            self.owner.folder_name(),
            requirements.join(", ")
        )
    }

    /// `uv pip compile` of `input` into `output`, as the upgrade asks.
    fn command(&self, input: &Path, output: &Path, extra: &[String]) -> Cmd {
        let mut cmd = Cmd::new(self.uv)
            .args(["pip", "compile", "--no-config", "--quiet", "--universal"])
            .without(RESOLUTION_VARS)
            .args(["--generate-hashes", "--no-header", "--python-version"])
            .arg(&self.inputs.python)
            .cwd(&self.ws.root);
        if let Some(python) = self.python {
            cmd = cmd.arg("--python").arg(python);
        }
        for url in &self.inputs.indexes {
            cmd = cmd.arg("--index").arg(url);
        }
        if !self.inputs.indexes.is_empty() {
            cmd = cmd.arg("--emit-index-url");
        }
        match self.upgrade {
            Upgrade::None => {}
            Upgrade::All => cmd = cmd.arg("--upgrade"),
            Upgrade::Packages(names) | Upgrade::Added(names) => {
                for name in names {
                    cmd = cmd.arg("--upgrade-package").arg(name);
                }
            }
        }
        cmd.args(extra).arg(input).arg("-o").arg(output)
    }

    /// One file's resolution, starting from its previous pins (uv keeps the pins of the file it
    /// writes to where the inputs allow). Nothing to upgrade: from uv's cache first, the same
    /// resolution as online when the cache holds what it needs, in a fraction of a second
    /// instead of a round trip to the index per package; online when it does not. An upgrade
    /// asks the index; for added packages, the cache answers when the index cannot, and says so.
    /// Both only when the packages come from one place ([`installer::one_source`]): with an
    /// index of the package's own, the cache would answer from PyPI's pages for a package that
    /// index serves, or that cannot be reached.
    fn one(
        &self,
        input: &Path,
        output: &Path,
        previous: Option<String>,
        extra: &[String],
    ) -> Result<(String, Option<String>)> {
        let previous = previous.unwrap_or_default();
        // A package with dynamic metadata is built to read it (see build_bytecode).
        let bytecode = BuildBytecode::new(self.python);
        let cmd = bytecode.apply(self.command(input, output, extra));
        let offline = cmd.clone().arg("--offline");
        let attempt = |cmd: &Cmd, echo: bool| -> Result<Option<String>> {
            fs::write(output, &previous)?;
            if echo {
                crate::output::say(cmd.echo());
            }
            let _alive = crate::output::Alive::start();
            let done = cmd.output()?;
            // uv's own `error: ` would follow the xtask's.
            let said = done.output.trim();
            Ok((!done.success()).then(|| said.strip_prefix("error: ").unwrap_or(said).to_owned()))
        };
        let read = || {
            fs::read_to_string(output).with_context(|| format!("cannot read {}", output.display()))
        };
        let added = matches!(self.upgrade, Upgrade::Added(_));
        let cache_answers = installer::one_source(None, !self.inputs.indexes.is_empty());
        if added && offline_env() {
            if let Some(failure) = attempt(&offline, true)? {
                bail!("{failure}");
            }
            return Ok((read()?, Some("UV_OFFLINE is set".into())));
        }
        // The cache's answer when it moved pins: the index decides, unless it cannot be asked.
        let mut cached = None;
        if *self.upgrade == Upgrade::None && cache_answers && attempt(&offline, false)?.is_none() {
            let answer = read()?;
            if keeps_pins(&previous, &answer) {
                crate::output::say(offline.echo());
                return Ok((answer, None));
            }
            cached = Some(answer);
        }
        let Some(failure) = attempt(&cmd, true)? else {
            return Ok((read()?, None));
        };
        if let Some(answer) = cached {
            let last = failure.lines().last().unwrap_or("").trim();
            fs::write(output, &answer)?;
            return Ok((
                answer,
                Some(format!(
                    "the index did not answer ({last}): uv's cache did, moving pins"
                )),
            ));
        }
        if added && cache_answers && attempt(&offline, true)?.is_none() {
            let last = failure.lines().last().unwrap_or("").trim();
            return Ok((
                read()?,
                Some(format!("the index could not be reached ({last})")),
            ));
        }
        bail!("{failure}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offline resolution stands only when it keeps the pins of every package it still pins.
    #[test]
    fn an_offline_answer_must_keep_the_previous_pins() {
        let before = "coverage==7.16.2 ; python_full_version < '3.11' \\\n    --hash=sha256:aa\n\
                      coverage==7.17.4 ; python_full_version >= '3.11' \\\n    --hash=sha256:bb\n\
                      idna==3.10 \\\n    --hash=sha256:cc\n";
        let narrowed = "coverage==7.16.2 \\\n    --hash=sha256:aa\nidna==3.10\n";
        assert!(!keeps_pins(before, narrowed));
        let grown = format!("{before}six==1.17.0 \\\n    --hash=sha256:dd\n");
        assert!(keeps_pins(before, &grown));
        assert!(keeps_pins(before, before));
        let shrunk = "coverage==7.16.2  ;  python_full_version < '3.11'\n\
                      coverage==7.17.4 ; python_full_version >= '3.11'\n";
        assert!(keeps_pins(before, shrunk));
        assert!(!keeps_pins(before, "idna==3.11\n"));
        // A marker added or dropped on a package's one pin: kept.
        assert!(keeps_pins(
            "idna==3.10 ; python_full_version < '3.13'\n",
            "idna==3.10\n"
        ));
        // A fork whose boundary moved: Python 3.11 gets another version.
        assert!(!keeps_pins(
            "x==1 ; python_full_version < '3.11'\nx==2 ; python_full_version >= '3.11'\n",
            "x==1 ; python_full_version < '3.12'\nx==2 ; python_full_version >= '3.12'\n"
        ));
        // A URL pin is compared by its URL.
        assert!(!keeps_pins(
            "pkg @ https://a/pkg-1.whl ; python_version == \"3.10\"\n",
            "pkg @ https://a/pkg-2.whl ; python_version == \"3.10\"\n"
        ));
    }

    #[test]
    fn changes_name_what_was_added_moved_and_removed() {
        let pins = |list: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
            list.iter()
                .map(|(n, v, m)| (n.to_string(), v.to_string(), m.to_string()))
                .collect()
        };
        let before = pins(&[("numpy", "2.2.6", ""), ("idna", "3.10", "")]);
        let after = pins(&[
            ("numpy", "1.26.4", "python_version < '3.13'"),
            ("numpy", "2.2.6", "python_version >= '3.13'"),
            ("six", "1.17.0", ""),
            ("certifi", "2025.1.1", ""),
        ]);
        assert_eq!(
            changes(&before, &after),
            [
                "added certifi 2025.1.1, six 1.17.0",
                "numpy 2.2.6 -> 1.26.4 | 2.2.6",
                "removed idna 3.10",
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn pins_are_read_without_hashes_and_comments() {
        let body = "numpy==1.26.4 ; python_full_version < '3.13' \\\n    --hash=sha256:ab\n    # via dubbing-common\n--index-url https://x\nrequests==2.0 \\\n    --hash=sha256:cd\n";
        assert_eq!(
            pins(body),
            [
                "numpy==1.26.4 ; python_full_version < '3.13'",
                "requests==2.0"
            ]
        );
    }
}
