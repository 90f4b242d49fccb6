//! Content digests of files, remembered by each file's identity, so that a run with nothing
//! changed need not read the files again: a no-op `setup` of the seed tree read and hashed
//! 750 KB of its venvs' RECORDs and top-level modules, a fifth of its time.
//!
//! Why a remembered digest can be trusted: it stands for a file only while the file's device,
//! inode, size, modification time and change time (ctime) are all as they were when its content
//! was read. The kernel sets a file's ctime to the current time whenever its content or its
//! metadata changes (a write, a truncation, a rename onto it, and `touch -r`, `cp -p`, `tar` or
//! a cache restore setting the modification time back), and no call lets a program set it; a
//! file written anew (an installer rewriting a RECORD, a copy, a restore) has a new inode or a
//! new ctime. The one gap is a change within the same tick of the file system's clock as the
//! ctime recorded, so a digest is remembered only for a file whose ctime was at least
//! [`SETTLED`] old when it was read (git's index calls such files "racily clean" and reads them
//! again for the same reason); a file changed since is read, and its digest learned, by a later
//! run. A change time is only as good as the file system that keeps it, so a table is kept only
//! on a local Linux file system whose kernel driver sets it ([`trusted_device`]: ext2/3/4,
//! XFS, Btrfs, tmpfs, overlayfs, F2FS, ZFS; not NFS, whose `stat` may answer from a cache of
//! attributes, nor FUSE or FAT, where a ctime is what a program or the mtime says), and only
//! for files on the same device as the table. Elsewhere (Windows, macOS, other file systems)
//! nothing is remembered and every file is read. What it cannot see: a write through a shared
//! memory map to a page already dirty (the kernel moves the ctime on the first write to a clean
//! page only) and a clock set back; nothing writes a venv's RECORDs that way.
//!
//! The table is a plain file, rewritten (never in place) when a run learns a digest; a line it
//! cannot read is skipped, so deleting or damaging it costs one full read, never a wrong digest.

use std::collections::HashMap;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::digest;

/// How old a file's ctime must be, when the file is read, for its digest to be remembered: well
/// above the coarsest clock tick of a Linux file system (jiffies) and the 1 s timestamps of old
/// ones.
pub const SETTLED: Duration = Duration::from_secs(3);

const HEADER: &str = "# Content digests of files by identity, written by the xtask \
                      (xtask/src/file_digests.rs): safe to delete.\n";

/// Set by `--no-cache`: this run remembers nothing, and reads every file.
static READ_EVERY_FILE: AtomicBool = AtomicBool::new(false);

/// From now on, every table loaded is empty: a run that trusts nothing remembered (`--no-cache`)
/// reads every file. What it reads is still written back for the next run.
pub fn read_every_file() {
    READ_EVERY_FILE.store(true, Ordering::Relaxed);
}

/// Whether this run trusts nothing remembered (`--no-cache`).
pub fn reads_every_file() -> bool {
    READ_EVERY_FILE.load(Ordering::Relaxed)
}

/// What identifies one state of a file: equal identities, one content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    #[cfg(unix)]
    pub fn of(meta: &fs::Metadata) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt as _;
        Some(Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_meta: &fs::Metadata) -> Option<Identity> {
        None
    }

    /// The device the file is on.
    pub fn device(&self) -> u64 {
        self.dev
    }

    /// Whether the file's last change was at least `margin` before `now`.
    pub fn settled(&self, now: SystemTime, margin: Duration) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (secs, nanos) = self.ctime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        Duration::new(secs, nanos.min(999_999_999)) + margin <= now
    }

    pub fn write(&self, out: &mut String) {
        let Identity {
            dev,
            ino,
            size,
            mtime,
            ctime,
        } = self;
        out.push_str(&format!(
            "{dev} {ino} {size} {} {} {} {}",
            mtime.0, mtime.1, ctime.0, ctime.1
        ));
    }

    fn parse(words: &[&str]) -> Option<Identity> {
        let [dev, ino, size, ms, mn, cs, cn] = words else {
            return None;
        };
        Some(Identity {
            dev: dev.parse().ok()?,
            ino: ino.parse().ok()?,
            size: size.parse().ok()?,
            mtime: (ms.parse().ok()?, mn.parse().ok()?),
            ctime: (cs.parse().ok()?, cn.parse().ok()?),
        })
    }
}

