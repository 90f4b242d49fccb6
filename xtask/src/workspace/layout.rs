//! What a package provides to `import`, read from its own files: the folder its import packages
//! live in (`src/`, or the package folder itself in the flat layout) and the import packages
//! (`dubbing_common`, a PEP 420 namespace portion `dubbing.ns`, a top-level module), for the
//! common build backends. Every job uses them: mypy's targets, coverage's sources, the post-check.

use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::{Item, Table};

/// An importable name the package provides, and where its source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Dotted: `dubbing_common`, `dubbing.ns`.
    pub name: String,
    /// The package's folder, or the module's file.
    pub path: PathBuf,
}

/// Where a package's imports live, and which they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The folder on `sys.path` for them: `<package>/src` or `<package>`.
    pub source_root: PathBuf,
    pub imports: Vec<Import>,
}

/// Folders of a package that are never its import packages, in the flat layout.
const NOT_IMPORTS: &[&str] = &[
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "examples",
    "example",
    "scripts",
    "benchmarks",
    "bench",
    "build",
    "dist",
    "src",
    "venv",
    "site-packages",
    "__pycache__",
    "node_modules",
];

/// Files at the top of a package folder that are tooling, not modules.
const NOT_MODULES: &[&str] = &[
    "setup.py",
    "conftest.py",
    "noxfile.py",
    "fabfile.py",
    "tasks.py",
];

fn strings(item: Option<&Item>) -> Option<Vec<String>> {
    let array = item?.as_array()?;
    Some(
        array
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

fn get<'t>(table: &'t Table, path: &[&str]) -> Option<&'t Item> {
    let mut item = table.get(path.first()?)?;
    for key in &path[1..] {
        item = item.get(key)?;
    }
    Some(item)
}

/// A name made of identifiers: `a`, `a.b`.
pub fn is_dotted_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// The file or folder of `name` under `root`: `root/a/b/` or `root/a/b.py`.
fn locate(root: &Path, name: &str) -> Option<PathBuf> {
    let rel: PathBuf = name.split('.').collect();
    let dir = root.join(&rel);
    if dir.is_dir() {
        return Some(dir);
    }
    let file = root.join(rel.with_extension("py"));
    file.is_file().then_some(file)
}

