//! The command line as a new user meets it (issue 12): every example in README.md and
//! `--help` runs and prints what it claims; programs starting with `-`; usage errors;
//! programs without variables; long flat sums; zeros that read back with their shapes;
//! shell completions and the man page.

use matdiff::check_program;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the matdiff binary: (stdout, stderr, exit status).
fn matdiff(
    args: &[&str],
    stdin: Option<&str>,
    dir: Option<&std::path::Path>,
) -> (String, String, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matdiff"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("the matdiff binary runs");
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).expect("stdin is written");
        }
    }
    let out = child.wait_with_output().expect("matdiff finishes");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Splits a shell command line: words, with '…' quoting (all README examples need).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// README.md's fenced blocks: (info string, lines).
fn readme_blocks() -> Vec<(String, Vec<String>)> {
    let readme = include_str!("../../README.md");
    let mut blocks = vec![];
    let mut current: Option<(String, Vec<String>)> = None;
    for line in readme.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some((info.to_string(), vec![])),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    blocks
}

#[test]
fn every_readme_example_prints_what_the_readme_shows() {
    let blocks = readme_blocks();
    let mut examples: Vec<(Vec<String>, String)> = vec![];
    for (i, (info, lines)) in blocks.iter().enumerate() {
        // `cargo run --release -- ARGS` in a sh block; its output is the next text block.
        for line in lines {
            if let Some(args) = line
                .split('#')
                .next()
                .and_then(|l| l.trim().strip_prefix("cargo run --release -- "))
            {
                let expected = blocks
                    .get(i + 1)
                    .map(|(_, l)| l.join("\n") + "\n")
                    .expect("an output block follows");
                examples.push((shell_words(args), expected));
            }
        }
        if info != "text" {
            continue;
        }
        // `$ matdiff ARGS` followed by its output, up to a blank line or the next `$`.
        let mut k = 0;
        while k < lines.len() {
            if let Some(args) = lines[k].strip_prefix("$ matdiff ") {
                let mut expected = String::new();
                k += 1;
                while k < lines.len() && !lines[k].starts_with("$ ") {
                    expected.push_str(&lines[k]);
                    expected.push('\n');
                    k += 1;
                }
                // Blank lines between examples separate them; inside output they are kept.
                let expected = expected.trim_end().to_string() + "\n";
                examples.push((shell_words(args), expected));
            } else {
                k += 1;
            }
        }
    }
    assert!(
        examples.len() >= 9,
        "found {} README examples",
        examples.len()
    );
    let mut problems = vec![];
    for (args, expected) in &examples {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (stdout, stderr, code) = matdiff(&argv, None, None);
        let printed = format!("{stdout}{stderr}");
        if code != 0 || printed.trim_end() != expected.trim_end() {
            problems.push(format!(
                "matdiff {args:?}: exit {code}\nREADME:\n{expected}printed:\n{printed}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_help_example_runs_and_prints_what_it_claims() {
    let (help, _, code) = matdiff(&["--help"], None, None);
    assert_eq!(code, 0);
    let examples: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Examples:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(examples.len() >= 8, "{help}");
    let dir = std::env::temp_dir().join(format!("matdiff-help-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    // The model of `-f model.mdf`.
    std::fs::write(
        dir.join("model.mdf"),
        "x : R^n; W : R^(m×n)\nsum(exp(W x))\n",
    )
    .expect("model.mdf");
    let mut problems = vec![];
    for example in examples {
        // The command and its description are separated by at least two spaces.
        let line = example.trim();
        let (command, claim) = match line.find("  ") {
            Some(at) => (line[..at].trim(), line[at..].trim()),
            None => (line, ""),
        };
        let (stdin, command) = match command.split_once(" | ") {
            Some((echo, rest)) => (
                shell_words(echo.trim_start_matches("echo "))
                    .first()
                    .cloned(),
                rest,
            ),
            None => (None, command),
        };
        let command = command.split(" > ").next().unwrap_or(command);
        let words = shell_words(command);
        assert_eq!(words[0], "matdiff", "{example}");
        let argv: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let (stdout, stderr, code) = matdiff(&argv, stdin.as_deref(), Some(&dir));
        // A claim in backquotes is a result the output must show.
        let claimed: Vec<&str> = claim.split('`').skip(1).step_by(2).collect();
        let missing: Vec<&&str> = claimed
            .iter()
            .filter(|c| !command.contains(**c) && !stdout.contains(**c))
            .collect();
        if code != 0 || stdout.is_empty() || !missing.is_empty() {
            problems.push(format!(
                "{example}\nexit {code}, missing {missing:?}\nstdout:\n{stdout}stderr:\n{stderr}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_program_may_start_with_a_minus() {
    for argv in [
        &["--wrt", "x", "-sum(x)"][..],
        &["--wrt", "x", "--", "-sum(x)"],
        &["-sum(x)", "--wrt", "x"],
    ] {
        let (stdout, stderr, code) = matdiff(argv, None, None);
        assert_eq!(
            (code, stdout.as_str()),
            (0, "∂f/∂x = -ones\n"),
            "{argv:?}: {stderr}"
        );
    }
}

#[test]
fn zero_seeds_is_a_usage_error() {
    let (stdout, stderr, code) = matdiff(&["--check", "--seeds", "0", "sum(x)"], None, None);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("--seeds"), "{stderr}");
    assert!(
        !stderr.contains("passed") && !stderr.contains("FAILED"),
        "{stderr}"
    );
}

#[test]
fn a_program_without_variables_says_what_it_computed() {
    let (stdout, stderr, code) = matdiff(&["log(0)"], None, None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("nothing to differentiate") && stderr.contains("f = log(0) = -inf"),
        "{stderr}"
    );
    // A check of nothing is neither passed nor failed.
    let (_, stderr, code) = matdiff(&["log(0)", "--check"], None, None);
    assert_eq!(code, 0);
    assert!(stderr.contains("nothing to check"), "{stderr}");
    assert!(
        !stderr.contains("passed") && !stderr.contains("FAILED"),
        "{stderr}"
    );
    // The NumPy module is valid Python: no `def f(*, **_)`.
    let (module, _, code) = matdiff(&["log(2)", "--format", "numpy"], None, None);
    assert_eq!(code, 0);
    assert!(module.contains("def f(**_):"), "{module}");
    assert!(!module.contains("(*, **_)"), "{module}");
    if let Ok(mut py) = Command::new("python3")
        .args([
            "-c",
            "import sys; compile(sys.stdin.read(), 'm.py', 'exec')",
        ])
        .stdin(Stdio::piped())
        .spawn()
    {
        if let Some(mut pipe) = py.stdin.take() {
            pipe.write_all(module.as_bytes()).expect("python's stdin");
        }
        assert!(py.wait().expect("python3 finishes").success(), "{module}");
    }
}

#[test]
fn a_flat_sum_of_5000_terms_is_accepted_and_checked() {
    let program = format!("x : R^n; {}", vec!["sum(x)"; 5000].join(" + "));
    let (stdout, stderr, code) = matdiff(&["--wrt", "x", "--check", &program], None, None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "∂f/∂x = 5000 ones\n");
    assert!(stderr.contains("check: passed"), "{stderr}");
}

#[test]
fn zero_results_read_back_with_their_shapes_and_json_text_is_the_text() {
    // (declarations, expression, --wrt, the result, the shape it must read back with).
    // `ones` carries no size (README): it reads back where its use fixes one (`A x + …`).
    let cases = [
        (
            "x : R^n; α : scalar; A : R^(n×n)",
            "x + α + A x",
            "α",
            "ones",
            "n×1",
        ),
        ("x : R^n", "log(2)", "x", "0 x", "n×1"),
        ("x : R^n; W : R^(m×n)", "log(2) + sum(x)", "W", "0 W", "m×n"),
        ("A : R^(m×n); x : R^p", "A", "x", "0 A", "m×n"),
        ("x : R^n; A : R^(m×n)", "A x - α", "α", "-ones", "m×1"),
        (
            "x : R^n; A : R^(m×n); B : R^(n×p)",
            "A B",
            "x",
            "0 A B",
            "m×p",
        ),
    ];
    for (decls, expr, wrt, want, shape) in cases {
        let program = format!("{decls}; {expr}");
        let (text, stderr, code) = matdiff(&["--wrt", wrt, &program], None, None);
        assert_eq!(code, 0, "{program}: {stderr}");
        let first = text.lines().next().expect("a result line");
        let (_, result) = first.split_once(" = ").expect("label = result");
        // The JSON text of the first result is the text output's.
        let (json, _, _) = matdiff(&["--wrt", wrt, "--format", "json", &program], None, None);
        assert!(
            json.contains(&format!("\"text\": \"{result}\"")),
            "{program}: text `{result}` not in\n{json}"
        );
        assert_eq!(result, want, "{program}");
        let reread = if result.contains("ones") {
            format!("{decls}; A x + ({result})")
        } else {
            format!("{decls}; {result}")
        };
        let c = check_program(&reread).unwrap_or_else(|d| panic!("{}", d.render(&reread)));
        assert_eq!(c.shape.to_string(), shape, "{reread}");
    }
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_cli() {
    for (shell, marker) in [
        ("bash", "_matdiff()"),
        ("zsh", "#compdef matdiff"),
        ("fish", "complete -c matdiff"),
    ] {
        let (stdout, stderr, code) = matdiff(&["completions", shell], None, None);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains(marker), "{shell}:\n{stdout}");
        assert!(
            stdout.contains("wrt") && stdout.contains("hessian"),
            "{shell}"
        );
    }
    let (man, _, code) = matdiff(&["man"], None, None);
    assert_eq!(code, 0);
    assert!(man.contains(".TH matdiff 1"), "{man}");
    assert!(man.contains("\\-\\-wrt"), "{man}");
}

#[test]
fn an_explained_latex_document_fits_its_page() {
    let (tex, stderr, code) = matdiff(
        &[
            "L(σ(W1 x) ∘ W2)",
            "--wrt",
            "W1",
            "--explain",
            "--latex-document",
        ],
        None,
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    // Justifications sit under their steps, in boxes that wrap.
    assert!(!tex.contains(" && "), "{tex}");
    assert!(
        tex.contains(r"\parbox[t]{0.8\linewidth}{\raggedright\small by the chain rule for $L$"),
        "{tex}"
    );
    let dir = std::env::temp_dir().join(format!("matdiff-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join("d.tex"), &tex).expect("d.tex");
    let run = Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "d.tex"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status();
    match run {
        Ok(status) => {
            let log = std::fs::read_to_string(dir.join("d.log")).unwrap_or_default();
            assert!(status.success(), "pdflatex failed:\n{log}");
            assert!(
                !log.contains("Overfull \\hbox"),
                "the page overflows:\n{log}"
            );
        }
        Err(_) => {
            assert!(
                std::env::var("MATDIFF_REQUIRE_LATEX").is_err(),
                "pdflatex is required (MATDIFF_REQUIRE_LATEX)"
            );
            eprintln!("skipped: pdflatex is not installed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
