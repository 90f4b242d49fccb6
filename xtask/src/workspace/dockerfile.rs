//! A service's Dockerfile: the template `dist` writes to `python/deploy/<service>/Dockerfile` the
//! first time (the team's file from then on, never overwritten).
//!
//! Two stages from the same base image. The build stage gets the pinned uv from its image,
//! makes `/opt/venv` (with the base image's Python when it has that version, else a uv-managed
//! one in `/opt/python`), and runs the context's `install.py`: the lock's pins hash-checked, then
//! the wheels with `--no-index --no-deps`. The final stage holds `/opt` only (no uv, no compiler,
//! no source tree, no dev tool) and runs the service's command as a non-root user.

use crate::workspace::Package;
use crate::workspace::deploy::context;

/// The base image when the service names none: the official slim image of the tree's Python.
pub fn default_base_image(python_version: &str) -> String {
    format!("python:{python_version}-slim")
}

/// The `docker build` line for a context: tag `<service>:<version>`, the service's platform.
pub fn build_argv(service: &Package, version: &str, context_dir: &str) -> Vec<String> {
    let mut argv: Vec<String> = vec!["docker".into(), "build".into()];
    if let Some(platform) = &service.deploy.platform {
        argv.extend(["--platform".into(), platform.clone()]);
    }
    argv.extend([
        "--tag".into(),
        format!("{}:{version}", service.folder_name()),
        context_dir.to_owned(),
    ]);
    argv
}

/// The Dockerfile of a service, for the Python `python_version` (`3.10`), with the uv image of
/// `uv_version` (the pinned uv: the one `dist` checks the install steps with). `command` is what
/// the image runs.
pub fn template(
    service: &Package,
    python_version: &str,
    uv_version: &str,
    command: &[String],
) -> String {
    let name = service.folder_name();
    let base = service
        .deploy
        .base_image
        .clone()
        .unwrap_or_else(|| default_base_image(python_version));
    let entrypoint: Vec<String> = command
        .iter()
        .map(|a| crate::output::json_string(a))
        .collect();
    let (lock, install, wheels) = (context::LOCK, context::INSTALL, context::WHEELS);
    format!(
        r#"# syntax=docker/dockerfile:1
# The image of {name}, built from the context `cargo xtask dist {name}` writes (its wheels,
# its runtime lock, install.py). Written once by dist from its template: the team's file from then
# on, never overwritten. dist prints the `docker build` command that builds it.

FROM ghcr.io/astral-sh/uv:{uv_version} AS uv

FROM {base} AS build
# The base image's Python {python_version} when it has one, else a uv-managed one in /opt/python.
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
COPY --from=uv /uv /usr/local/bin/uv
RUN uv venv --python {python_version} /opt/venv
# The install steps are install.py's, the same that `cargo xtask dist` checks on the builder's
# machine: the lock's pins hash-checked, then the local wheels without an index.
COPY {lock} {install} /context/
COPY {wheels}/ /context/{wheels}/
RUN /opt/venv/bin/python /context/{install}

FROM {base}
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt /opt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# By uid, not by name: a name may not resolve where the image runs (hadolint's DL3066).
USER 10001
ENTRYPOINT [{entrypoint}]
"#,
        entrypoint = entrypoint.join(", "),
    )
}
