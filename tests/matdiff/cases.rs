//! Every `tests/cases/*.mdf` file: derive, print as text, LaTeX and NumPy, snapshot, and
//! check every derivative against finite differences on random inputs.
//!
//! A case file is a matdiff program preceded by header comments:
//! `# wrt: X Y` (the variables, required), optionally `# flags: --hessian` (more
//! command-line flags), and any other comment describing the case.

use clap::Parser;
use matdiff::cli::{run, Args};

/// The `# key: value` header of a case or failure file.
pub fn header<'a>(source: &'a str, key: &str) -> Option<&'a str> {
    source
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix(key)?
                .strip_prefix(':')
        })
        .map(str::trim)
}

/// The command-line arguments for a case file, plus extra flags.
pub fn args_for(source: &str, extra: &[&str]) -> Args {
    let mut argv: Vec<String> = vec!["matdiff".into()];
    for w in header(source, "wrt").unwrap_or_default().split_whitespace() {
        argv.push("--wrt".into());
        argv.push(w.into());
    }
    argv.extend(
        header(source, "flags")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string),
    );
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push(source.into());
    Args::parse_from(argv)
}

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

pub fn with_snapshots(f: impl FnOnce()) {
    snapshot_settings().bind(f);
}

#[test]
fn cases() {
    let mut problems = vec![];
    let mut count = 0;
    with_snapshots(|| {
        insta::glob!("..", "cases/*.mdf", |path: &std::path::Path| {
            count += 1;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let source = std::fs::read_to_string(path).expect("case file is readable");
            if header(&source, "wrt").is_none() {
                problems.push(format!("{name}: no `# wrt:` header"));
                return;
            }
            let checked = run(&args_for(&source, &["--check", "--seeds", "3"]), &source);
            if checked.code != 0 || !checked.stderr.contains("check: passed") {
                problems.push(format!("{name}: exit {}\n{}", checked.code, checked.stderr));
                return;
            }
            let numpy = run(&args_for(&source, &["--format", "numpy"]), &source);
            if numpy.code != 0 {
                problems.push(format!(
                    "{name}: --format numpy: exit {}\n{}",
                    numpy.code, numpy.stderr
                ));
                return;
            }
            let latex = run(&args_for(&source, &["--format", "latex"]), &source);
            if latex.code != 0 {
                problems.push(format!(
                    "{name}: --format latex: exit {}\n{}",
                    latex.code, latex.stderr
                ));
                return;
            }
            let snapshot = format!(
                "── input ──\n{}\n── result ──\n{}── latex ──\n{}── numpy ──\n{}",
                source.trim_end(),
                checked.stdout,
                latex.stdout,
                numpy.stdout
            );
            insta::assert_snapshot!(snapshot);
        });
    });
    assert!(count > 0, "no case files found");
    assert!(
        problems.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        problems.len(),
        problems.join("\n")
    );
}
