//! The Python environment: finding interpreters, versions, the venv layout, the installers, the
//! stamp of what a venv was built from, and the session that brings a venv up to date.

pub mod build_bytecode;
pub mod hadolint;
pub mod installer;
pub mod interpreter;
pub mod lock;
pub mod probes;
pub mod pycache_prefix;
pub mod record;
pub mod requirements;
pub mod session;
pub mod stamp;
pub mod tools;
pub mod validators;
pub mod venv;
