//! A service's virtualenv: where it lives and the platform's layout inside it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::workspace::Package;

/// The layouts of a virtualenv: `bin/python` on Unix, `Scripts\python.exe` on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    /// The folder of executables inside a venv or an interpreter's prefix.
    pub fn bin_dir(self, prefix: &Path) -> PathBuf {
        match self {
            Platform::Unix => prefix.join("bin"),
            Platform::Windows => prefix.join("Scripts"),
        }
    }

    /// The file name of an executable: `uv`, `uv.exe`.
    pub fn exe(self, name: &str) -> String {
        match self {
            Platform::Unix => name.to_owned(),
            Platform::Windows => format!("{name}.exe"),
        }
    }

    pub fn venv_python(self, venv: &Path) -> PathBuf {
        self.bin_dir(venv).join(self.exe("python"))
    }

    /// Where a venv's site-packages may be, as a glob: `lib/python3.X/site-packages` or
    /// `Lib\site-packages`.
    pub fn site_packages_pattern(self, venv: &Path) -> String {
        let venv = glob::Pattern::escape(&venv.to_string_lossy());
        match self {
            Platform::Unix => format!("{venv}/lib/python*/site-packages"),
            Platform::Windows => format!("{venv}\\Lib\\site-packages"),
        }
    }
}

/// The virtualenv of one service, at `<service>/.venv`.
#[derive(Debug, Clone)]
pub struct Venv {
    pub dir: PathBuf,
    pub platform: Platform,
}

impl Venv {
    pub const DIR: &'static str = ".venv";
    /// The lock file beside the venv: it outlives the venv's removal and re-creation.
    pub const LOCK: &'static str = ".venv.lock";
    const STAMP: &'static str = "xtask-stamp.toml";

    pub fn of(service: &Package) -> Venv {
        Venv {
            dir: service.dir.join(Venv::DIR),
            platform: Platform::current(),
        }
    }

    pub fn python(&self) -> PathBuf {
        self.platform.venv_python(&self.dir)
    }

    pub fn stamp(&self) -> PathBuf {
        self.dir.join(Venv::STAMP)
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.with_file_name(Venv::LOCK)
    }

    /// A folder is a venv (ours to remove and re-create) only if it has a `pyvenv.cfg`.
    pub fn is_venv(&self) -> bool {
        self.dir.join("pyvenv.cfg").is_file()
    }

    /// Whether the venv's interpreter is there and its link (if any) leads somewhere.
    pub fn python_works(&self) -> bool {
        fs::metadata(self.python()).is_ok()
    }

    pub fn site_packages(&self) -> Vec<PathBuf> {
        let pattern = self.platform.site_packages_pattern(&self.dir);
        glob::glob(&pattern)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_of_both_platforms() {
        let venv = Path::new("svc").join(".venv");
        assert_eq!(
            Platform::Unix.venv_python(&venv),
            venv.join("bin").join("python")
        );
        assert_eq!(
            Platform::Windows.venv_python(&venv),
            venv.join("Scripts").join("python.exe")
        );
        assert_eq!(Platform::Windows.exe("uv"), "uv.exe");
        assert_eq!(Platform::Unix.exe("uv"), "uv");
        let odd = Path::new("/a [b]/.venv");
        assert_eq!(
            Platform::Unix.site_packages_pattern(odd),
            "/a [[]b[]]/.venv/lib/python*/site-packages"
        );
        assert_eq!(
            Platform::Windows.site_packages_pattern(Path::new("C:/v")),
            "C:/v\\Lib\\site-packages"
        );
    }

    #[test]
    fn the_lock_sits_beside_the_venv() {
        let venv = Venv {
            dir: Path::new("svc").join(".venv"),
            platform: Platform::Unix,
        };
        assert_eq!(venv.lock_file(), Path::new("svc").join(".venv.lock"));
        assert_eq!(
            venv.stamp(),
            Path::new("svc").join(".venv").join("xtask-stamp.toml")
        );
    }
}
