//! `--explain` on every `tests/explain/*.mdf` (headers as in `tests/cases/`): the
//! derivations as text and as LaTeX, snapshotted into `snapshots/`; every step read back
//! as a program of its own (the declarations, the named sub-terms as bindings, the step)
//! and evaluated at random inputs, where it must equal the result (`grad` is evaluated
//! by central finite differences); and the LaTeX compiled by pdflatex with amsmath and
//! rendered by KaTeX, as `latex.rs` does for results (its checks are private to it, so
//! the same tools are run here; a missing tool is a skip with a line on stderr, an error
//! with `MATDIFF_REQUIRE_LATEX=1`).

use crate::cases::{args_for, header, with_snapshots};
use egg::Symbol;
use matdiff::api::{derive, Options};
use matdiff::cli::run;
use matdiff::engine::{self, ResultKind};
use matdiff::lang::dims::Shape;
use matdiff::lang::MathAnalysis;
use matdiff::numeric::{self, CEnv, FALLBACK_FAMILIES};
use matdiff::render::explain::Derivation;
use matdiff::{check_program, Checked};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A step may differ from the result by this much (relative, Frobenius): the `grad`
/// in a step is evaluated by 4th-order central differences.
const STEP_TOLERANCE: f64 = 1e-5;

/// The derivation of the design example must stay about this short, and the depth-8
/// perceptron's lines this narrow.
const MLP_DEPTH_8_MAX_LINES: usize = 45;
const MLP_DEPTH_8_MAX_STEP_WIDTH: usize = 100;

/// The checked program, the engine's outcome with explanations, and the derivations.
struct Explained {
    checked: Checked,
    analysis: MathAnalysis,
    outcome: engine::Outcome,
    derivations: Vec<(usize, Derivation)>,
}

fn explained(source: &str) -> Result<Explained, String> {
    let options = Options {
        wrt: header(source, "wrt")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
        hessian: header(source, "flags").is_some_and(|f| f.contains("--hessian")),
        explain: true,
        ..Options::default()
    };
    let d = derive(source, &options).map_err(|e| e.to_string())?;
    let derivations = d.derivations();
    Ok(Explained {
        checked: d.checked,
        analysis: d.analysis,
        outcome: d.outcome,
        derivations,
    })
}

/// Every step of every derivation, read back and evaluated at random points: the
/// largest relative difference from the result, or what went wrong.
fn check_steps(e: &Explained) -> Result<f64, String> {
    let vars: Vec<(Symbol, Shape)> = e
        .analysis
        .var_shapes
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let complex: Vec<Symbol> = e.analysis.complex_vars.iter().copied().collect();
    let dims = numeric::concrete_dims(&e.checked.dims);
    let mut worst: f64 = 0.0;
    for (index, d) in &e.derivations {
        let result = &e.outcome.derivatives[*index].expr;
        let programs = d.programs(&e.checked);
        let steps: Vec<Checked> = programs
            .iter()
            .map(|p| {
                check_program(p)
                    .map_err(|diag| format!("step does not read back:\n{}", diag.render(p)))
            })
            .collect::<Result<_, _>>()?;
        for (step, program) in steps.iter().zip(&programs) {
            // A zero matrix as a whole step is written `0`.
            if step.shape != result_shape(e, d) && !step.shape.is_scalar() {
                return Err(format!(
                    "step has shape {} instead of the variable's:\n{program}",
                    step.shape
                ));
            }
        }
        let finite = |m: &numeric::CMat| m.iter().all(|z| z.re.is_finite() && z.im.is_finite());
        let mut usable = 0;
        for seed in 0..3u64 {
            // The first family of inputs where the result and every step are finite
            // (log det X, say, needs det X > 0).
            let point = FALLBACK_FAMILIES.iter().find_map(|&family| {
                let env: CEnv =
                    numeric::random_complex_env(&vars, &complex, &dims, seed, family).ok()?;
                let want = numeric::eval(result, &env).ok().filter(|v| finite(v))?;
                let got: Vec<numeric::CMat> = steps
                    .iter()
                    .map(|s| numeric::eval(&s.expr, &env).ok().filter(|v| finite(v)))
                    .collect::<Option<_>>()?;
                Some((want, got))
            });
            let Some((want, got)) = point else { continue };
            usable += 1;
            for (value, program) in got.iter().zip(&programs) {
                let value = if value.shape() == (1, 1) && want.shape() != (1, 1) {
                    numeric::CMat::from_element(want.nrows(), want.ncols(), value[(0, 0)])
                } else {
                    value.clone()
                };
                let err = numeric::rel_err(&value, &want);
                if err.is_nan() || err > STEP_TOLERANCE {
                    return Err(format!(
                        "step differs from the result by {err:.1e} (seed {seed}):\n{program}"
                    ));
                }
                worst = worst.max(err);
            }
        }
        if usable == 0 {
            return Err(format!("no random point where ∂f/∂{} is finite", d.wrt));
        }
    }
    Ok(worst)
}