/// The import packages found in `root` by looking: folders with an `__init__.py`; a folder
/// without one that holds such folders is a namespace (PEP 420), whose portions are the imports;
/// top-level modules where `modules` allows (not in the flat layout, where a `setup.py` or a
/// script would pass for one).
fn discover(root: &Path, flat: bool) -> Vec<Import> {
    fn walk(dir: &Path, prefix: &str, flat: bool, depth: usize, out: &mut Vec<Import>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<(String, PathBuf)> = entries
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        entries.sort();
        for (name, path) in entries {
            if name.starts_with('.') || name.ends_with(".egg-info") || name.ends_with(".dist-info")
            {
                continue;
            }
            if path.is_dir() {
                if depth == 0 && flat && NOT_IMPORTS.contains(&name.as_str()) {
                    continue;
                }
                if !is_dotted_identifier(&name) {
                    continue;
                }
                let dotted = format!("{prefix}{name}");
                if path.join("__init__.py").is_file() {
                    out.push(Import { name: dotted, path });
                } else if depth < 3 {
                    // A namespace: its portions are the imports, and so is the namespace itself
                    // where it holds modules of its own (`provns/helper.py`: `import
                    // provns.helper`); not in the flat layout, where a folder of scripts would
                    // pass for one.
                    if !flat && holds_modules(&path) {
                        out.push(Import {
                            name: dotted.clone(),
                            path: path.clone(),
                        });
                    }
                    walk(&path, &format!("{dotted}."), flat, depth + 1, out);
                }
            } else if depth == 0
                && !flat
                && let Some(module) = name.strip_suffix(".py")
                && is_dotted_identifier(module)
                && !NOT_MODULES.contains(&name.as_str())
            {
                out.push(Import {
                    name: format!("{prefix}{module}"),
                    path,
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", flat, 0, &mut out);
    out
}

/// Whether a folder holds a Python module of its own (`helper.py`).
fn holds_modules(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_suffix(".py").is_some_and(is_dotted_identifier) && e.path().is_file()
        })
    })
}

/// Reads a package's layout from its `pyproject.toml` (`doc`) and folder. Declarations win over
/// looking: `[tool.xtask]` (`packages`, `source`), then the backend's own (setuptools'
/// `packages`, `py-modules`, `package-dir` and `packages.find`; hatch's wheel `packages`; pdm's
/// `package-dir`; flit's module), then the folder's contents. An `Err` says what is missing and
/// how to declare it.
pub fn read(doc: &Table, dir: &Path, dist: &str) -> Result<Layout, String> {
    let src = dir.join("src");
    let default_root = if src.is_dir() { src } else { dir.to_path_buf() };
    if let Some(layout) = xtask_declared(doc, dir, &default_root) {
        return layout;
    }
    let package_dir = get(doc, &["tool", "setuptools", "package-dir", ""])
        .and_then(Item::as_str)
        .map(|s| dir.join(s));
    if let Some(layout) = setuptools_declared(doc, dir, package_dir.as_deref()) {
        return layout;
    }
    if let Some(find) = get(doc, &["tool", "setuptools", "packages", "find"]) {
        return Ok(setuptools_found(find, dir));
    }
    if let Some(paths) = strings(get(
        doc,
        &["tool", "hatch", "build", "targets", "wheel", "packages"],
    )) {
        return hatch_packages(paths, dir, default_root);
    }
    let backend = get(doc, &["build-system", "build-backend"])
        .and_then(Item::as_str)
        .unwrap_or_default();
    if backend.starts_with("flit") {
        return flit_module(doc, dir, dist);
    }
    // pdm-backend: `package-dir`, else `src/` when there is one; then the folder's contents.
    let root = get(doc, &["tool", "pdm", "build", "package-dir"])
        .and_then(Item::as_str)
        .map(|s| dir.join(s))
        .or(package_dir)
        .unwrap_or(default_root);
    let flat = root == dir;
    Ok(Layout {
        imports: discover(&root, flat),
        source_root: root,
    })
}

/// The layout of import names a declaration gives (`what` says which, for the error), each
/// found as a folder or a `.py` file under `root`.
fn declared(names: Vec<String>, root: PathBuf, what: &str) -> Result<Layout, String> {
    let mut imports = Vec::new();
    for name in names {
        if !is_dotted_identifier(&name) {
            return Err(format!(
                "{what} names `{name}`, which is not an import name"
            ));
        }
        let path = locate(&root, &name).ok_or_else(|| {
            format!(
                "{what} names `{name}`, but there is no {} (folder or .py file)",
                root.join(name.replace('.', "/")).display()
            )
        })?;
        imports.push(Import { name, path });
    }
    Ok(Layout {
        source_root: root,
        imports,
    })
}

/// `[tool.xtask] packages` (and `source`): the way to say it when nothing else does.
fn xtask_declared(doc: &Table, dir: &Path, default_root: &Path) -> Option<Result<Layout, String>> {
    let names = strings(get(doc, &["tool", "xtask", "packages"]))?;
    let root = get(doc, &["tool", "xtask", "source"])
        .and_then(Item::as_str)
        .map_or_else(|| default_root.to_path_buf(), |s| dir.join(s));
    Some(declared(names, root, "[tool.xtask] packages"))
}

/// setuptools' `packages` and `py-modules`, under its `package-dir` (or the package's folder).
fn setuptools_declared(
    doc: &Table,
    dir: &Path,
    package_dir: Option<&Path>,
) -> Option<Result<Layout, String>> {
    let mut explicit = strings(get(doc, &["tool", "setuptools", "packages"])).unwrap_or_default();
    // Subpackages are part of their parents: keep the topmost of each.
    let all = explicit.clone();
    explicit.retain(|name| {
        !all.iter()
            .any(|other| name.starts_with(&format!("{other}.")))
    });
    explicit.extend(strings(get(doc, &["tool", "setuptools", "py-modules"])).unwrap_or_default());
    if explicit.is_empty() {
        return None;
    }
    let root = package_dir.unwrap_or(dir).to_path_buf();
    Some(declared(explicit, root, "[tool.setuptools] packages"))
}

/// setuptools' `packages.find`: the packages (folders) under `where`, kept by `include`.
fn setuptools_found(find: &Item, dir: &Path) -> Layout {
    let root = strings(find.get("where"))
        .and_then(|w| w.into_iter().next())
        .map_or_else(|| dir.to_path_buf(), |w| dir.join(w));
    let include = strings(find.get("include")).unwrap_or_default();
    let flat = root == dir;
    let mut imports = discover(&root, flat);
    imports.retain(|i| i.path.is_dir());
    if !include.is_empty() {
        imports.retain(|i| {
            include
                .iter()
                .any(|pattern| glob::Pattern::new(pattern).is_ok_and(|p| p.matches(&i.name)))
        });
    }
    Layout {
        source_root: root,
        imports,
    }
}

/// hatch: `packages = ["src/foo"]` includes the folder `foo`, importable from `src`; a folder
/// without `__init__.py` is a namespace, which includes its portions.
fn hatch_packages(paths: Vec<String>, dir: &Path, default_root: PathBuf) -> Result<Layout, String> {
    let mut root = None;
    let mut imports = Vec::new();
    for rel in paths {
        let path = dir.join(&rel);
        let parent = path.parent().unwrap_or(dir).to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !path.is_dir() {
            return Err(format!(
                "[tool.hatch.build.targets.wheel] packages names `{rel}`, which is not a folder"
            ));
        }
        if path.join("__init__.py").is_file() {
            imports.push(Import { name, path });
        } else {
            imports.extend(
                discover(&path, false)
                    .into_iter()
                    .filter(|i| i.path.is_dir())
                    .map(|i| Import {
                        name: format!("{name}.{}", i.name),
                        path: i.path,
                    }),
            );
        }
        root.get_or_insert(parent);
    }
    Ok(Layout {
        source_root: root.unwrap_or(default_root),
        imports,
    })
}

/// flit: the module named like the distribution, or as `[tool.flit.module] name` declares, in
/// `src/` when it is there.
fn flit_module(doc: &Table, dir: &Path, dist: &str) -> Result<Layout, String> {
    let name = get(doc, &["tool", "flit", "module", "name"])
        .and_then(Item::as_str)
        .map_or_else(
            || dist.replace(['-', '.'], "_").to_lowercase(),
            str::to_owned,
        );
    let root = if dir.join("src").join(&name).exists()
        || dir.join("src").join(format!("{name}.py")).exists()
    {
        dir.join("src")
    } else {
        dir.to_path_buf()
    };
    declared(vec![name], root, "flit's module (the distribution's name)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str, files: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-layout-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for file in files {
            let path = dir.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "").unwrap();
        }
        dir
    }

    fn names(doc: &str, dir: &Path) -> Result<(String, Vec<String>), String> {
        let doc: toml_edit::DocumentMut = doc.parse().unwrap();
        let layout = read(doc.as_table(), dir, "my-dist")?;
        let root = layout
            .source_root
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        Ok((root, layout.imports.into_iter().map(|i| i.name).collect()))
    }

    #[test]
    fn src_flat_namespace_and_declared_layouts() {
        let src = tree(
            "src",
            &[
                "src/dubbing_common/__init__.py",
                "src/helpers.py",
                "tests/unit/__init__.py",
            ],
        );
        assert_eq!(
            names("", &src),
            Ok((
                "src".into(),
                vec!["dubbing_common".into(), "helpers".into()]
            ))
        );
        let flat = tree(
            "flat",
            &[
                "flatlib/__init__.py",
                "setup.py",
                "tests/test_x.py",
                "docs/conf.py",
            ],
        );
        assert_eq!(
            names("", &flat),
            Ok((String::new(), vec!["flatlib".into()]))
        );
        let ns = tree("ns", &["src/dubbing/ns/__init__.py", "src/dubbing/ns/x.py"]);
        assert_eq!(
            names("", &ns),
            Ok(("src".into(), vec!["dubbing.ns".into()]))
        );
        // A namespace that holds modules of its own is an import too.
        let modules = tree(
            "nsmod",
            &["src/provns/helper.py", "src/dubbing/ns/__init__.py"],
        );
        assert_eq!(
            names("", &modules),
            Ok(("src".into(), vec!["dubbing.ns".into(), "provns".into()]))
        );
        fs::remove_dir_all(modules).unwrap();
        let found = names(
            "[tool.setuptools.packages.find]\nwhere = [\"src\"]\ninclude = [\"dubbing*\"]\n",
            &ns,
        );
        assert_eq!(found, Ok(("src".into(), vec!["dubbing.ns".into()])));
        let hatch = tree(
            "hatch",
            &["src/dubbing/hx/__init__.py", "src/other/__init__.py"],
        );
        assert_eq!(
            names(
                "[tool.hatch.build.targets.wheel]\npackages = [\"src/dubbing\"]\n",
                &hatch
            ),
            Ok(("src".into(), vec!["dubbing.hx".into()]))
        );
        let declared = tree("declared", &["lib/thing/__init__.py"]);
        assert_eq!(
            names(
                "[tool.xtask]\npackages = [\"thing\"]\nsource = \"lib\"\n",
                &declared
            ),
            Ok(("lib".into(), vec!["thing".into()]))
        );
        let err = names("[tool.xtask]\npackages = [\"gone\"]\n", &declared).unwrap_err();
        assert!(err.contains("names `gone`, but there is no"), "{err}");
        let flit = tree("flit", &["src/my_dist/__init__.py"]);
        assert_eq!(
            names(
                "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
                &flit
            ),
            Ok(("src".into(), vec!["my_dist".into()]))
        );
        for dir in [src, flat, ns, hatch, declared, flit] {
            fs::remove_dir_all(dir).unwrap();
        }
    }
}