/// The remembered digests of the files under one folder (a venv), kept in a file there.
pub struct FileDigests {
    file: PathBuf,
    margin: Duration,
    /// The device of the table's folder, on a trusted file system: the only device whose files
    /// are remembered. None: nothing is.
    device: Option<u64>,
    known: HashMap<String, (Identity, String)>,
    /// The entries this run used or learned: what is written back.
    used: HashMap<String, (Identity, String)>,
    learned: bool,
    /// How many files this run read (for tests).
    reads: usize,
}

impl FileDigests {
    /// The table kept in `file`; an absent or unreadable one is empty.
    pub fn load(file: PathBuf) -> FileDigests {
        FileDigests::with_margin(file, SETTLED)
    }

    fn with_margin(file: PathBuf, margin: Duration) -> FileDigests {
        let device = file.parent().and_then(trusted_device);
        let text = if READ_EVERY_FILE.load(Ordering::Relaxed) || device.is_none() {
            String::new()
        } else {
            fs::read_to_string(&file).unwrap_or_default()
        };
        let known = text.lines().filter_map(parse_line).collect();
        FileDigests {
            file,
            margin,
            device,
            known,
            used: HashMap::new(),
            learned: false,
            reads: 0,
        }
    }

    /// The digest of the content of the file at `path` (`key` names it in the table), as
    /// [`digest::file_content`] gives it: remembered while its identity holds, else read.
    pub fn content(&mut self, key: &str, path: &Path) -> String {
        self.content_up_to(key, path, u64::MAX)
            .unwrap_or_else(|_| self.read(key, path))
    }

    /// The same for a file of at most `limit` bytes; for a larger one, its size, and its content
    /// is not read. One look at the file decides both.
    pub fn content_up_to(&mut self, key: &str, path: &Path, limit: u64) -> Result<String, u64> {
        let meta = fs::metadata(path).ok();
        if let Some(len) = meta.as_ref().map(fs::Metadata::len)
            && len > limit
        {
            return Err(len);
        }
        let now = meta.and_then(|m| Identity::of(&m));
        if let (Some(now), Some((id, digest))) = (now, self.known.get(key))
            && now == *id
            && Some(now.dev) == self.device
        {
            let digest = digest.clone();
            self.used.insert(key.to_owned(), (now, digest.clone()));
            return Ok(digest);
        }
        Ok(self.read(key, path))
    }

