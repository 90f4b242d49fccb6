//! Reading a package's `pyproject.toml`: PEP 621 metadata, dependency groups (PEP 735), the
//! build backend, `[tool.uv.sources]`, where dynamic metadata comes from; errors name the file
//! and line.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{Document, Item};

use crate::fsutil;
use crate::workspace::blueprint::Kind;
use crate::workspace::layout;
use crate::workspace::package::{
    DEV_EXTRA, DEV_GROUP, DevSource, DevTools, Index, MetadataSource, Package, normalize,
    requirement_name,
};
use crate::workspace::pep440::Specifiers;

/// Whether a `pyproject.toml` above `dir` (up to the root) declares `[tool.uv.workspace]`.
pub fn has_uv_workspace_root(root: &Path, dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root))
        .any(|d| {
            fs::read_to_string(d.join("pyproject.toml"))
                .ok()
                .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
                .is_some_and(|doc| {
                    doc.get("tool")
                        .and_then(|t| t.get("uv"))
                        .and_then(|u| u.get("workspace"))
                        .is_some()
                })
        })
}

/// The line (1-based) of a byte offset.
fn line_of(source: &str, span: Option<std::ops::Range<usize>>) -> usize {
    span.map_or(1, |s| {
        source[..s.start.min(source.len())].matches('\n').count() + 1
    })
}

/// An error at a place of a file: `path:line: message`.
fn at(
    path: &str,
    source: &str,
    span: Option<std::ops::Range<usize>>,
    message: impl std::fmt::Display,
) -> anyhow::Error {
    let line = span.map_or(1, |s| {
        source[..s.start.min(source.len())].matches('\n').count() + 1
    });
    anyhow::anyhow!("{path}:{line}: {message}")
}

