//! The rules of the graph, checked when the workspace is read, before any venv is touched; each
//! error names the file and line and what fixes it.
//!
//! - A service is never a dependency: each has its own venv, and another service's packages
//!   must not be importable in it.
//! - A `{ workspace = true }` source under `[tool.uv.sources]` needs a `[tool.uv.workspace]`.
//! - A requirement on a local package is met by its version. A local package has one version,
//!   the one every venv installs (editable), so a requirement it does not meet could never be
//!   installed from this tree. Markers do not exempt a requirement: the local packages are
//!   installed whatever the markers say (and the locks are for every platform and Python), and
//!   every list is checked (extras and groups the xtask does not install too), since no install
//!   of them from this tree could succeed either. A version only the build can tell is not
//!   checked (see `dynamic.rs`).
//! - An extra of a local package that an installed requirement asks for (`dubbing-common[fast]`)
//!   exists, and asks for nothing: local packages are installed without extras (pip and uv
//!   would only warn about a missing one, and install nothing for either).

use std::path::Path;

use anyhow::{Result, bail};

use crate::workspace::blueprint::Kind;
use crate::workspace::package::{Declared, Package, normalize};
use crate::workspace::pep440::{DistVersion, Specifiers};
use crate::workspace::pep508;
use crate::workspace::pyproject::has_uv_workspace_root;

pub fn check(root: &Path, packages: &[Package]) -> Result<()> {
    for package in packages {
        readable_requirements(package)?;
        no_service_dependency(package, packages)?;
        uv_workspace_declared(root, package)?;
    }
    let mut problems = Vec::new();
    for package in packages {
        for declared in &package.declared {
            if let Some(problem) = unmet_local_requirement(package, declared, packages)? {
                problems.push(problem);
            }
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// Every requirement a package declares reads as PEP 508: the error names its file and line,
/// where the resolver, which reads them from a file of its own, could not.
fn readable_requirements(package: &Package) -> Result<()> {
    for declared in &package.declared {
        if let Err(invalid) = pep508::parse(&declared.text) {
            bail!(
                "{}: `{}` is not a PEP 508 requirement:\n{}",
                declared.at,
                declared.text,
                invalid.show(&declared.text)
            );
        }
    }
    Ok(())
}

fn no_service_dependency(package: &Package, packages: &[Package]) -> Result<()> {
    for dep in &package.local_deps {
        let Some(target) = packages.iter().find(|p| p.name == *dep) else {
            continue;
        };
        if target.kind == Kind::Service {
            bail!(
                "{}: {} depends on the service {}; a service is never a dependency (each has its \
                 own venv, and the other's packages must not be importable in it): move the code \
                 both need into a library under python/libs/ and depend on that",
                package.where_required(dep),
                package.dist,
                target.dist
            );
        }
    }
    Ok(())
}

fn uv_workspace_declared(root: &Path, package: &Package) -> Result<()> {
    if let Some((name, at)) = package.uv_workspace_sources.first()
        && !has_uv_workspace_root(root, &package.dir)
    {
        bail!(
            "{at}: {}: `{name} = {{ workspace = true }}` under [tool.uv.sources] needs a uv \
             workspace, and no pyproject.toml between {} and the root declares \
             [tool.uv.workspace]. The xtask installs the local packages editable by itself: \
             remove the entry, or declare the workspace in python/pyproject.toml \
             ([tool.uv.workspace] members = [\"apps/*\", \"libs/*\"])",
            package.dist,
            package.rel,
        );
    }
    Ok(())
}

/// What is wrong with a requirement of `package` on a local package, if anything: a version the
/// local one does not meet, an extra it does not honour. An error for a requirement that cannot
/// be read at all.
fn unmet_local_requirement(
    package: &Package,
    declared: &Declared,
    packages: &[Package],
) -> Result<Option<String>> {
    let name = normalize(crate::workspace::requirement_name(&declared.text));
    let Some(target) = packages
        .iter()
        .find(|p| p.name == name && p.name != package.name)
    else {
        return Ok(None);
    };
    let requirement = match pep508::parse(&declared.text) {
        Ok(requirement) => requirement,
        Err(invalid) => bail!(
            "{}: `{}` is not a PEP 508 requirement:\n{}",
            declared.at,
            declared.text,
            invalid.show(&declared.text)
        ),
    };
    if declared.installed
        && let Some(problem) = extras_problem(declared, &requirement, target)
    {
        return Ok(Some(problem));
    }
    // A direct reference (`name @ URL`) names no version; the local package is installed anyway.
    if requirement.specifier.is_empty() {
        return Ok(None);
    }
    let specifiers = Specifiers::parse(&requirement.specifier)
        .map_err(|e| anyhow::anyhow!("{}: `{}`: {e}", declared.at, declared.text))?;
    // A version only the build can tell is not checked (see dynamic.rs).
    let Some(known) = &target.known_version else {
        return Ok(None);
    };
    let version = DistVersion::parse(&known.text).map_err(|e| {
        anyhow::anyhow!(
            "{}: the version of {}: {e}; write a PEP 440 version",
            known.at,
            target.dist
        )
    })?;
    if specifiers.allows(&version) {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: {} requires `{}`, but the local {} is {} ({}): every venv installs the local package \
         (editable), so nothing could satisfy it; change the requirement, or the version of {}",
        declared.at, package.dist, declared.text, target.dist, known.text, known.at, target.dist
    )))
}

/// An extra of a local package that the requirement asks for, and that the local package does
/// not honour: it lacks the extra, or the extra asks for requirements, which the xtask (which
/// installs local packages without extras) would not install.
fn extras_problem(
    declared: &Declared,
    requirement: &pep508::Requirement,
    target: &Package,
) -> Option<String> {
    for extra in &requirement.extras {
        let wanted = normalize(extra);
        let found = target
            .extras
            .iter()
            .find(|(name, _)| normalize(name) == wanted);
        let (why, fix) = match found {
            None => (
                format!(
                    "{} declares no extra `{extra}` (pip and uv would only warn)",
                    target.dist
                ),
                format!(
                    "remove `[{extra}]`, or declare the extra in {}/pyproject.toml",
                    target.rel
                ),
            ),
            Some((_, requirements)) if !requirements.is_empty() => (
                format!(
                    "the xtask installs local packages without their extras, so what it asks for \
                     ({}) would be missing from the venv",
                    requirements.join(", ")
                ),
                format!(
                    "move those requirements into the [project] dependencies of {} or of this \
                     package, and drop `[{extra}]`",
                    target.dist
                ),
            ),
            Some(_) => continue,
        };
        return Some(format!(
            "{}: `{}` asks for the extra `{extra}` of the local package {}, but {why}; {fix}",
            declared.at, declared.text, target.dist
        ));
    }
    None
}
