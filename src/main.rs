use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use kubectl_stateful::cli::Cli;
use kubectl_stateful::error::{Error, exit};
use kubectl_stateful::output::Streams;

fn main() -> ExitCode {
    let mut io = Streams::process();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            io.say(format_args!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::ERROR);
        }
    };
    // args_os: arguments that are not UTF-8 become a usage error from clap, not a panic.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == kubectl_stateful::COMPLETE_COMMAND) {
        let result = runtime.block_on(kubectl_stateful::complete(&args[2..], &mut io));
        return exit_code(result, &mut io);
    }
    let args_given: Vec<std::ffi::OsString> = args.iter().skip(1).cloned().collect();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Help and --version print in full; a usage error is one line on stderr, exit 2.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A bare `kubectl stateful` (or `kubectl stateful pvc`) asks what there is: its commands,
        // on stdout, as kubectl and git answer. With flags given, a command is missing: usage.
        Err(e)
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                && args_given.iter().all(|a| !a.to_string_lossy().starts_with('-')) =>
        {
            let _ = write!(io.out, "{}", e.render());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let line = match e.kind() {
                // clap's own text here is the help's first line, which reads as no error at all.
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    "error: a command is required".to_owned()
                }
                _ => one_line(&e.to_string()),
            };
            io.say(format_args!("{line} (see --help)"));
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = runtime.block_on(kubectl_stateful::run(cli, &mut io));
    exit_code(result, &mut io)
}

/// clap's message on one line, without its usage block: the first line, joined with the list
/// it introduces ("required arguments were not provided:" is followed by their names), and the
/// possible values or the tip clap adds ("[possible values: …]", "tip: a similar argument exists").
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("error: invalid arguments").to_owned();
    let rest: Vec<&str> =
        lines.take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more")).collect();
    if first.ends_with(':') {
        return format!("{first} {}", rest.join(", "));
    }
    let mut line = first;
    for extra in rest {
        if extra.starts_with('[') {
            line.push(' ');
            line.push_str(extra);
        } else if extra.starts_with("tip: a similar") {
            line.push_str("; ");
            line.push_str(extra);
        }
    }
    line
}

/// One line on stderr for an error, and the documented exit code; a closed stdout (`| head`)
/// is not an error.
fn exit_code(result: Result<(), Error>, io: &mut Streams) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            io.say(format_args!("error: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
