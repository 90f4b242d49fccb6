//! The engine: which packages are selected, the jobs derived from the workspace (the gate), their
//! inputs and remembered passes, and the parallel runner.

pub mod caches;
pub mod gate;
pub mod inputs;
pub mod jobs;
pub mod junit;
pub mod local_inputs;
pub mod memo;
pub mod option_files;
pub mod outside;
pub mod seed_origins;
pub mod select;
pub mod site_bytecode;
pub mod summary;
