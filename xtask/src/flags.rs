//! The command line: every subcommand and flag of `cargo xtask`. The doc comments are the `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The task runner of the dubbing platform's Python monorepo.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The repository root whose python/ tree to work on [default: the repository of this xtask]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the missing files of the seed tree under python/; never touches an existing file
    Scaffold(ScaffoldArgs),
}

/// What a command that can write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    /// Write nothing; fail when something is missing.
    Check,
    /// Write nothing; say what would be written.
    DryRun,
}

#[derive(Debug, Args)]
pub struct ScaffoldArgs {
    /// Write nothing; exit 1 and list what is missing
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// Write nothing; print what would be created
    #[arg(long)]
    pub dry_run: bool,
}

impl ScaffoldArgs {
    pub fn mode(&self) -> Mode {
        match (self.check, self.dry_run) {
            (true, _) => Mode::Check,
            (_, true) => Mode::DryRun,
            _ => Mode::Write,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
