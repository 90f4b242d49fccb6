//! Requirement files as an installer reads them: what else a file makes the install read. A
//! `-r`/`-c` include is a file of its own, a local `--find-links` folder is its listing, a local
//! wheel or project path is its content; index lines are in the file's own text already.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::fsutil;

/// Something besides the requirement file itself that an install from it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A file: an included requirement or constraint file, a local wheel or sdist.
    File(PathBuf),
    /// A folder whose listing matters: a local `--find-links` folder of wheels.
    Listing(PathBuf),
    /// A folder whose every file matters: a local project installed from its path.
    Tree(PathBuf),
}

/// The logical lines of a requirement file: continuations joined, comments and blanks dropped,
/// each with its line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut line) = pending.take().unwrap_or((i + 1, String::new()));
        // As pip does: a comment line does not continue onto the next, even ending in `\`.
        if line.is_empty() && raw.trim_start().starts_with('#') {
            continue;
        }
        if let Some(body) = raw.strip_suffix('\\') {
            line.push_str(body);
            pending = Some((start, line));
            continue;
        }
        line.push_str(raw);
        // A comment starts at a `#` at the line's start or after white space.
        let cut = line
            .char_indices()
            .find(|&(j, c)| c == '#' && (j == 0 || line[..j].ends_with(char::is_whitespace)))
            .map_or(line.len(), |(j, _)| j);
        let line = line[..cut].trim().to_owned();
        if !line.is_empty() {
            out.push((start, line));
        }
    }
    out.extend(pending.filter(|(_, l)| !l.trim().is_empty()));
    out
}

/// The value of an option in a line: `-r x`, `-rx`, `--requirement x`, `--requirement=x`.
fn option<'l>(line: &'l str, short: &str, long: &str) -> Option<&'l str> {
    if let Some(rest) = line.strip_prefix(long) {
        let rest = rest.strip_prefix('=').unwrap_or(rest);
        if rest.starts_with(char::is_whitespace) || line[long.len()..].starts_with('=') {
            return Some(rest.trim());
        }
    }
    line.strip_prefix(short).map(str::trim)
}

/// Everything an install from `file` reads besides `file`, following includes (each once).
/// Includes are relative to the including file; local paths (wheels, projects, find-links
/// folders) to the folder the installer runs in, `cwd` (pip and uv both read them so). A local
/// path that does not exist counts too, as missing: an install from the file would fail.
pub fn reads(root: &Path, cwd: &Path, file: &Path) -> Result<Vec<Read>> {
    let mut out = Vec::new();
    let mut queue = vec![file.to_path_buf()];
    let mut seen = vec![file.to_path_buf()];
    while let Some(current) = queue.pop() {
        let text = fs::read_to_string(&current)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", current.display()))?;
        let dir = current.parent().unwrap_or(Path::new("."));
        for (number, line) in logical_lines(&text) {
            let at = || format!("{}:{number}", fsutil::display_rel(root, &current));
            let include = option(&line, "-r", "--requirement")
                .or_else(|| option(&line, "-c", "--constraint"));
            if let Some(target) = include {
                let path = dir.join(target);
                if !path.is_file() {
                    bail!(
                        "{}: `{line}` names {}, which does not exist; create it or remove the line",
                        at(),
                        path.display()
                    );
                }
                if !seen.contains(&path) {
                    seen.push(path.clone());
                    out.push(Read::File(path.clone()));
                    queue.push(path);
                }
                continue;
            }
            if let Some(target) = option(&line, "-f", "--find-links") {
                if let Some(path) = local_path(cwd, target) {
                    out.push(Read::Listing(path));
                }
                continue;
            }
            if line.starts_with('-') && !line.starts_with("-e") && !line.starts_with("--editable") {
                continue; // --index-url and the like: their text is the input
            }
            let target = option(&line, "-e", "--editable").unwrap_or(&line);
            // `name @ file:...`, `./x.whl --hash=...`, `./x[extra]; marker`: the path alone.
            let target = target
                .rsplit_once(" @ ")
                .map_or(target, |(_, url)| url.trim());
            let target = target.split_whitespace().next().unwrap_or(target);
            let target = target.split([';', '[']).next().unwrap_or(target).trim();
            if let Some(path) = local_path(cwd, target) {
                if path.is_dir() {
                    out.push(Read::Tree(path));
                } else {
                    out.push(Read::File(path));
                }
            }
        }
    }
    Ok(out)
}

