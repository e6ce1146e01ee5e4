//! The textbook problems of issue 9 (`tests/textbook/*.mdf`, copied from
//! `../shared/cases/textbook.jsonl`): each result must equal the form a careful author
//! writes (`# textbook:`), evaluated on random inputs, and must be no larger, in tokens
//! as `../shared/cases/textsize.py` counts them (names, numbers, a fraction `2/3` as one
//! number, operator symbols; not parentheses or juxtaposition; a `where` binding costs
//! its right-hand side plus one). The size report is printed (`cargo test --release
//! textbook -- --nocapture`), so that a regression shows.
//!
//! A case file is a program (declarations, then the expression on the last line) after
//! the header `# wrt: X`, optionally `# flags: --hessian`, `# dims: m=5 n=3` (the sizes
//! used for the random inputs), `# textbook: FORM` and `# textbook size: N`.

use super::cases::{args_for, header};
use egg::Symbol;
use matdiff::check_program;
use matdiff::cli::run;
use matdiff::lang::dims::Shape;
use matdiff::numeric::{concrete_dims, eval, random_env, rel_err, InputFamily};
use std::collections::BTreeMap;

/// Cases whose textbook size matdiff does not reach, with why.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// Tokens of one expression, as `textsize.py` counts them.
fn expr_size(text: &str) -> usize {
    const SUPERSCRIPTS: &str = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹";
    const OPS: &str = "-+∘⊙⊘⊗ᵀᴴ^/*·'";
    let is_greek = |c: char| ('\u{391}'..='\u{3c9}').contains(&c);
    let name_start = |c: char| c.is_ascii_alphabetic() || is_greek(c);
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || is_greek(c);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut n = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || "(),[]".contains(c) {
            i += 1;
            continue;
        }
        n += 1;
        if c == '∇' || name_start(c) {
            i += 1;
            while i < chars.len() && name_char(chars[i]) {
                i += 1;
            }
            // `σ'(` is one name.
            if i + 1 < chars.len() && chars[i] == '\'' && chars[i + 1] == '(' {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // `2/3` is one number.
            if i + 1 < chars.len() && chars[i] == '/' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || "+-".contains(chars[i])) {
                    i += 1;
                }
            }
        } else if SUPERSCRIPTS.contains(c) {
            while i < chars.len() && SUPERSCRIPTS.contains(chars[i]) {
                i += 1;
            }
        } else if c == '.' && i + 1 < chars.len() && "^*/".contains(chars[i + 1]) {
            i += 2;
        } else {
            assert!(OPS.contains(c), "unexpected character {c:?} in {text:?}");
            i += 1;
        }
    }
    n
}

