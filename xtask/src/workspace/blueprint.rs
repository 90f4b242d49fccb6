//! The typed model of the Python monorepo of `shared/seed/plan.md`: its four packages, their kinds
//! and local dependencies, and the other folders of the seed tree. `scaffold` derives the tree from
//! it; nothing else in the xtask lists packages.

/// What a package is for: a service gets its own venv, a library is installed into services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Library,
}

/// One package of the monorepo, as the seed plan describes it (`'static`), or as `cargo xtask
/// new` describes a new one (borrowing its names): the templates render either.
#[derive(Debug, Clone)]
pub struct Package<'a> {
    /// Folder under `python/`, with `/` separators.
    pub dir: &'a str,
    /// Distribution name (PEP 508), as in `pyproject.toml`'s `[project] name`.
    pub dist: &'a str,
    /// Import name of the top-level module under `src/`.
    pub import: &'a str,
    pub kind: Kind,
    /// One line for `pyproject.toml`'s `description` and the README title.
    pub summary: &'a str,
    /// Subpackages under `src/<import>/`, each with the docstring of its `__init__.py`.
    pub subpackages: &'a [(&'a str, &'a str)],
    /// Distribution names of the libraries of this tree it depends on.
    pub local_deps: &'a [&'a str],
    /// The dedicated `cargo xtask` command that sets a service up, if it has one.
    pub setup_command: Option<&'a str>,
    /// A service's `[tool.xtask.dist]` base image and target platform, when not the defaults.
    pub base_image: Option<&'a str>,
    pub platform: Option<&'a str>,
}

impl<'a> Package<'a> {
    /// The folder's own name: `media-service`, `common`.
    pub fn name(&self) -> &'a str {
        self.dir.rsplit('/').next().unwrap_or(self.dir)
    }

    pub fn is_service(&self) -> bool {
        self.kind == Kind::Service
    }

    /// Test folders under `tests/`: services have integration tests as well.
    pub fn test_dirs(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Service => &["unit", "integration"],
            Kind::Library => &["unit"],
        }
    }
}

pub const MEDIA_SERVICE: Package<'static> = Package {
    dir: "apps/media-service",
    dist: "media-service",
    import: "media_service",
    kind: Kind::Service,
    summary: "CPU-only stream worker of the live-broadcast dubbing platform",
    subpackages: &[("pipelines", "Media pipelines of the stream worker.")],
    local_deps: &["dubbing-common", "dubbing-contracts"],
    setup_command: Some("setup-stream"),
    base_image: None,
    platform: None,
};

pub const STS_SERVICE: Package<'static> = Package {
    dir: "apps/sts-service",
    dist: "sts-service",
    import: "sts_service",
    kind: Kind::Service,
    summary: "GPU speech-to-speech service: speech recognition, translation and speech synthesis",
    subpackages: &[
        (
            "asr",
            "Automatic speech recognition: audio in, transcript out.",
        ),
        ("translation", "Machine translation of transcripts."),
        (
            "tts",
            "Speech synthesis: translated text in, dubbed audio out.",
        ),
    ],
    local_deps: &["dubbing-common", "dubbing-contracts"],
    setup_command: Some("setup-sts"),
    // The GPU service runs on CUDA's runtime image (no Python in it: the Dockerfile's build stage
    // installs a uv-managed one), on the x86-64 GPU hosts.
    base_image: Some("nvidia/cuda:12.4.1-runtime-ubuntu22.04"),
    platform: Some("linux/amd64"),
};

pub const COMMON: Package<'static> = Package {
    dir: "libs/common",
    dist: "dubbing-common",
    import: "dubbing_common",
    kind: Kind::Library,
    summary: "Shared utilities of the dubbing services",
    subpackages: &[],
    local_deps: &[],
    setup_command: None,
    base_image: None,
    platform: None,
};

pub const CONTRACTS: Package<'static> = Package {
    dir: "libs/contracts",
    dist: "dubbing-contracts",
    import: "dubbing_contracts",
    kind: Kind::Library,
    summary: "API contracts and schemas shared by the dubbing services",
    subpackages: &[],
    local_deps: &[],
    setup_command: None,
    base_image: None,
    platform: None,
};

/// Every package of the seed tree, services first.
pub const PACKAGES: &[Package<'static>] = &[MEDIA_SERVICE, STS_SERVICE, COMMON, CONTRACTS];

/// The folder of end-to-end tests that span services, under `python/`.
pub const E2E_TESTS_DIR: &str = "tests/e2e";

/// Deployment configuration lives in `deploy/<service folder>/`, one per service.
pub const DEPLOY_DIR: &str = "deploy";

/// The Python version the seed targets, written to `python/.python-version`.
pub const PYTHON_VERSION: &str = "3.10";

/// The lowest Python the packages support (`requires-python`).
pub const REQUIRES_PYTHON: &str = ">=3.10";

pub fn services() -> impl Iterator<Item = &'static Package<'static>> {
    PACKAGES.iter().filter(|p| p.is_service())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dependencies_name_libraries_of_the_tree() {
        for package in PACKAGES {
            for dep in package.local_deps {
                let target = PACKAGES.iter().find(|p| p.dist == *dep);
                let target = target
                    .unwrap_or_else(|| panic!("{}: unknown local dependency {dep}", package.dist));
                assert_eq!(
                    target.kind,
                    Kind::Library,
                    "{} depends on a service",
                    package.dist
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_services_have_a_setup_command() {
        for (i, a) in PACKAGES.iter().enumerate() {
            for b in &PACKAGES[i + 1..] {
                assert_ne!(a.dist, b.dist);
                assert_ne!(a.import, b.import);
                assert_ne!(a.name(), b.name());
            }
            assert_eq!(a.is_service(), a.setup_command.is_some(), "{}", a.dist);
            assert_eq!(
                a.import,
                a.dist.replace('-', "_"),
                "import name follows the distribution name"
            );
        }
    }
}