    /// Reads the file: its identity and content from one open file, so that both are of the same
    /// file even if the path changes meanwhile.
    fn read(&mut self, key: &str, path: &Path) -> String {
        self.reads += 1;
        let started = SystemTime::now();
        let Ok(mut file) = fs::File::open(path) else {
            return digest::file_content(path);
        };
        let id = file.metadata().ok().and_then(|m| Identity::of(&m));
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return digest::file_content(path);
        }
        let digest = digest::hash(&bytes);
        if let Some(id) = id
            && Some(id.dev) == self.device
            && id.settled(started, self.margin)
            && !key.contains(['\n', '\r'])
        {
            self.used.insert(key.to_owned(), (id, digest.clone()));
            self.learned = true;
        }
        digest
    }

    /// Writes the table back when this run learned a digest: the entries it used, so that the
    /// files no longer there leave it. A failure to write costs a later run a read, no more.
    pub fn save(&self) {
        if !self.learned {
            return;
        }
        let mut keys: Vec<&String> = self.used.keys().collect();
        keys.sort();
        let mut out = String::from(HEADER);
        for key in keys {
            let (id, digest) = &self.used[key];
            out.push_str(digest);
            out.push(' ');
            id.write(&mut out);
            out.push(' ');
            out.push_str(key);
            out.push('\n');
        }
        let tmp = temporary(&self.file);
        if fs::write(&tmp, out).is_err() || fs::rename(&tmp, &self.file).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

/// Where a table is written before it is renamed into place: `<table>.<pid>.tmp`.
fn temporary(table: &Path) -> PathBuf {
    let mut name = table.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    table.with_file_name(name)
}

/// Whether `name` is what writing the table `table` (a file name) may leave when interrupted.
pub fn is_temporary(name: &str, table: &str) -> bool {
    name.strip_prefix(table)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// The device of the folder `dir` when its file system keeps change times that programs
/// cannot set and `stat` reads fresh: a local Linux file system of the list below.
#[cfg(target_os = "linux")]
pub fn trusted_device(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::MetadataExt as _;
    const TRUSTED: &[u64] = &[
        0xEF53,      // ext2, ext3, ext4
        0x5846_5342, // XFS
        0x9123_683E, // Btrfs
        0x0102_1994, // tmpfs
        0x794C_7630, // overlayfs
        0xF2F5_2010, // F2FS
        0x2FC1_2FC1, // ZFS
    ];
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statfs` writes only into the zeroed struct it is given, and reads the
    // NUL-terminated path, which outlives the call.
    let kind = unsafe {
        let mut info: libc::statfs = std::mem::zeroed();
        if libc::statfs(path.as_ptr(), &mut info) != 0 {
            return None;
        }
        info.f_type
    };
    // `f_type` is a signed or unsigned word by architecture; the magic numbers are 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let kind = (kind as u64) & 0xFFFF_FFFF;
    if !TRUSTED.contains(&kind) {
        return None;
    }
    fs::metadata(dir).ok().map(|m| m.dev())
}

#[cfg(not(target_os = "linux"))]
pub fn trusted_device(_dir: &Path) -> Option<u64> {
    None
}

/// Whether every byte is a hex digit. A plain loop: iterator adaptors and their closures cost
/// tens of instructions a byte in the unoptimised xtask, and a no-op run checks every line.
fn is_hex(bytes: &[u8]) -> bool {
    for &b in bytes {
        if !b.is_ascii_hexdigit() {
            return false;
        }
    }
    true
}

/// `<digest> <dev> <ino> <size> <mtime s> <mtime ns> <ctime s> <ctime ns> <key>`.
fn parse_line(line: &str) -> Option<(String, (Identity, String))> {
    // The digest, the seven numbers of the identity, then the key (which may hold spaces). Split
    // by memchr's search: a no-op run reads every line, and the xtask runs unoptimised.
    let mut fields = [""; 8];
    let mut rest = line;
    for field in &mut fields {
        let end = memchr::memchr(b' ', rest.as_bytes())?;
        *field = &rest[..end];
        rest = &rest[end + 1..];
    }
    let [digest, words @ ..] = fields;
    let key = rest;
    let valid = digest.len() == digest::HEX_LEN && is_hex(digest.as_bytes());
    if !valid || key.is_empty() {
        return None;
    }
    Some((
        key.to_owned(),
        (Identity::parse(&words)?, digest.to_owned()),
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn dir(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-digests-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_remembered_digest_holds_only_while_the_file_is_the_same() {
        let dir = dir("same");
        let (table, file) = (dir.join("digests"), dir.join("RECORD"));
        fs::write(&file, "a,sha256=1,1\n").unwrap();
        let mut first = FileDigests::with_margin(table.clone(), Duration::ZERO);
        assert_eq!(first.content("RECORD", &file), digest::file_content(&file));
        first.save();
        let mut second = FileDigests::with_margin(table.clone(), Duration::ZERO);
        assert_eq!(second.content("RECORD", &file), digest::file_content(&file));
        assert_eq!(second.reads, 0, "the second run reads nothing");
        // The same size, the modification time set back (`cp -p`, `touch -r`): read again.
        // (After a clock tick: within one, only the margin tells the two apart.)
        std::thread::sleep(Duration::from_millis(50));
        let mtime = fs::metadata(&file).unwrap().modified().unwrap();
        fs::write(&file, "b,sha256=2,2\n").unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let mut third = FileDigests::with_margin(table, Duration::ZERO);
        assert_eq!(
            third.content("RECORD", &file),
            digest::hash(b"b,sha256=2,2\n")
        );
        assert_eq!(third.reads, 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_local_file_system_that_keeps_change_times_is_trusted() {
        let dir = dir("fs");
        assert!(
            trusted_device(&dir).is_some(),
            "the temporary folder's file system is trusted"
        );
        // procfs and sysfs keep no change times of their own.
        assert_eq!(trusted_device(Path::new("/proc")), None);
        assert_eq!(trusted_device(Path::new("/sys")), None);
        // A file on another device than the table's is read each time, never remembered.
        let mut table = FileDigests::with_margin(dir.join("digests"), Duration::ZERO);
        table.device = Some(u64::MAX);
        let file = dir.join("RECORD");
        fs::write(&file, "a\n").unwrap();
        table.content("RECORD", &file);
        assert!(!table.learned);
        let _ = fs::remove_dir_all(&dir);
        assert!(is_temporary(
            "xtask-digests.txt.123.tmp",
            "xtask-digests.txt"
        ));
        assert!(!is_temporary("xtask-digests.txt.tmp", "xtask-digests.txt"));
        assert!(!is_temporary(
            "xtask-digests.txt.12a.tmp",
            "xtask-digests.txt"
        ));
        assert_eq!(
            temporary(&dir.join("xtask-digests.txt"))
                .file_name()
                .unwrap()
                .to_string_lossy(),
            format!("xtask-digests.txt.{}.tmp", std::process::id())
        );
    }

    #[test]
    fn a_file_changed_lately_is_never_remembered() {
        let dir = dir("racy");
        let (table, file) = (dir.join("digests"), dir.join("RECORD"));
        fs::write(&file, "a\n").unwrap();
        let mut first = FileDigests::with_margin(table.clone(), Duration::from_secs(3600));
        assert_eq!(first.content("RECORD", &file), digest::hash(b"a\n"));
        first.save();
        assert!(!table.exists(), "nothing learned, nothing written");
        let mut second = FileDigests::with_margin(table, Duration::from_secs(3600));
        second.content("RECORD", &file);
        assert_eq!(second.reads, 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_table_costs_a_read_never_a_wrong_digest() {
        let dir = dir("damaged");
        let (table, file) = (dir.join("digests"), dir.join("RECORD"));
        fs::write(&file, "a\n").unwrap();
        let mut first = FileDigests::with_margin(table.clone(), Duration::ZERO);
        first.content("RECORD", &file);
        first.save();
        let text = fs::read_to_string(&table).unwrap();
        assert!(text.starts_with("# "), "{text}");
        let (header, line) = text.split_once('\n').unwrap();
        assert!(line.starts_with(&digest::hash(b"a\n")), "{line}");
        for damaged in [
            line.replacen(' ', "  ", 1),
            line.replacen(&digest::hash(b"a\n")[..10], "zzzzzzzzzz", 1),
            line.rsplit_once(' ').unwrap().0.to_owned(),
            String::new(),
        ] {
            let damaged = format!("{header}\n{damaged}");
            fs::write(&table, damaged).unwrap();
            let mut again = FileDigests::with_margin(table.clone(), Duration::ZERO);
            assert_eq!(again.content("RECORD", &file), digest::hash(b"a\n"));
            assert_eq!(again.reads, 1);
        }
        // A missing file is `absent`, as digest::file_content says, and is not remembered.
        let mut gone = FileDigests::with_margin(table, Duration::ZERO);
        assert_eq!(gone.content("gone", &dir.join("gone")), "absent");
        assert!(!gone.used.contains_key("gone"));
        let _ = fs::remove_dir_all(&dir);
    }
}