/// Statements `a = e1; e2` (or newline-separated): each binding costs its right-hand
/// side plus one.
fn program_size(text: &str) -> usize {
    text.split([';', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| match s.split_once(" = ") {
            Some((_, rhs)) => expr_size(rhs) + 1,
            None => expr_size(s),
        })
        .sum()
}

/// The result `textsize.py` measures in matdiff's output: the last Hessian line if there
/// is one, else the last first-derivative line; its right-hand side and `where` lines.
fn measured_result(stdout: &str) -> (String, Vec<(String, String)>) {
    let lines: Vec<&str> = stdout.lines().collect();
    let is_result = |l: &str| !l.starts_with(' ') && l.contains(" = ");
    let pick = |prefix: &str| {
        lines
            .iter()
            .rposition(|l| is_result(l) && l.starts_with(prefix))
    };
    let at = pick("∂²").or_else(|| pick("∂")).expect("a result line");
    let rhs = lines[at].split_once(" = ").expect("a result").1.to_string();
    let wheres = lines[at + 1..]
        .iter()
        .map_while(|l| l.trim_start().strip_prefix("where "))
        .map(|w| {
            let (name, def) = w.split_once(" = ").expect("a where line");
            (name.to_string(), def.to_string())
        })
        .collect();
    (rhs, wheres)
}

#[test]
fn textbook() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/textbook");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/textbook exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mdf"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 25, "the 25 textbook problems");
    let mut problems = vec![];
    let mut report = String::from("case  matdiff  textbook  ratio\n");
    let (mut total, mut total_textbook, mut log_ratios) = (0, 0, 0.0);
    for path in &paths {
        let id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(path).expect("case file is readable");
        let textbook = header(&source, "textbook").expect("a `# textbook:` header");
        let textbook_size: usize = header(&source, "textbook size")
            .and_then(|s| s.parse().ok())
            .expect("a `# textbook size:` header");
        assert_eq!(
            program_size(textbook),
            textbook_size,
            "{id}: the textbook size"
        );
        let out = run(&args_for(&source, &[]), &source);
        if out.code != 0 {
            problems.push(format!("{id}: exit {}\n{}", out.code, out.stderr));
            continue;
        }
        let (rhs, wheres) = measured_result(&out.stdout);
        let size = expr_size(&rhs) + wheres.iter().map(|(_, d)| expr_size(d) + 1).sum::<usize>();
        let ratio = size as f64 / textbook_size as f64;
        report += &format!("{id}  {size}  {textbook_size}  {ratio:.2}\n");
        total += size;
        total_textbook += textbook_size;
        log_ratios += ratio.ln();
        if size > textbook_size && !EXCEPTIONS.iter().any(|(e, _)| *e == id) {
            problems.push(format!(
                "{id}: {size} tokens, the textbook {textbook_size}:\n{}",
                out.stdout
            ));
        }
        // Both forms, in the program's declarations, evaluated on the same inputs.
        let program: Vec<&str> = source.lines().filter(|l| !l.starts_with('#')).collect();
        let decls = program[..program.len() - 1].join("\n");
        let bindings: String = wheres.iter().map(|(n, d)| format!("{n} = {d}\n")).collect();
        let ours = check_program(&format!("{decls}\n{bindings}{rhs}"));
        // A textbook form that matdiff's language cannot size says how it is evaluated.
        let evaluated = header(&source, "textbook evaluated as").unwrap_or(textbook);
        let theirs = check_program(&format!("{decls}\n{}", evaluated.replace("; ", "\n")));
        let (ours, theirs) = match (ours, theirs) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                problems.push(format!(
                    "{id}: does not read back: {:?} / {:?}",
                    a.err(),
                    b.err()
                ));
                continue;
            }
        };
        let mut dims: BTreeMap<Symbol, usize> = header(&source, "dims")
            .unwrap_or_default()
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("dims are name=size");
                (Symbol::from(k), v.parse().expect("a size"))
            })
            .collect();
        for (d, n) in concrete_dims(&[ours.dims.clone(), theirs.dims.clone()].concat()) {
            dims.entry(d).or_insert(n + 10);
        }
        let vars: Vec<(Symbol, Shape)> = ours
            .variables
            .iter()
            .chain(&theirs.variables)
            .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
            .collect();
        for seed in 1..=3 {
            let env = random_env(&vars, &dims, seed, InputFamily::WellConditioned)
                .expect("random inputs");
            match (eval(&ours.expr, &env), eval(&theirs.expr, &env)) {
                (Ok(a), Ok(b)) if a.shape() == b.shape() && rel_err(&a, &b) < 1e-9 => {}
                (a, b) => {
                    problems.push(format!(
                        "{id}: differs from the textbook at seed {seed}: {a:?} vs {b:?}"
                    ));
                    break;
                }
            }
        }
    }
    let geomean = (log_ratios / paths.len() as f64).exp();
    report += &format!("total  {total}  {total_textbook}  geometric-mean ratio {geomean:.2}\n");
    println!("{report}");
    assert!(
        geomean <= 1.0,
        "geometric-mean ratio {geomean:.2} > 1\n{report}"
    );
    assert!(problems.is_empty(), "{}\n\n{report}", problems.join("\n\n"));
}
