//! The `kubectl-stateful` binary: parse the command line, run it on a current-thread runtime,
//! and turn the result into one line on stderr and the documented exit code. Everything else is
//! the library.

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
                _ => one_line(&e),
            };
            io.say(format_args!("{line} (see --help)"));
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = runtime.block_on(kubectl_stateful::run(cli, &mut io));
    exit_code(result, &mut io)
}

/// clap's message on one line, without its usage block: its first line, and what clap lists on
/// the lines after it, read from the error's context rather than its text: the arguments missing
/// or in conflict, the values or subcommands it takes, and a similar argument, subcommand or
/// value it suggests.
fn one_line(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let strings = |kind: ContextKind| -> Vec<String> {
        match error.get(kind) {
            Some(ContextValue::Strings(values)) => values.clone(),
            Some(ContextValue::String(value)) => vec![value.clone()],
            _ => Vec::new(),
        }
    };
    let rendered = error.to_string();
    let mut line = rendered.lines().next().unwrap_or("error: invalid arguments").trim_end().to_owned();
    let listed = |name: &str, values: Vec<String>| match values.is_empty() {
        true => String::new(),
        false => format!(" [{name}: {}]", values.join(", ")),
    };
    match error.kind() {
        ErrorKind::MissingRequiredArgument => {
            line.push_str(&format!(" {}", strings(ContextKind::InvalidArg).join(", ")));
        }
        ErrorKind::ArgumentConflict
            if matches!(error.get(ContextKind::PriorArg), Some(ContextValue::Strings(_))) =>
        {
            line.push_str(&format!(" {}", strings(ContextKind::PriorArg).join(", ")));
        }
        ErrorKind::InvalidValue => {
            line.push_str(&listed("possible values", strings(ContextKind::ValidValue)))
        }
        ErrorKind::MissingSubcommand => {
            line.push_str(&listed("subcommands", strings(ContextKind::ValidSubcommand)))
        }
        _ => {}
    }
    for (kind, what) in [
        (ContextKind::SuggestedSubcommand, "subcommand"),
        (ContextKind::SuggestedArg, "argument"),
        (ContextKind::SuggestedValue, "value"),
    ] {
        let quoted: Vec<String> = strings(kind).iter().map(|s| format!("'{s}'")).collect();
        match quoted.as_slice() {
            [] => {}
            [one] => line.push_str(&format!("; tip: a similar {what} exists: {one}")),
            many => line.push_str(&format!("; tip: some similar {what}s exist: {}", many.join(", "))),
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
            // A refusal whose way out takes more than its line says the rest first.
            if let Error::Refused(refusal) = &e {
                for line in refusal.way_out() {
                    io.say(line);
                }
            }
            io.say(format_args!("error: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
