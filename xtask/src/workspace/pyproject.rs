//! Reading a package's `pyproject.toml`: PEP 621 metadata, dependency groups (PEP 735), the
//! build backend, `[tool.uv.sources]`, where dynamic metadata comes from; errors name the file
//! and line.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use toml_edit::{Document, Item, Table};

use crate::fsutil;
use crate::workspace::blueprint::Kind;
use crate::workspace::package::{
    DEV_EXTRA, DEV_GROUP, Declared, DevSource, DevTools, Index, KnownVersion, Package, normalize,
    requirement_name,
};
use crate::workspace::pep440::Specifiers;
use crate::workspace::{ci, deploy, dynamic, layout};

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

/// A `pyproject.toml` being read: its place and text, for errors that name the file and line.
struct Reader<'a> {
    rel_file: &'a str,
    source: &'a str,
}

/// The fix of a malformed file: what changed is in git; the seed's files, written into an empty
/// folder, show a working one.
fn fix(rel_file: &str) -> String {
    format!(
        "fix the file (`git diff -- {}` shows what changed since the last commit; \
         `cargo xtask --root EMPTY_FOLDER scaffold` writes the seed's files there to compare)",
        crate::project::quote(rel_file)
    )
}

impl Reader<'_> {
    /// The line (1-based) of an item.
    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| {
            self.source[..s.start.min(self.source.len())]
                .matches('\n')
                .count()
                + 1
        })
    }

    /// `path:line` of an item.
    fn at(&self, span: Option<std::ops::Range<usize>>) -> String {
        format!("{}:{}", self.rel_file, self.line(span))
    }

    /// An error at an item, with the fix for a malformed file.
    fn err(&self, span: Option<std::ops::Range<usize>>, message: String) -> anyhow::Error {
        anyhow::anyhow!("{}: {message}; {}", self.at(span), fix(self.rel_file))
    }

    fn string_list(&self, item: &Item, what: &str) -> Result<Vec<String>> {
        let array = item
            .as_array()
            .ok_or_else(|| self.err(item.span(), format!("`{what}` must be a list of strings")))?;
        array
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.err(v.span(), format!("`{what}` must hold only strings")))
            })
            .collect()
    }

    fn optional_list(&self, item: Option<&Item>, what: &str) -> Result<Vec<String>> {
        item.map_or(Ok(Vec::new()), |item| self.string_list(item, what))
    }

    /// `[project] key` as a string, if there.
    fn string(&self, project: &Table, key: &str) -> Result<Option<String>> {
        match project.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(self.err(item.span(), format!("`project.{key}` must be a string"))),
            },
        }
    }
}

/// The workspace's dev tools: `[dependency-groups] dev` of `python/pyproject.toml` (PEP 735
/// allows the group in a file without `[project]`), for the libraries that declare none. None
/// when the file or the group is not there.
pub fn workspace_dev_tools(root: &Path) -> Result<Option<DevTools>> {
    let path = root.join(crate::project::PYTHON_DIR).join("pyproject.toml");
    let rel_file = fsutil::display_rel(root, &path);
    let Ok(source) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let reader = Reader {
        rel_file: &rel_file,
        source: &source,
    };
    let doc = Document::parse(source.as_str())
        .map_err(|e| anyhow::anyhow!("{}: not valid TOML: {}", reader.at(e.span()), e.message()))?;
    let groups = doc.get("dependency-groups");
    let Some(group) = groups.and_then(|g| g.get(DEV_GROUP)) else {
        return Ok(None);
    };
    let requirements = dev_group(&reader, groups, group)?;
    for requirement in &requirements {
        if let Err(invalid) = crate::workspace::pep508::parse(requirement) {
            // The line of the string as written; the group's own when it cannot be found.
            let at = source
                .find(&format!("\"{requirement}\""))
                .map(|start| start..start + 1)
                .or_else(|| group.span());
            anyhow::bail!(
                "{}: `{requirement}` is not a PEP 508 requirement:\n{}",
                reader.at(at),
                invalid.show(requirement)
            );
        }
    }
    Ok(Some(DevTools {
        source: DevSource::Workspace,
        requirements,
    }))
}