/// Whether a requirement file's text may name other files ([`reads`] finds which): an include,
/// a find-links folder, an editable or a local path, or a `file:` URL. A lock's pins and their
/// `--hash` lines (hundreds of lines) name none, so a no-op setup does not parse them. Looks at
/// each physical line, which finds every such logical line and maybe more.
pub fn may_name_files(text: &str) -> bool {
    // A lock is hundreds of `--hash=sha256:` lines, scanned on every no-op run by an unoptimised
    // xtask: the byte searches are memchr's (optimised in every profile), and a line is looked at
    // only where it starts.
    if memchr::memmem::find(text.as_bytes(), b"file:").is_some() {
        return true;
    }
    let bytes = text.as_bytes();
    let mut start = 0;
    loop {
        if may_name_a_file(&bytes[start..]) {
            return true;
        }
        match memchr::memchr(b'\n', &bytes[start..]) {
            Some(end) => start += end + 1,
            None => return false,
        }
    }
}

/// Whether a physical line (and what follows it) starts like a line that may name a file.
fn may_name_a_file(line: &[u8]) -> bool {
    // The hash lines as uv and pip-compile write them: one comparison each.
    if line.starts_with(b"    --hash=sha256:") {
        return false;
    }
    // What Python's `str.strip` (pip's) takes for whitespace, in ASCII; beyond it, `0x80..` below.
    let indent = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f))
        .unwrap_or(line.len());
    match &line[indent..] {
        // An option's line: a plain hash names nothing (`file:` is ruled out above).
        [b'-', b'-', b'h', b'a', b's', b'h', ..] => false,
        // Non-ASCII where a line starts: left to the parser.
        [b'-' | b'.' | b'/' | b'\\' | 0x80.., ..] => true,
        [_, b':', b'\\', ..] => true,
        _ => false,
    }
}

/// What a resolver reads of a local project or archive that a requirement names by URL
/// (`name @ file:///...`), as one digest: a project folder's files (its dependencies may come
/// from any of them), or an archive's bytes. None for any other requirement.
pub fn local_target_digest(dir: &Path, requirement: &str) -> Option<String> {
    let (_, url) = requirement
        .split_once(" @ ")
        .or_else(|| requirement.split_once('@'))?;
    let url = url.split(';').next().unwrap_or(url).trim();
    let path = local_path(dir, url)?;
    // A project's metadata may come from any of its files (`dynamic` dependencies read from a
    // requirements file, a setup.py reading anything): every file a build of it reads, not
    // what the build writes there (setup builds it, and the lock must not go stale by that).
    if !path.is_dir() {
        return Some(crate::digest::file_content(&path));
    }
    let mut h = crate::digest::Hasher::new();
    for file in crate::digest::build_sources(&path) {
        h.write(file.rel.as_bytes());
        h.write(&[0]);
        h.write(file.digest.as_bytes());
        h.write(&[0]);
    }
    Some(h.finish())
}

/// A local path named in a requirement file: `./x`, `../x`, `/x`, `file:x`; relative to the
/// file's folder. None for a requirement by name or a remote URL.
fn local_path(dir: &Path, target: &str) -> Option<PathBuf> {
    // `file://localhost/x` is `file:///x` (RFC 8089): the host the path is on.
    let url = target
        .strip_prefix("file://localhost")
        .filter(|path| path.starts_with('/'))
        .or_else(|| target.strip_prefix("file://"))
        .or_else(|| target.strip_prefix("file:"));
    let path = url.unwrap_or(target);
    let looks_local = path.starts_with('.')
        || path.starts_with('/')
        || path.starts_with('\\')
        || path.get(1..3) == Some(":\\")
        || url.is_some();
    if !looks_local {
        return None;
    }
    // A URL's path is percent-encoded (`tr%C3%A9%20e`: a space, a non-ASCII letter); a plain
    // path is taken as it is, as the installers do.
    Some(match url {
        Some(path) => dir.join(percent_decoded(path)),
        None => dir.join(path),
    })
}

