//! uv's record of an editable install, made to name the restored tree's files: see `set_up`.
//!
//! The record (`<dist-info>/uv_cache.json`, uv 0.13) is one line:
//! `{"timestamp":T,"commit":null,"tags":null,"env":{},"directories":{"src":T}}`, where the
//! first `T` is the latest change time of the package's `pyproject.toml`, `setup.py` and
//! `setup.cfg` (uv's default cache keys; a package with `tool.uv.cache-keys` of its own is left
//! alone) and each folder's `T` is that folder's birth time. uv reinstalls, and rebuilds, when
//! the record differs from what it reads now. Only a record that reads back to the same text is
//! rewritten: any other shape (another uv) stays, and costs a build, never a wrong install.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Rewrites the record of every editable install of the tree's venvs.
pub fn refresh(tree: &Path) {
    for venv in venvs(tree) {
        for dist_info in dist_infos(&venv) {
            let record = dist_info.join("uv_cache.json");
            let (Ok(text), Some(package)) = (fs::read_to_string(&record), editable(&dist_info))
            else {
                continue;
            };
            if let Some(now) = rewritten(&text, &package) {
                // Replaced, never written into: a file of the kept copy is never changed.
                let new = dist_info.join("uv_cache.json.new");
                fs::write(&new, now).unwrap();
                fs::rename(&new, &record).unwrap();
            }
        }
    }
}

fn venvs(tree: &Path) -> Vec<PathBuf> {
    super::entries(&tree.join("python/apps"))
        .into_iter()
        .map(|(path, _, _)| path.join(".venv"))
        .filter(|venv| venv.is_dir())
        .collect()
}

fn dist_infos(venv: &Path) -> Vec<PathBuf> {
    super::entries(&venv.join("lib"))
        .into_iter()
        .flat_map(|(path, _, _)| super::entries(&path.join("site-packages")))
        .filter(|(_, name, _)| name.ends_with(".dist-info"))
        .map(|(path, _, _)| path)
        .collect()
}

/// The package folder of an editable install (`direct_url.json`'s `file://` URL).
fn editable(dist_info: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(dist_info.join("direct_url.json")).ok()?;
    if !text.contains(r#""editable":true"#) {
        return None;
    }
    let url = text.split(r#""url":"file://"#).nth(1)?.split('"').next()?;
    Some(PathBuf::from(percent_decoded(url)?))
}

fn percent_decoded(url: &str) -> Option<String> {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `text` with the times of `package`'s files as they are now; None when `text` is not of the
/// one known shape, or a time cannot be read.
fn rewritten(text: &str, package: &Path) -> Option<String> {
    let (stamp, folders) = parse(text)?;
    if render(stamp, &folders) != text {
        return None;
    }
    let pyproject = fs::read_to_string(package.join("pyproject.toml")).ok()?;
    if pyproject.contains("cache-keys") {
        return None;
    }
    let changed = ["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .filter_map(|f| fs::metadata(package.join(f)).ok())
        .map(|m| changed_at(&m))
        .max()?;
    let born = folders
        .iter()
        .map(|(name, _)| {
            Some((
                name.clone(),
                fs::metadata(package.join(name)).ok()?.created().ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(render(changed, &born))
}

#[cfg(unix)]
fn changed_at(meta: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let since = Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32);
    SystemTime::UNIX_EPOCH + since
}

#[cfg(not(unix))]
fn changed_at(meta: &fs::Metadata) -> SystemTime {
    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

fn render(stamp: SystemTime, folders: &[(String, SystemTime)]) -> String {
    let folders: Vec<String> = folders
        .iter()
        .map(|(name, t)| format!(r#""{name}":{}"#, time(*t)))
        .collect();
    format!(
        r#"{{"timestamp":{},"commit":null,"tags":null,"env":{{}},"directories":{{{}}}}}"#,
        time(stamp),
        folders.join(",")
    )
}

fn time(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    format!(
        r#"{{"secs_since_epoch":{},"nanos_since_epoch":{}}}"#,
        since.as_secs(),
        since.subsec_nanos()
    )
}

fn parse(text: &str) -> Option<(SystemTime, Vec<(String, SystemTime)>)> {
    let rest = text.strip_prefix(r#"{"timestamp":"#)?;
    let (stamp, rest) = parse_time(rest)?;
    let mut rest = rest.strip_prefix(r#","commit":null,"tags":null,"env":{},"directories":{"#)?;
    let mut folders = Vec::new();
    while let Some(quoted) = rest.strip_prefix('"') {
        let (name, after) = quoted.split_once(r#"":"#)?;
        let (t, after) = parse_time(after)?;
        folders.push((name.to_owned(), t));
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    Some((stamp, folders))
}

/// `{"secs_since_epoch":S,"nanos_since_epoch":N}` at the start of `text`, and what follows.
fn parse_time(text: &str) -> Option<(SystemTime, &str)> {
    let rest = text.strip_prefix(r#"{"secs_since_epoch":"#)?;
    let (secs, rest) = rest.split_once(r#","nanos_since_epoch":"#)?;
    let (nanos, rest) = rest.split_once('}')?;
    let since = Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
    Some((SystemTime::UNIX_EPOCH + since, rest))
}