pub fn parse_package(root: &Path, path: &Path, kind: Kind) -> Result<Package> {
    let rel_file = fsutil::display_rel(root, path);
    let source = fs::read_to_string(path)
        .with_context(|| format!("cannot read {rel_file} (is it UTF-8?)"))?;
    let reader = Reader {
        rel_file: &rel_file,
        source: &source,
    };
    let doc = Document::parse(source.as_str()).map_err(|e| {
        anyhow::anyhow!(
            "{}: not valid TOML: {}; {}",
            reader.at(e.span()),
            e.message(),
            fix(&rel_file)
        )
    })?;
    let doc = doc
        .as_item()
        .as_table()
        .context("a TOML document is a table")?;
    let project = project_table(&reader, doc)?;
    let dir = path.parent().context("a pyproject.toml has a folder")?;
    let src = dynamic::Source {
        root,
        dir,
        rel_file: &rel_file,
        text: &source,
        doc,
    };
    let dist = distribution_name(&reader, project)?;
    let dynamic = reader.optional_list(project.get("dynamic"), "project.dynamic")?;
    let known_version = known_version(&reader, &src, project, &dynamic, &dist)?;
    let requires_python = requires_python(&reader, project)?;
    let build = BuildSystem::read(&reader, doc)?;
    let requirements = requirements(&reader, &src, project, &dynamic)?;
    let layout = read_layout(root, doc, dir, &rel_file, &dist)?;
    let (index_sources, uv_workspace_sources) = uv_sources(&reader, doc);
    let metadata_sources = dynamic::metadata_sources(&src, &dynamic, &dist, &build.requires);
    let build_files = super::build_files::of(doc, dir);
    Ok(Package {
        rel: fsutil::display_rel(root, dir),
        dir: dir.to_path_buf(),
        kind,
        name: normalize(&dist),
        dist,
        known_version,
        requires_python,
        dependencies: requirements.dependencies,
        extras: requirements.extras,
        build_backend: build.backend,
        backend_path: build.backend_path,
        metadata_sources,
        build_files,
        build_requires: build.requires,
        layout,
        dev: requirements.dev,
        declared: requirements.declared,
        uv_workspace_sources,
        indexes: indexes(&reader, doc, &index_sources)?,
        index_sources,
        deploy: deploy::read(doc, project, &|s| reader.at(s), &|s, m| reader.err(s, m))?,
        ci: ci::read(doc, &|s, m| reader.err(s, m))?,
        local_deps: Vec::new(),
        runtime_local_deps: Vec::new(),
    })
}

/// The `[build-system]` table: what builds the package.
struct BuildSystem {
    requires: Vec<String>,
    backend: Option<String>,
    backend_path: Vec<String>,
}

impl BuildSystem {
    fn read(reader: &Reader, doc: &Table) -> Result<BuildSystem> {
        let table = doc.get("build-system");
        let list = |key: &str| {
            reader.optional_list(
                table.and_then(|b| b.get(key)),
                &format!("build-system.{key}"),
            )
        };
        Ok(BuildSystem {
            requires: list("requires")?,
            backend: table
                .and_then(|b| b.get("build-backend"))
                .and_then(Item::as_str)
                .map(str::to_owned),
            backend_path: list("backend-path")?,
        })
    }
}

fn project_table<'d>(reader: &Reader, doc: &'d Table) -> Result<&'d Table> {
    match doc.get("project") {
        Some(Item::Table(t)) => Ok(t),
        Some(other) => Err(reader.err(other.span(), "`project` must be a table".into())),
        None => Err(reader.err(None, "no [project] table (PEP 621)".into())),
    }
}