/// A URL path with its `%XX` escapes made bytes again (a `%` not followed by two hex digits
/// stays as it is).
fn percent_decoded(path: &str) -> PathBuf {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    crate::fsutil::path_from_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dependency on a local project by URL is read by the resolver down to the project's own
    /// metadata: an edit there moves the digest; a requirement by name has none.
    #[test]
    fn a_local_project_named_by_url_counts_by_its_metadata_files() {
        let dir = std::env::temp_dir().join(format!("xtask-target-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let project = dir.join("vendor é/foo");
        fs::create_dir_all(&project).unwrap();
        fs::write(project.join("pyproject.toml"), "dependencies = []\n").unwrap();
        let url = format!(
            "foo @ file://{}",
            project
                .to_string_lossy()
                .replace(' ', "%20")
                .replace('é', "%C3%A9")
        );
        let before = local_target_digest(&dir, &url).unwrap();
        assert_eq!(local_target_digest(&dir, &url).unwrap(), before);
        fs::write(project.join("pyproject.toml"), "dependencies = [\"six\"]\n").unwrap();
        let edited = local_target_digest(&dir, &url).unwrap();
        assert_ne!(edited, before);
        // Dependencies read from a file of the project (setuptools' dynamic `file:`).
        fs::write(project.join("requirements.in"), "iniconfig\n").unwrap();
        let read = local_target_digest(&dir, &url).unwrap();
        assert_ne!(read, edited);
        // What a build of it leaves there (setup builds it) moves nothing.
        fs::create_dir_all(project.join("build/lib")).unwrap();
        fs::write(project.join("build/lib/foo.py"), "X = 1\n").unwrap();
        fs::create_dir_all(project.join("src/foo.egg-info")).unwrap();
        fs::write(project.join("src/foo.egg-info/PKG-INFO"), "Name: foo\n").unwrap();
        assert_eq!(local_target_digest(&dir, &url).unwrap(), read);
        assert_eq!(local_target_digest(&dir, "six>=1.16"), None);
        assert_eq!(
            local_target_digest(&dir, "six @ https://example.invalid/six.whl"),
            None
        );
        let _ = fs::remove_dir_all(&dir);
    }

    /// A `file:` URL's path is percent-decoded, as the installers read it; a plain path is not.
    #[test]
    fn file_urls_are_percent_decoded_and_plain_paths_are_not() {
        let dir = Path::new("/r");
        assert_eq!(
            local_path(dir, "file:///tmp/tr%C3%A9%20e/vendor/foo"),
            Some(PathBuf::from("/tmp/tré e/vendor/foo"))
        );
        assert_eq!(
            local_path(dir, "file:wheels/a%2Bb-1.0-py3-none-any.whl"),
            Some(PathBuf::from("/r/wheels/a+b-1.0-py3-none-any.whl"))
        );
        assert_eq!(
            local_path(dir, "./x%20y"),
            Some(PathBuf::from("/r/./x%20y"))
        );
        assert_eq!(
            local_path(dir, "file:///a%zz%4"),
            Some(PathBuf::from("/a%zz%4"))
        );
        assert_eq!(
            local_path(dir, "file://localhost/tmp/a%20b"),
            Some(PathBuf::from("/tmp/a b"))
        );
        assert_eq!(local_path(dir, "numpy==1.26.4"), None);
    }

    #[test]
    fn includes_find_links_and_local_paths_are_read_and_a_missing_include_is_an_error() {
        let dir = std::env::temp_dir().join(format!("xtask-reqs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("wheels")).unwrap();
        fs::write(dir.join("wheels/a-1.0-py3-none-any.whl"), "").unwrap();
        fs::write(
            dir.join("requirements.txt"),
            "# pinned \\\nnumpy==1.26.4 \\\n    --hash=sha256:abc\n-r extra.txt\n--constraint=c.txt  # limits\n\
             --find-links ./wheels\n--index-url https://example.invalid/simple\n./wheels/a-1.0-py3-none-any.whl\n",
        )
        .unwrap();
        fs::write(dir.join("extra.txt"), "-rrequirements.txt\nrequests\n").unwrap();
        fs::write(dir.join("c.txt"), "urllib3<3\n").unwrap();
        let found = reads(&dir, &dir, &dir.join("requirements.txt")).unwrap();
        assert!(may_name_files(
            &fs::read_to_string(dir.join("extra.txt")).unwrap()
        ));
        assert!(!may_name_files(
            "# header -r x\nnumpy==1.26.4 \\\n    --hash=sha256:abc \\\n    # via x\nsix==1\n"
        ));
        let hash = "--hash=sha256:".to_owned() + &"0a".repeat(32);
        assert!(!may_name_files(&format!(
            "six==1 \\\n  {hash} \\\n  {hash}\n"
        )));
        assert!(may_name_files(&format!(
            "six==1 \\\n  {hash} \\\n  {hash} -e file:x\n"
        )));
        // Hash lines however indented, and CRLF line ends, name nothing.
        assert!(!may_name_files(&format!(
            "six==1 \\\r\n{hash} \\\r\n\t{hash}\r\n"
        )));
        for line in [
            "\t-r other.txt",
            "\x0b-c constraints.txt",
            "\x1f./a.whl",
            "\u{a0}-e ../lib",
            "./a.whl",
            "x @ file:///w/x",
            "-e ../lib",
            "--find-links=w",
            "C:\\w\\a.whl",
        ] {
            assert!(may_name_files(&format!("six==1\n  {line}\n")), "{line}");
        }
        assert_eq!(
            found,
            [
                Read::File(dir.join("extra.txt")),
                Read::File(dir.join("c.txt")),
                Read::Listing(dir.join("./wheels")),
                Read::File(dir.join("./wheels/a-1.0-py3-none-any.whl")),
            ]
        );
        fs::write(dir.join("extra.txt"), "\n\n-r gone.txt\n").unwrap();
        let err = reads(&dir, &dir, &dir.join("requirements.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("extra.txt:3: `-r gone.txt` names") && err.contains("does not exist"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
