//! The `machtigingen` binary: parse the command line, hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    machtigingen::cli::run(machtigingen::cli::Cli::parse())
}