/// `[project] name`, checked.
fn distribution_name(reader: &Reader, project: &Table) -> Result<String> {
    let dist = reader
        .string(project, "name")?
        .ok_or_else(|| reader.err(project.span(), "[project] has no `name`".into()))?;
    if requirement_name(&dist) != dist || dist.is_empty() {
        let span = project.get("name").and_then(Item::span);
        return Err(reader.err(span, format!("`{dist}` is not a valid distribution name")));
    }
    Ok(dist)
}

/// `[project] version` and where it is, or the dynamic version where it can be read.
fn known_version(
    reader: &Reader,
    src: &dynamic::Source,
    project: &Table,
    dynamic: &[String],
    dist: &str,
) -> Result<Option<KnownVersion>> {
    if let Some(text) = reader.string(project, "version")? {
        let at = reader.at(project.get("version").and_then(Item::span));
        return Ok(Some(KnownVersion { text, at }));
    }
    if !dynamic.iter().any(|d| d == "version") {
        return Err(reader.err(
            project.span(),
            "[project] has no `version` (and does not list it in `dynamic`)".into(),
        ));
    }
    Ok(dynamic::version(src, dist, project.get("dynamic")))
}

fn requires_python(reader: &Reader, project: &Table) -> Result<Option<Specifiers>> {
    let Some(text) = reader.string(project, "requires-python")? else {
        return Ok(None);
    };
    let parsed = Specifiers::parse(&text).map_err(|e| {
        let span = project.get("requires-python").and_then(Item::span);
        reader.err(span, format!("bad `requires-python`: {e}"))
    })?;
    Ok(Some(parsed))
}

/// What a package requires: its dependencies, its dev tools, and every requirement it declares
/// with where.
struct Requirements {
    dependencies: Vec<String>,
    extras: BTreeMap<String, Vec<String>>,
    dev: Option<DevTools>,
    declared: Vec<Declared>,
}

fn requirements(
    reader: &Reader,
    src: &dynamic::Source,
    project: &Table,
    dynamic: &[String],
) -> Result<Requirements> {
    let from_file = dynamic::dependencies(src, dynamic, project.get("dynamic"))?;
    let mut dependencies =
        reader.optional_list(project.get("dependencies"), "project.dependencies")?;
    dependencies.extend(from_file.iter().map(|d| d.text.clone()));
    let mut extras = BTreeMap::new();
    if let Some(item) = project.get("optional-dependencies") {
        let table = item.as_table_like().ok_or_else(|| {
            reader.err(
                item.span(),
                "`project.optional-dependencies` must be a table".into(),
            )
        })?;
        for (name, list) in table.iter() {
            let what = format!("project.optional-dependencies.{name}");
            extras.insert(name.to_owned(), reader.string_list(list, &what)?);
        }
    }
    let groups = src.doc.get("dependency-groups");
    let dev = dev_tools(reader, groups, &extras)?;
    let mut declared = from_file;
    // Where each requirement is written, for the checks of the graph.
    let dev_requirements = dev
        .as_ref()
        .map(|d| d.requirements.as_slice())
        .unwrap_or_default();
    let mut note = |item: Option<&Item>, runtime: bool| {
        for value in item.and_then(Item::as_array).into_iter().flatten() {
            if let Some(text) = value.as_str() {
                declared.push(Declared {
                    text: text.to_owned(),
                    at: reader.at(value.span()),
                    installed: runtime || dev_requirements.iter().any(|r| r == text),
                });
            }
        }
    };
    note(project.get("dependencies"), true);
    let optional = project
        .get("optional-dependencies")
        .and_then(Item::as_table_like);
    let groups_table = groups.and_then(Item::as_table_like);
    for table in [optional, groups_table].into_iter().flatten() {
        for (_, list) in table.iter() {
            note(Some(list), false);
        }
    }
    Ok(Requirements {
        dependencies,
        extras,
        dev,
        declared,
    })
}

