//! One module per command, each with a `run` (`edit`: `add` and `remove`).

pub mod ci;
pub mod clean;
pub mod dist;
pub mod doctor;
pub mod edit;
pub mod fmt;
pub mod hooks;
pub mod ide;
pub mod lint;
pub mod lock;
pub mod new;
pub mod run;
pub mod scaffold;
pub mod setup;
pub mod test;
pub mod verify;
