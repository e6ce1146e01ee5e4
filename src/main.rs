//! The `matdiff` command.

use clap::Parser;
use matdiff::cli::{run, Args};
use std::io::{Read, Write};

/// Deeply nested inputs recurse in the printers: give them room.
const STACK_BYTES: usize = 256 << 20;

fn main() {
    let args = Args::parse();
    if let Some(command) = &args.command {
        let _ = std::io::stdout().write_all(matdiff::cli::generate(command).as_bytes());
        return;
    }
    let source = match read_source(&args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let worker = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || run(&args, &source));
    let output = match worker.map(|w| w.join()) {
        Ok(Ok(output)) => output,
        _ => {
            eprintln!("error: internal error (the engine thread failed); please report the input");
            std::process::exit(3);
        }
    };
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    std::process::exit(output.code);
}

/// The program from the argument, `--file`, or standard input.
fn read_source(args: &Args) -> Result<String, String> {
    if let Some(p) = &args.program {
        return Ok(p.clone());
    }
    if let Some(path) = &args.file {
        return std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if s.trim().is_empty() {
        return Err("no program given: pass it as an argument, with --file, or on standard input (see --help)".into());
    }
    Ok(s)
}
