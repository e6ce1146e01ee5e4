//! Every `tests/fail/*.mdf` file is rejected with a rendered error and exit status 2
//! (or the status in its `# exit:` header), never a panic; the error is snapshotted.

use super::cases::{args_for, header, with_snapshots};
use matdiff::cli::run;

#[test]
fn failures() {
    let mut problems = vec![];
    let mut count = 0;
    with_snapshots(|| {
        insta::glob!("..", "fail/*.mdf", |path: &std::path::Path| {
            count += 1;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let source = std::fs::read_to_string(path).expect("failure file is readable");
            let expected: i32 =
                header(&source, "exit").map_or(2, |s| s.parse().expect("exit header is a number"));
            let out = run(&args_for(&source, &[]), &source);
            if out.code != expected || !out.stdout.is_empty() || !out.stderr.starts_with("error") {
                problems.push(format!(
                    "{name}: exit {} (expected {expected})\nstdout: {}\nstderr: {}",
                    out.code, out.stdout, out.stderr
                ));
                return;
            }
            insta::assert_snapshot!(out.stderr);
        });
    });
    assert!(count > 0, "no failure files found");
    assert!(
        problems.is_empty(),
        "{} of {count} failure cases misbehaved:\n\n{}",
        problems.len(),
        problems.join("\n")
    );
}
