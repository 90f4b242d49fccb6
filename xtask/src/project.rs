//! Where the repository is, and how to name a command that a person can paste.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The folder of the Python tree under a root.
pub const PYTHON_DIR: &str = "python";

/// The repository that holds this xtask: that of the checkout cargo runs it for.
pub fn default_root() -> PathBuf {
    let manifest = run_for();
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A file only this project's xtask holds: how a checkout of it is told from another
/// project's `xtask` crate.
const OWN_SOURCE: &str = "src/workspace/blueprint.rs";

/// The xtask folder this binary was built from.
fn built_from() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The xtask folder of the checkout cargo runs this binary for: `cargo xtask` (`cargo run`) sets
/// `CARGO_MANIFEST_DIR` to it. It is the one the binary was built from, unless two checkouts
/// share a cargo target folder (one `CARGO_TARGET_DIR` for all): cargo then runs the build of
/// the first in the second without rebuilding it, since it looks only at the files of the
/// first ([`check_build_is_the_checkouts`]). Run otherwise (the binary itself), where it was
/// built.
fn run_for() -> &'static Path {
    static RUN_FOR: OnceLock<PathBuf> = OnceLock::new();
    RUN_FOR.get_or_init(|| {
        // A variable left by another project's cargo (an IDE, another crate's tests) names
        // some other `xtask`: only a checkout of this one counts, known by a source file of its
        // own (a sparse checkout or an old branch may lack python/).
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .filter(|dir| {
                dir.file_name() == built_from().file_name()
                    && dir.join("Cargo.toml").is_file()
                    && dir.join(OWN_SOURCE).is_file()
            })
            .unwrap_or_else(|| built_from().to_path_buf())
    })
}

/// Fails when cargo runs this xtask for another checkout than it was built from and the two
/// hold other xtask sources: its code is not that checkout's, which cargo never compiled.
pub fn check_build_is_the_checkouts() -> Result<()> {
    let (here, built) = (run_for(), built_from());
    if here == built || here.canonicalize().ok() == built.canonicalize().ok() {
        return Ok(());
    }
    if same_sources(built, here) {
        return Ok(());
    }
    let root = here.parent().unwrap_or(here);
    bail!(
        "cargo ran the xtask built from {} for the checkout {}, whose xtask sources differ: the \
         two share a cargo target folder, and cargo does not rebuild it for this one; give this \
         checkout a target folder of its own (CARGO_TARGET_DIR={} cargo xtask ...), or rebuild it \
         for this one: cargo clean -p xtask && cargo xtask ...",
        built.display(),
        root.display(),
        quote(&root.join("target").to_string_lossy())
    )
}

/// Whether two xtask folders hold the same sources: the Rust and Python files of `src/` (what
/// the build compiles and includes; an editor's leftovers there are not), the package's
/// manifest, and the workspace's manifest, lock and cargo configuration beside it.
fn same_sources(a: &Path, b: &Path) -> bool {
    let files = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        for rel in [
            "Cargo.toml",
            "build.rs",
            "../Cargo.toml",
            "../Cargo.lock",
            "../.cargo/config.toml",
        ] {
            found.push((
                PathBuf::from(rel),
                std::fs::read(dir.join(rel)).unwrap_or_default(),
            ));
        }
        let src = dir.join("src");
        for rel in crate::fsutil::files_below(&src) {
            if rel.extension().is_some_and(|e| e == "rs" || e == "py") {
                let content = std::fs::read(src.join(&rel)).unwrap_or_default();
                found.push((Path::new("src").join(rel), content));
            }
        }
        found.sort();
        found
    };
    files(a) == files(b)
}

/// The root a command works on: `--root DIR` or the default, absolute and with symlinks resolved, so
/// "inside the root" has one meaning.
pub fn resolve_root(root: Option<&Path>) -> Result<PathBuf> {
    let root = root.map_or_else(default_root, Path::to_path_buf);
    let canonical = root.canonicalize().with_context(|| {
        format!(
            "the root {} does not exist; pass an existing folder to --root",
            root.display()
        )
    })?;
    if !canonical.is_dir() {
        bail!(
            "the root {} is not a folder; pass a folder to --root",
            root.display()
        );
    }
    Ok(canonical)
}

/// Where the xtask keeps tools it installs (a pinned uv): `XTASK_TOOLS_DIR`, else under the cargo
/// target folder, beside its own binary, so `cargo clean` removes them too.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XTASK_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().ok();
    // <target>/<profile>/xtask
    let target = exe
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    target
        .unwrap_or_else(|| default_root().join("target"))
        .join("xtask-tools")
}

/// The `cargo xtask` command line for `args`, with `--root` when the root is not the default one.
pub fn xtask_command(root: &Path, args: &[&str]) -> String {
    let mut line = String::from("cargo xtask");
    if default_root().canonicalize().ok().as_deref() != Some(root) {
        line += &format!(" --root {}", quote(&root.to_string_lossy()));
    }
    for arg in args {
        line.push(' ');
        line += &quote(arg);
    }
    line
}

/// Quotes an argument for a POSIX shell when it needs it, so a printed command can be pasted.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's test command is what CI runs, word for word.
    #[test]
    fn ci_runs_the_readme_test_command() {
        let root = default_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
        let marker = "# The whole test suite (what CI runs):\n";
        let start = readme
            .find(marker)
            .expect("the README names its test command")
            + marker.len();
        let command = readme[start..].lines().next().unwrap();
        assert!(
            ci.lines().any(|l| l == command),
            ".ci/run does not run the README's test command: {command}"
        );
    }

    #[test]
    fn quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(quote("scaffold"), "scaffold");
        assert_eq!(quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