/// The shape every step of a gradient has: the variable's.
fn result_shape(e: &Explained, d: &Derivation) -> Shape {
    e.analysis
        .var_shapes
        .get(&d.wrt)
        .cloned()
        .unwrap_or_else(Shape::scalar)
}

#[test]
fn explain() {
    let mut problems = vec![];
    let mut latex_blocks: Vec<(String, String)> = vec![];
    let mut count = 0;
    with_snapshots(|| {
        insta::glob!("..", "explain/*.mdf", |path: &Path| {
            count += 1;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let source = std::fs::read_to_string(path).expect("case file is readable");
            let text = run(&args_for(&source, &["--explain"]), &source);
            let tex = run(
                &args_for(&source, &["--explain", "--format", "latex"]),
                &source,
            );
            if text.code != 0 || tex.code != 0 {
                problems.push(format!(
                    "{name}: exit {} / {}\n{}{}",
                    text.code, tex.code, text.stderr, tex.stderr
                ));
                return;
            }
            match explained(&source) {
                Ok(e) => {
                    if e.derivations.is_empty() {
                        problems.push(format!("{name}: no derivation"));
                    }
                    if let Err(p) = check_steps(&e) {
                        problems.push(format!("{name}: {p}"));
                    }
                    if name == "mlp-depth-8.mdf" {
                        check_depth_8(&e, &mut problems);
                    }
                }
                Err(err) => problems.push(format!("{name}: {err}")),
            }
            for (i, block) in align_blocks(&tex.stdout).into_iter().enumerate() {
                latex_blocks.push((format!("{name}: derivation {}", i + 1), block));
            }
            let snapshot = format!(
                "── input ──\n{}\n── explain ──\n{}── latex ──\n{}",
                source.trim_end(),
                text.stdout,
                tex.stdout
            );
            insta::assert_snapshot!(snapshot);
        });
    });
    assert!(count > 0, "no explain cases found");
    check_latex(&latex_blocks, &mut problems);
    assert!(
        problems.is_empty(),
        "{} problems:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// The depth-8 perceptron: one line per identity (a chain rule and a product rule per
/// layer, the chain rule for L), and narrow lines.
fn check_depth_8(e: &Explained, problems: &mut Vec<String>) {
    let Some((_, d)) = e.derivations.first() else {
        return;
    };
    let text = d.to_text("∂f/∂W_1");
    let lines = text.lines().count();
    if d.lines.len() != 17 || lines > MLP_DEPTH_8_MAX_LINES {
        problems.push(format!(
            "mlp-depth-8: {} steps, {lines} lines (want 17 steps, at most {MLP_DEPTH_8_MAX_LINES} lines):\n{text}",
            d.lines.len()
        ));
    }
    let widest = (0..d.roots.len())
        .map(|i| d.term_text(i).chars().count())
        .max()
        .unwrap_or(0);
    if widest > MLP_DEPTH_8_MAX_STEP_WIDTH {
        problems.push(format!(
            "mlp-depth-8: a step is {widest} characters wide (at most {MLP_DEPTH_8_MAX_STEP_WIDTH}):\n{text}"
        ));
    }
    assert!(e.outcome.derivatives[0].kind == ResultKind::Gradient);
}

/// The `align*` blocks of a LaTeX output.
fn align_blocks(tex: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = tex;
    while let Some(start) = rest.find("\\begin{align*}") {
        let Some(len) = rest[start..].find("\\end{align*}") else {
            break;
        };
        let end = start + len + "\\end{align*}".len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// ASCII only, balanced braces and `\left`/`\right`; then pdflatex and KaTeX.
fn check_latex(blocks: &[(String, String)], problems: &mut Vec<String>) {
    if blocks.is_empty() {
        problems.push("no LaTeX derivations".into());
        return;
    }
    for (origin, tex) in blocks {
        if let Some(c) = tex.chars().find(|c| !c.is_ascii()) {
            problems.push(format!("{origin}: non-ASCII {c:?}"));
        }
        let mut depth = 0i64;
        let mut escaped = false;
        for c in tex.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                break;
            }
        }
        if depth != 0 {
            problems.push(format!("{origin}: unbalanced braces"));
        }
        if tex.matches("\\left").count() != tex.matches("\\right").count() {
            problems.push(format!("{origin}: unbalanced \\left/\\right"));
        }
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explain-latex");
    let _ = std::fs::create_dir_all(&work);
    let required = std::env::var("MATDIFF_REQUIRE_LATEX").is_ok_and(|v| !v.is_empty() && v != "0");
    let skip = |what: &str, problems: &mut Vec<String>| {
        let line = format!("explain: SKIPPED the {what} check of the LaTeX derivations");
        eprintln!("{line}");
        if required {
            problems.push(line);
        }
    };
    // pdflatex: every block in one amsmath document.
    if tool_exists("pdflatex") {
        let mut doc =
            String::from("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n");
        for (origin, tex) in blocks {
            doc.push_str(&format!("% {origin}\n{tex}\n"));
        }
        doc.push_str("\\end{document}\n");
        let _ = std::fs::write(work.join("explain.tex"), &doc);
        let _ = std::fs::remove_file(work.join("explain.pdf"));
        let output = Command::new("pdflatex")
            .args([
                "-interaction=nonstopmode",
                "-halt-on-error",
                "-no-shell-escape",
                "explain.tex",
            ])
            .current_dir(&work)
            .stdin(Stdio::null())
            .output();
        let ok =
            output.as_ref().is_ok_and(|o| o.status.success()) && work.join("explain.pdf").exists();
        if !ok {
            let log = std::fs::read_to_string(work.join("explain.log")).unwrap_or_default();
            let errors: Vec<&str> = log.lines().filter(|l| l.starts_with('!')).collect();
            problems.push(format!(
                "pdflatex failed on {}: {}",
                work.join("explain.tex").display(),
                errors.join("; ")
            ));
        } else {
            eprintln!("explain: pdflatex compiled {} derivations", blocks.len());
        }
    } else {
        skip("pdflatex", problems);
    }
    // KaTeX: each block in display mode, strict.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/katex/check.js");
    if tool_exists("node") {
        let fragments: Vec<String> = blocks.iter().map(|(_, t)| json_string(t)).collect();
        let input = format!(
            "{{\"fragments\": [{}], \"json\": []}}",
            fragments.join(",\n")
        );
        let input_path = work.join("katex-input.json");
        let _ = std::fs::write(&input_path, input);
        match Command::new("node")
            .arg(&script)
            .arg(&input_path)
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.code() == Some(3) => skip("KaTeX", problems),
            Ok(o) => {
                let stdout = String::from_utf8_lossy(&o.stdout);
                let mut passed = 0;
                for l in stdout.lines() {
                    let mut words = l.splitn(4, ' ');
                    let (status, what, index) = (words.next(), words.next(), words.next());
                    if what != Some("fragment") {
                        continue;
                    }
                    let origin = index
                        .and_then(|i| i.parse::<usize>().ok())
                        .and_then(|i| blocks.get(i))
                        .map_or("?", |b| b.0.as_str());
                    match status {
                        Some("ok") => passed += 1,
                        _ => problems
                            .push(format!("KaTeX: {origin}: {}", words.next().unwrap_or(""))),
                    }
                }
                if passed == blocks.len() {
                    eprintln!("explain: KaTeX rendered {passed} derivations");
                } else if !o.status.success() {
                    problems.push(format!("KaTeX: node exit {:?}: {stdout}", o.status.code()));
                }
            }
            Err(_) => skip("KaTeX", problems),
        }
    } else {
        skip("KaTeX", problems);
    }
}

fn tool_exists(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `grad` reads back and evaluates: the built-in agrees with the engine's gradient.
#[test]
fn grad_is_a_builtin() {
    let src = "x : R^n; A : R^(n×n); grad(xᵀ A x, x) - (A + Aᵀ) x";
    let checked = check_program(src).unwrap_or_else(|d| panic!("{}", d.render(src)));
    let vars: Vec<(Symbol, Shape)> = checked
        .variables
        .iter()
        .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let env = numeric::random_env(
        &vars,
        &numeric::concrete_dims(&checked.dims),
        1,
        numeric::InputFamily::Gaussian,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let value = numeric::eval(&checked.expr, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(value.norm() < 1e-8, "grad(xᵀ A x, x) ≠ (A + Aᵀ) x: {value}");
    // The weighted form holds its weight fixed: grad(A x, x, A x) = Aᵀ A x.
    let src = "x : R^n; A : R^(n×n); grad(A x, x, A x) - Aᵀ A x";
    let checked = check_program(src).unwrap_or_else(|d| panic!("{}", d.render(src)));
    let value = numeric::eval(&checked.expr, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(value.norm() < 1e-8, "grad(A x, x, A x) ≠ Aᵀ A x: {value}");
    for (src, message) in [
        ("x : R^n; grad(x, x)", "grad(e, X) needs a scalar e"),
        ("x : R^n; A : R^(n×n); grad(xᵀ A x, A x)", "is not one"),
        (
            "x : R^n; A : R^(n×n); grad(A x, x, A)",
            "must have the shape of",
        ),
        ("x : R^n; grad(xᵀ x)", "takes 2 arguments"),
    ] {
        match check_program(src) {
            Ok(_) => panic!("{src} was accepted"),
            Err(d) => assert!(d.message.contains(message), "{src}: {}", d.message),
        }
    }
}
