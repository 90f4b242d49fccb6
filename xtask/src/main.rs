//! `cargo xtask`: the one entry point of the repository. Each command is a module with a `run`.

/// `print!` and `println!` for every module below (declared first, they shadow std's): the
/// same, but a closed stdout (`cargo xtask verify | head`) ends the process quietly with 141, as
/// a shell's SIGPIPE would, instead of a panic and a backtrace.
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::out(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { $crate::output::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::out(format_args!("{}\n", format_args!($($arg)*))) };
}

mod cmd;
mod commands;
mod digest;
mod engine;
mod env;
mod file_digests;
mod flags;
mod fsutil;
mod leftovers;
mod output;
mod own_binary;
mod project;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

use flags::{Cli, Command, Lazy};
use workspace::blueprint;

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
    project::check_build_is_the_checkouts()?;
    let root = project::resolve_root(cli.root.as_deref())?;
    output::set_color(cli.color);
    output::set_verbose(cli.verbose);
    // The seed's two services keep the Makefile's names for their setup.
    let media = || vec![blueprint::MEDIA_SERVICE.name().to_owned()];
    let sts = || vec![blueprint::STS_SERVICE.name().to_owned()];
    match cli.command {
        Command::Scaffold(Lazy(args)) => commands::scaffold::run(&root, args.mode()),
        Command::SetupStream(Lazy(args)) => {
            commands::setup::run(&root, &media(), &args.env, args.locked)
        }
        Command::SetupSts(Lazy(args)) => {
            commands::setup::run(&root, &sts(), &args.env, args.locked)
        }
        Command::Setup(Lazy(args)) => {
            commands::setup::run(&root, &args.services, &args.env, args.locked)
        }
        Command::Doctor(Lazy(choice)) => commands::doctor::run(&root, &choice.env()),
        Command::Lint(Lazy(args)) => commands::lint::run(&root, &args.gate, args.fix),
        Command::Fmt(Lazy(args)) => commands::fmt::run(&root, &args.gate()),
        Command::Test(Lazy(args)) => commands::test::run(&root, &args),
        Command::Verify(Lazy(args)) => commands::verify::run(&root, &args),
        Command::Lock(Lazy(args)) => commands::lock::run(&root, &args),
        Command::Add(Lazy(args)) => commands::edit::add(&root, &args),
        Command::Ide(Lazy(args)) => commands::ide::run(&root, args.check),
        Command::Hooks(Lazy(args)) => commands::hooks::run(&root, &args.action),
        Command::Dist(Lazy(args)) => commands::dist::run(&root, &args),
        Command::Ci(Lazy(args)) => commands::ci::run(&root, &args),
        Command::Run(Lazy(args)) => {
            let code = commands::run::run(&root, &args)?;
            if code != 0 {
                // The command's own exit code, as if it had been run directly.
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Remove(Lazy(args)) => commands::edit::remove(&root, &args),
        Command::New(Lazy(args)) => commands::new::run(&root, &args),
        Command::Clean(Lazy(args)) => commands::clean::run(
            &root,
            if args.dry_run {
                flags::Mode::DryRun
            } else {
                flags::Mode::Write
            },
        ),
    }
}
