//! `cargo xtask`: the one entry point of the repository. Each command is a module with a `run`.

mod flags;
mod fsutil;
mod model;
mod project;
mod scaffold;
mod templates;

use std::process::ExitCode;

use clap::Parser;

use flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain, one cause a line; never a backtrace for a user's mistake, even with
            // RUST_BACKTRACE set.
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let root = project::resolve_root(cli.root.as_deref())?;
    match cli.command {
        Command::Scaffold(args) => scaffold::run(&root, args.mode()),
    }
}