pub fn parse_package(root: &Path, path: &Path, kind: Kind) -> Result<Package> {
    let rel_file = fsutil::display_rel(root, path);
    let source = fs::read_to_string(path)
        .with_context(|| format!("cannot read {rel_file} (is it UTF-8?)"))?;
    let doc = Document::parse(source.as_str()).map_err(|e| {
        at(
            &rel_file,
            &source,
            e.span(),
            format!("not valid TOML: {}", e.message()),
        )
    })?;
    let fix = "fix the file, or compare it with the template (`cargo xtask scaffold --dry-run` in an empty --root)";
    let err = |span, msg: String| at(&rel_file, &source, span, format!("{msg}; {fix}"));
    let root_table = doc
        .as_item()
        .as_table()
        .context("a TOML document is a table")?;
    let project = match root_table.get("project") {
        Some(Item::Table(t)) => t,
        Some(other) => return Err(err(other.span(), "`project` must be a table".into())),
        None => return Err(err(None, "no [project] table (PEP 621)".into())),
    };
    let string = |key: &str| -> Result<Option<String>> {
        match project.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(err(
                    item.span(),
                    format!("`project.{key}` must be a string"),
                )),
            },
        }
    };
    let string_list = |item: &Item, what: &str| -> Result<Vec<String>> {
        let array = item
            .as_array()
            .ok_or_else(|| err(item.span(), format!("`{what}` must be a list of strings")))?;
        array
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(v.span(), format!("`{what}` must hold only strings")))
            })
            .collect()
    };
    let dist =
        string("name")?.ok_or_else(|| err(project.span(), "[project] has no `name`".into()))?;
    if requirement_name(&dist) != dist || dist.is_empty() {
        let span = project.get("name").and_then(Item::span);
        return Err(err(
            span,
            format!("`{dist}` is not a valid distribution name"),
        ));
    }
    let dynamic: Vec<String> = match project.get("dynamic") {
        Some(item) => string_list(item, "project.dynamic")?,
        None => Vec::new(),
    };
    let version = string("version")?;
    if version.is_none() && !dynamic.iter().any(|d| d == "version") {
        return Err(err(
            project.span(),
            "[project] has no `version` (and does not list it in `dynamic`)".into(),
        ));
    }
    let requires_python = match string("requires-python")? {
        Some(text) => Some(Specifiers::parse(&text).map_err(|e| {
            err(
                project.get("requires-python").and_then(Item::span),
                format!("bad `requires-python`: {e}"),
            )
        })?),
        None => None,
    };
    let dependencies = match project.get("dependencies") {
        Some(item) => string_list(item, "project.dependencies")?,
        None => Vec::new(),
    };
    let mut extras = BTreeMap::new();
    if let Some(item) = project.get("optional-dependencies") {
        let table = item.as_table_like().ok_or_else(|| {
            err(
                item.span(),
                "`project.optional-dependencies` must be a table".into(),
            )
        })?;
        for (name, list) in table.iter() {
            extras.insert(
                name.to_owned(),
                string_list(list, &format!("project.optional-dependencies.{name}"))?,
            );
        }
    }
    let build_requires = match root_table
        .get("build-system")
        .and_then(|b| b.get("requires"))
    {
        Some(item) => string_list(item, "build-system.requires")?,
        None => Vec::new(),
    };
    let dir = path
        .parent()
        .context("a pyproject.toml has a folder")?
        .to_path_buf();
    let metadata_sources = metadata_sources(root_table, &dir, &dynamic, &dist, &build_requires);
    let build_system = root_table.get("build-system");
    let build_backend = build_system
        .and_then(|b| b.get("build-backend"))
        .and_then(Item::as_str)
        .map(str::to_owned);
    let backend_path = match build_system.and_then(|b| b.get("backend-path")) {
        Some(item) => string_list(item, "build-system.backend-path")?,
        None => Vec::new(),
    };

    // Where each requirement is written, for errors about the graph.
    let mut requirement_lines = BTreeMap::new();
    let mut note_lines = |item: Option<&Item>| {
        for value in item.and_then(Item::as_array).into_iter().flatten() {
            if let Some(text) = value.as_str() {
                requirement_lines
                    .entry(normalize(requirement_name(text)))
                    .or_insert_with(|| format!("{rel_file}:{}", line_of(&source, value.span())));
            }
        }
    };
    note_lines(project.get("dependencies"));
    if let Some(table) = project
        .get("optional-dependencies")
        .and_then(Item::as_table_like)
    {
        for (_, list) in table.iter() {
            note_lines(Some(list));
        }
    }
    let groups = root_table.get("dependency-groups");
    if let Some(table) = groups.and_then(Item::as_table_like) {
        for (_, list) in table.iter() {
            note_lines(Some(list));
        }
    }

    // Dev tools: the PEP 735 group, else the extra.
    let dev = match groups.and_then(|g| g.get(DEV_GROUP)) {
        Some(_) => Some(DevTools {
            source: DevSource::Group,
            requirements: group_requirements(groups.and_then(Item::as_table_like), DEV_GROUP, 0)
                .map_err(|e| {
                    err(
                        groups.and_then(|g| g.get(DEV_GROUP)).and_then(Item::span),
                        format!("[dependency-groups] {DEV_GROUP}: {e}"),
                    )
                })?,
        }),
        None => extras.get(DEV_EXTRA).map(|requirements| DevTools {
            source: DevSource::Extra,
            requirements: requirements.clone(),
        }),
    };

    let mut uv_workspace_sources = Vec::new();
    let sources = root_table
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(Item::as_table_like);
    let mut index_sources = BTreeMap::new();
    for (name, spec) in sources.into_iter().flat_map(|t| t.iter()) {
        if let Some(index) = spec.get("index").and_then(Item::as_str) {
            index_sources.insert(normalize(name), index.to_owned());
        }
        if spec.get("workspace").and_then(Item::as_bool) == Some(true) {
            let span = spec
                .span()
                .or_else(|| spec.as_inline_table().and_then(|t| t.span()));
            uv_workspace_sources.push((
                name.to_owned(),
                format!("{rel_file}:{}", line_of(&source, span)),
            ));
        }
    }

    let mut indexes = Vec::new();
    let declared = root_table
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("index"));
    if let Some(declared) = declared {
        let list: Vec<&dyn toml_edit::TableLike> = match declared {
            Item::ArrayOfTables(tables) => tables
                .iter()
                .map(|t| t as &dyn toml_edit::TableLike)
                .collect(),
            Item::Value(toml_edit::Value::Array(array)) => array
                .iter()
                .filter_map(|v| v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike))
                .collect(),
            other => {
                return Err(err(
                    other.span(),
                    "`[[tool.uv.index]]` must be a list of tables".into(),
                ));
            }
        };
        for table in list {
            let text = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_owned);
            let (Some(name), Some(url)) = (text("name"), text("url")) else {
                return Err(err(
                    declared.span(),
                    "each [[tool.uv.index]] needs a `name` and a `url`".into(),
                ));
            };
            let explicit = table
                .get("explicit")
                .and_then(Item::as_bool)
                .unwrap_or(false);
            indexes.push(Index {
                name,
                url,
                explicit,
            });
        }
    }
    for (package, index) in &index_sources {
        if !indexes.iter().any(|i| &i.name == index) {
            return Err(err(
                sources.and_then(|t| t.get(package)).and_then(Item::span),
                format!(
                    "[tool.uv.sources] takes {package} from the index `{index}`, which no [[tool.uv.index]] here names"
                ),
            ));
        }
    }

    let layout = layout::read(root_table, &dir, &dist).map_err(|e| {
        anyhow::anyhow!("{rel_file}: {e}; declare the import packages in it, e.g. [tool.xtask] packages = [\"{}\"] (and source = \"src\" if they live there)", normalize(&dist).replace('-', "_"))
    })?;
    if layout.imports.is_empty() {
        bail!(
            "{rel_file}: cannot tell which import packages {dist} provides: no folder with an __init__.py under {}; \
             declare them in it: [tool.xtask] packages = [\"{}\"] (and source = \"src\" if they live there)",
            fsutil::display_rel(root, &layout.source_root),
            normalize(&dist).replace('-', "_")
        );
    }
    Ok(Package {
        rel: fsutil::display_rel(root, &dir),
        dir,
        kind,
        name: normalize(&dist),
        dist,
        version,
        requires_python,
        dependencies,
        build_requires,
        build_backend,
        backend_path,
        layout,
        dev,
        requirement_lines,
        uv_workspace_sources,
        indexes,
        index_sources,
        local_deps: Vec::new(),
        metadata_sources,
    })
}