/// The dev tools: the PEP 735 group, else the extra.
fn dev_tools(
    reader: &Reader,
    groups: Option<&Item>,
    extras: &BTreeMap<String, Vec<String>>,
) -> Result<Option<DevTools>> {
    let Some(group) = groups.and_then(|g| g.get(DEV_GROUP)) else {
        return Ok(extras.get(DEV_EXTRA).map(|requirements| DevTools {
            source: DevSource::Extra,
            requirements: requirements.clone(),
        }));
    };
    let requirements = dev_group(reader, groups, group)?;
    Ok(Some(DevTools {
        source: DevSource::Group,
        requirements,
    }))
}

/// `[tool.uv.sources]`: which packages come from which index, and the `workspace = true`
/// entries with their `path:line`.
fn uv_sources(reader: &Reader, doc: &Table) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let mut index_sources = BTreeMap::new();
    let mut workspace_sources = Vec::new();
    let sources = doc
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(Item::as_table_like);
    for (name, spec) in sources.into_iter().flat_map(|t| t.iter()) {
        if let Some(index) = spec.get("index").and_then(Item::as_str) {
            index_sources.insert(normalize(name), index.to_owned());
        }
        if spec.get("workspace").and_then(Item::as_bool) == Some(true) {
            let span = spec
                .span()
                .or_else(|| spec.as_inline_table().and_then(|t| t.span()));
            workspace_sources.push((name.to_owned(), reader.at(span)));
        }
    }
    (index_sources, workspace_sources)
}

/// `[[tool.uv.index]]`; every index `[tool.uv.sources]` names must be among them.
fn indexes(
    reader: &Reader,
    doc: &Table,
    index_sources: &BTreeMap<String, String>,
) -> Result<Vec<Index>> {
    let mut indexes = Vec::new();
    let uv = doc.get("tool").and_then(|t| t.get("uv"));
    if let Some(declared) = uv.and_then(|u| u.get("index")) {
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
                return Err(reader.err(
                    other.span(),
                    "`[[tool.uv.index]]` must be a list of tables".into(),
                ));
            }
        };
        for table in list {
            let text = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_owned);
            let (Some(name), Some(url)) = (text("name"), text("url")) else {
                return Err(reader.err(
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
    let sources = uv.and_then(|u| u.get("sources"));
    for (package, index) in index_sources {
        if !indexes.iter().any(|i| &i.name == index) {
            return Err(reader.err(
                sources.and_then(|t| t.get(package)).and_then(Item::span),
                format!(
                    "[tool.uv.sources] takes {package} from the index `{index}`, which no [[tool.uv.index]] here names"
                ),
            ));
        }
    }
    Ok(indexes)
}

/// The package's import packages; an error naming the file when they cannot be told.
fn read_layout(
    root: &Path,
    doc: &Table,
    dir: &Path,
    rel_file: &str,
    dist: &str,
) -> Result<layout::Layout> {
    let import = normalize(dist).replace('-', "_");
    let layout = layout::read(doc, dir, dist).map_err(|e| {
        anyhow::anyhow!("{rel_file}: {e}; declare the import packages in it, e.g. [tool.xtask] packages = [\"{import}\"] (and source = \"src\" if they live there)")
    })?;
    if layout.imports.is_empty() {
        bail!(
            "{rel_file}: cannot tell which import packages {dist} provides: no folder with an __init__.py under {}; \
             declare them in it: [tool.xtask] packages = [\"{import}\"] (and source = \"src\" if they live there)",
            fsutil::display_rel(root, &layout.source_root),
        );
    }
    Ok(layout)
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

/// The requirements of `[dependency-groups] dev` (`group`, in `groups`), its `include-group`
/// entries expanded; an error names the file and line.
fn dev_group(reader: &Reader, groups: Option<&Item>, group: &Item) -> Result<Vec<String>> {
    group_requirements(groups.and_then(Item::as_table_like), DEV_GROUP, 0).map_err(|e| {
        reader.err(
            group.span(),
            format!("[dependency-groups] {DEV_GROUP}: {e}"),
        )
    })
}
