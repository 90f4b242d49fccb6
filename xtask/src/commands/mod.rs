//! One module per command: each has a `run` (the gates: `lint`, `fmt`, `test`, `verify`).

pub mod clean;
pub mod doctor;
pub mod fmt;
pub mod lint;
pub mod scaffold;
pub mod setup;
pub mod test;
pub mod verify;
