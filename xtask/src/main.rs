//! `cargo xtask`: the one entry point of the repository. Each command is a module with a `run`.

mod clean;
mod cmd;
mod digest;
mod doctor;
mod flags;
mod fsutil;
mod gates;
mod inputs;
mod installer;
mod interpreter;
mod jobs;
mod leftovers;
mod memo;
mod model;
mod output;
mod pep440;
mod project;
mod requirements;
mod scaffold;
mod select;
mod setup;
mod stamp;
mod templates;
mod venv;
mod verify;
mod workspace;

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
        Command::SetupStream(env) => {
            setup::run(&root, &[model::MEDIA_SERVICE.name().to_owned()], &env)
        }
        Command::SetupSts(env) => setup::run(&root, &[model::STS_SERVICE.name().to_owned()], &env),
        Command::Setup(args) => setup::run(&root, &args.services, &args.env),
        Command::Doctor(env) => doctor::run(&root, &env),
        Command::Lint(args) => gates::lint(&root, &args.gate, args.fix),
        Command::Fmt(args) => gates::fmt(&root, &args),
        Command::Test(args) => gates::test(&root, &args.gate, &args.pytest_args),
        Command::Verify(args) => verify::run(&root, &args),
        Command::Clean(args) => clean::run(
            &root,
            if args.dry_run {
                flags::Mode::DryRun
            } else {
                flags::Mode::Write
            },
        ),
    }
}