/// The requirements of a dependency group (PEP 735), its `{include-group = "..."}` entries
/// expanded.
fn group_requirements(
    groups: Option<&dyn toml_edit::TableLike>,
    name: &str,
    depth: usize,
) -> std::result::Result<Vec<String>, String> {
    if depth > 16 {
        return Err(format!("the group `{name}` includes itself"));
    }
    let list = groups
        .and_then(|g| g.get(name))
        .and_then(Item::as_array)
        .ok_or_else(|| format!("no group `{name}`, or it is not a list"))?;
    let mut out = Vec::new();
    for value in list {
        if let Some(text) = value.as_str() {
            out.push(text.to_owned());
        } else if let Some(include) = value
            .as_inline_table()
            .and_then(|t| t.get("include-group"))
            .and_then(toml_edit::Value::as_str)
        {
            out.extend(group_requirements(groups, include, depth + 1)?);
        } else {
            return Err(format!(
                "the group `{name}` holds {value}, neither a requirement nor {{include-group = \"...\"}}"
            ));
        }
    }
    Ok(out)
}

/// Where the build backend reads each dynamic field from, as far as the common backends declare
/// it; a field whose source cannot be told makes the whole folder a source.
fn metadata_sources(
    doc: &toml_edit::Table,
    dir: &Path,
    dynamic: &[String],
    dist: &str,
    build_requires: &[String],
) -> Vec<MetadataSource> {
    let mut out = Vec::new();
    if dynamic.is_empty() {
        return out;
    }
    let tool = |path: &[&str]| -> Option<&Item> {
        let mut item = doc.get("tool")?;
        for key in path {
            item = item.get(key)?;
        }
        Some(item)
    };
    let scm = build_requires.iter().any(|r| {
        normalize(requirement_name(r)).ends_with("scm") || requirement_name(r) == "hatch-vcs"
    }) || tool(&["setuptools_scm"]).is_some();
    // Where setuptools and flit find modules: `package-dir`'s root, else `src/`, else the folder.
    let module_root = match tool(&["setuptools", "package-dir", ""]).and_then(Item::as_str) {
        Some(root) => dir.join(root),
        None if dir.join("src").is_dir() => dir.join("src"),
        None => dir.to_path_buf(),
    };
    let module_file = |module: &str| -> Option<PathBuf> {
        let rel: PathBuf = module.split('.').collect();
        [rel.with_extension("py"), rel.join("__init__.py")]
            .into_iter()
            .map(|candidate| module_root.join(candidate))
            .find(|candidate| candidate.is_file())
    };
    for field in dynamic {
        let mut found = Vec::new();
        if let Some(spec) = tool(&["setuptools", "dynamic", field]) {
            if let Some(attr) = spec.get("attr").and_then(Item::as_str) {
                // `pkg.module.attr`: the module is everything before the last dot.
                let module = attr.rsplit_once('.').map_or(attr, |(m, _)| m);
                found.extend(module_file(module).map(MetadataSource::File));
            }
            match spec.get("file") {
                Some(item) if item.is_str() => {
                    found.extend(item.as_str().map(|f| MetadataSource::File(dir.join(f))));
                }
                Some(item) => found.extend(
                    item.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str())
                        .map(|f| MetadataSource::File(dir.join(f))),
                ),
                None => {}
            }
        }
        if field == "version" {
            for path in [
                &["hatch", "version", "path"][..],
                &["pdm", "version", "path"],
            ] {
                if let Some(file) = tool(path).and_then(Item::as_str) {
                    found.push(MetadataSource::File(dir.join(file)));
                }
            }
            let vcs = ["hatch", "pdm"].iter().any(|backend| {
                tool(&[backend, "version", "source"])
                    .and_then(Item::as_str)
                    .is_some_and(|s| s == "vcs" || s == "scm")
            });
            if vcs || scm {
                found.push(MetadataSource::Git(dir.to_path_buf()));
                // A dirty tree's version names the change too.
                found.push(MetadataSource::Tree(dir.to_path_buf()));
            }
            let flit = doc
                .get("build-system")
                .and_then(|b| b.get("build-backend"))
                .and_then(Item::as_str)
                .is_some_and(|b| b.starts_with("flit"));
            if flit && found.is_empty() {
                let module = tool(&["flit", "module", "name"])
                    .and_then(Item::as_str)
                    .map_or_else(|| normalize(dist).replace('-', "_"), str::to_owned);
                found.extend(module_file(&module).map(MetadataSource::File));
            }
        }
        if found.is_empty() {
            found.push(MetadataSource::Tree(dir.to_path_buf()));
        }
        for source in found {
            if !out.contains(&source) {
                out.push(source);
            }
        }
    }
    out
}
