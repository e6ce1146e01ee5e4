//! LaTeX validity for real: every result of every `tests/cases/*.mdf` (and of a few
//! programs for the other result kinds, plus every node of the language) as LaTeX,
//! compiled by pdflatex with amsmath and rendered by KaTeX (`throwOnError`, strict), and
//! every `--format json` document parsed by node.
//!
//! All fragments go into ONE LaTeX document (one pdflatex run) and one node script (one
//! KaTeX run); an error is traced back to the case it came from. Where pdflatex, node or
//! the katex package (`npm ci --prefix .ci/katex`) is missing the check is skipped with
//! a line on stderr; `MATDIFF_REQUIRE_LATEX=1` makes a skip a failure.
//!
//! Results come from `matdiff::cli::run` with `--format latex` / `--format json` /
//! `--latex-document` when the command line has them, otherwise from the library
//! (`check_program`, `engine::derive`, `print::latex`, `print::json`).

use crate::cases::header;
use clap::Parser;
use egg::{RecExpr, Symbol};
use matdiff::api::{derive, Options};
use matdiff::cli::{run, Args};
use matdiff::engine::{Limits, Outcome, Request};
use matdiff::lang::dims::Shape;
use matdiff::lang::Math;
use matdiff::render::{json, latex};
use matdiff::Checked;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A line on stderr that `cargo test` shows even when the test passes (libtest only
/// captures the `print!` family).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn required() -> bool {
    std::env::var("MATDIFF_REQUIRE_LATEX").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// One fragment to check and where it came from (`design-example.mdf: result 1`).
struct Item {
    origin: String,
    tex: String,
}

/// The fragments and JSON documents of every case and extra program.
#[derive(Default)]
struct Collected {
    /// Inline fragments, each a complete math fragment.
    items: Vec<Item>,
    /// Bodies of `--latex-document` output (between `\begin{document}` and
    /// `\end{document}`), with their origin.
    documents: Vec<Item>,
    /// `--format json` documents, with their origin.
    json: Vec<Item>,
    /// Cases that produced no output.
    problems: Vec<String>,
    cases: usize,
    /// Whether the cases ran through `cli::run` (which knows `--format latex`).
    via_cli: bool,
}

/// `matdiff` with `extra` flags on a case, or `None` when the command line does not
/// know the flags yet.
fn cli(
    source: &str,
    wrt: &[String],
    flags: &[String],
    extra: &[&str],
) -> Option<Result<String, String>> {
    let mut argv: Vec<String> = vec!["matdiff".into()];
    for w in wrt {
        argv.push("--wrt".into());
        argv.push(w.clone());
    }
    argv.extend(flags.iter().cloned());
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push(source.into());
    let args = Args::try_parse_from(argv).ok()?;
    let out = run(&args, source);
    Some(if out.code == 0 {
        Ok(out.stdout)
    } else {
        Err(format!("exit {}: {}", out.code, out.stderr))
    })
}

/// A program's results from the library. `request` overrides what the command line
/// would compute.
fn library_run(
    source: &str,
    wrt: &[String],
    request: Option<Request>,
) -> Result<(Checked, Outcome), String> {
    let options = Options {
        wrt: wrt.to_vec(),
        request,
        // A short time limit: a slow engine run is an error here, not a stalled test.
        limits: Limits {
            time_limit: std::time::Duration::from_secs(20),
            ..Limits::default()
        },
        ..Options::default()
    };
    let d = derive(source, &options).map_err(|e| e.to_string())?;
    Ok((d.checked, d.outcome))
}

/// The part of a complete document between `\begin{document}` and `\end{document}`.
fn document_body(doc: &str) -> Option<String> {
    let start = doc.find("\\begin{document}")? + "\\begin{document}".len();
    let end = doc.rfind("\\end{document}")?;
    (start <= end).then(|| doc[start..end].trim().to_string())
}

impl Collected {
    /// Collect one program's LaTeX (inline and document) and JSON. `flags` are the
    /// case's extra command-line flags (`--hessian`); `request` overrides what the
    /// command line would compute.
    fn program(
        &mut self,
        name: &str,
        source: &str,
        wrt: &[String],
        flags: &[String],
        request: Option<Request>,
    ) {
        let hessian = flags.iter().any(|f| f == "--hessian");
        let request = request.or(hessian.then_some(Request::Hessian));
        let use_cli = request.is_none() || hessian;
        let mut library: Option<Result<(Checked, Outcome), String>> = None;
        let lib = |library: &mut Option<Result<(Checked, Outcome), String>>| {
            library
                .get_or_insert_with(|| library_run(source, wrt, request))
                .clone()
        };
        let options = latex::LatexOptions::default();
        let inline = match use_cli
            .then(|| cli(source, wrt, flags, &["--format", "latex"]))
            .flatten()
        {
            Some(r) => {
                self.via_cli = true;
                r.map(|out| out.lines().map(str::to_string).collect::<Vec<_>>())
            }
            None => lib(&mut library).map(|(c, o)| {
                latex::fragments(&c, &o, &options)
                    .iter()
                    .map(latex::Fragment::inline)
                    .collect()
            }),
        };
        match inline {
            Ok(lines) if !lines.is_empty() => {
                for (i, tex) in lines.into_iter().enumerate() {
                    self.items.push(Item {
                        origin: format!("{name}: result {}", i + 1),
                        tex,
                    });
                }
            }
            Ok(_) => self.problems.push(format!("{name}: no LaTeX output")),
            Err(e) => self.problems.push(format!("{name}: {e}")),
        }
        let doc_flags = ["--format", "latex", "--latex-document"];
        let doc = match use_cli
            .then(|| cli(source, wrt, flags, &doc_flags))
            .flatten()
        {
            Some(r) => r,
            None => lib(&mut library).map(|(c, o)| {
                let options = latex::LatexOptions {
                    document: true,
                    ..options
                };
                latex::results_to_latex(&c, &o, &options)
            }),
        };
        match doc.map(|d| (document_body(&d), d)) {
            Ok((Some(body), d)) if d.contains("\\usepackage{amsmath}") => {
                self.documents.push(Item {
                    origin: format!("{name}: --latex-document"),
                    tex: body,
                })
            }
            Ok((_, d)) => self.problems.push(format!(
                "{name}: --latex-document is not a complete amsmath document:\n{d}"
            )),
            Err(e) => self.problems.push(format!("{name}: --latex-document: {e}")),
        }
        let doc = match use_cli
            .then(|| cli(source, wrt, flags, &["--format", "json"]))
            .flatten()
        {
            Some(r) => r,
            None => lib(&mut library).map(|(c, o)| json::results_to_json(&c, &o, &options)),
        };
        match doc {
            Ok(d) => self.json.push(Item {
                origin: format!("{name}: --format json"),
                tex: d,
            }),
            Err(e) => self.problems.push(format!("{name}: --format json: {e}")),
        }
    }
}

/// Programs for the result kinds the cases do not reach, and names the printer must get
/// right: `(name, program, wrt, request)`.
const EXTRA: &[(&str, &str, &str, Option<Request>)] = &[
    (
        "jacobian",
        "x : R^n; A : R^(m×n); tanh(A x)",
        "x",
        Some(Request::Jacobian),
    ),
    (
        "derivative",
        "A, B : R^(n×n); α : R; inv(A + α B)",
        "α",
        Some(Request::Derivative),
    ),
    (
        "differential-inverse",
        "X : R^(n×n); X⁻¹",
        "X",
        Some(Request::Differential),
    ),
    (
        "differential-transpose",
        "X : R^(n×n); A : R^(n×n); A X ∘ X + Xᵀ X + Xᵀ",
        "X",
        Some(Request::Differential),
    ),
    (
        "hessian-vector",
        "x : R^n; A : R^(n×n); xᵀ A x + L(x)",
        "x",
        Some(Request::Hessian),
    ),
    (
        "hessian-matrix",
        "X : R^(m×n); A : R^(m×m); tr(Xᵀ A X)",
        "X",
        Some(Request::Hessian),
    ),
    (
        "hessian-scalar",
        "α, β : R; α^2 β + sin(α)",
        "α",
        Some(Request::Hessian),
    ),
    (
        "names",
        "Σ : R^(n×n); x_k, μ1, w_out : R^n; ϕ : elementwise; (x_k - μ1)ᵀ Σ⁻¹ (x_k - μ1) + sum(ϕ(w_out))",
        "Σ x_k μ1 w_out",
        None,
    ),
    (
        "numbers",
        "x : R^n; 1e-7 xᵀ x + (xᵀ x)^(1/3) + 0.25 sum(x.^3)",
        "x",
        None,
    ),
    (
        "builtins",
        "x : R^n; A : R^(n×n); sum(sqrt(exp(x))) + logsumexp(A x) + norm(A) + sum(log(softmax(x))) + sum(sigmoid(x) ∘ softplus(x))",
        "x A",
        None,
    ),
];

/// Every node of the language, helpers included, with shapes for `K_{m,n}` and
/// `\lVert X \rVert_F`.
const NODES: &[&str] = &[
    "(+ a b)",
    "(- a (neg b))",
    "(* A x)",
    "(/ (- (* A x) b) (norm (- (* A x) b)))",
    "(∘ (⊘ a b) (neg a))",
    "(⊗ A B)",
    "(T (inv A))",
    "(H (inv A))",
    "(inv (pow A 3))",
    "(pow (T A) 2)",
    "(pow α 0.3333333333333333)",
    "(epow X 2)",
    "(* 0.0000001 (ew @σ'''' x))",
    "(ew @sqrt (/ x α))",
    "(ew @abs (/ x α))",
    "(* (ew @relu x) (T (ew @sign x)))",
    "(apply @L x)",
    "(* (grad @L x) (T (hess @L x)))",
    "(* (tr A) (det A))",
    "(logdet A)",
    "(+ (sum X) (+ (norm X) (norm1 x)))",
    "(* (logsumexp x) (softmax x))",
    "(* (diag x) (vec X))",
    "(+ (conj X) (+ (real X) (imag X)))",
    "(* (commutation X) (vec X))",
    "(+ zeros[n,1] (+ ones[n,1] (* I[n,n] x)))",
    "(* dX 2.5)",
    "(vjp 1 (tr X) X)",
    "(jvp x x y)",
    "(coef (unb x a) x)",
    "(+ (zeros-like x) (+ (ones-like x) (eye-like x)))",
    "(d @σ)",
    "(ew @σ (ew @σ (ew @σ (/ x α))))",
    "(* (neg (∘ a b)) (T y))",
];

fn node_context(hadamard: latex::HadamardSymbol) -> latex::Context {
    let shape = |r: &str, c: &str| Shape::new(r.parse().unwrap(), c.parse().unwrap());
    let mut var_shapes = BTreeMap::new();
    for (v, r, c) in [
        ("A", "n", "n"),
        ("B", "n", "n"),
        ("X", "m", "n"),
        ("dX", "m", "n"),
        ("x", "n", "1"),
        ("y", "n", "1"),
        ("a", "n", "1"),
        ("b", "n", "1"),
        ("α", "1", "1"),
    ] {
        var_shapes.insert(Symbol::from(v), shape(r, c));
    }
    latex::Context {
        var_shapes,
        directions: [(Symbol::from("dX"), Symbol::from("X"))]
            .into_iter()
            .collect(),
        hadamard,
    }
}

fn collect() -> Collected {
    let mut c = Collected::default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "mdf"));
    paths.sort();
    for path in &paths {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let Ok(source) = std::fs::read_to_string(path) else {
            c.problems.push(format!("{name}: unreadable"));
            continue;
        };
        let Some(wrt) = header(&source, "wrt") else {
            c.problems.push(format!("{name}: no `# wrt:` header"));
            continue;
        };
        let wrt: Vec<String> = wrt.split_whitespace().map(str::to_string).collect();
        let flags: Vec<String> = header(&source, "flags")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        c.cases += 1;
        c.program(&name, &source, &wrt, &flags, None);
    }
    for (name, source, wrt, request) in EXTRA {
        let wrt: Vec<String> = wrt.split_whitespace().map(str::to_string).collect();
        c.program(&format!("extra {name}"), source, &wrt, &[], *request);
    }
    for hadamard in [latex::HadamardSymbol::Odot, latex::HadamardSymbol::Circ] {
        let ctx = node_context(hadamard);
        for sexpr in NODES {
            match sexpr.parse::<RecExpr<Math>>() {
                Ok(expr) => c.items.push(Item {
                    origin: format!("node {sexpr} ({hadamard:?})"),
                    tex: latex::expr_to_latex(&expr, &ctx),
                }),
                Err(e) => c.problems.push(format!("node {sexpr}: {e}")),
            }
        }
    }
    c
}

/// Checks that need no tools: ASCII only, balanced braces and `\left`/`\right`.
fn well_formed(tex: &str) -> Result<(), String> {
    if let Some(ch) = tex
        .chars()
        .find(|c| !c.is_ascii() || (c.is_ascii_control() && *c != '\n'))
    {
        return Err(format!("non-ASCII or control character {ch:?}"));
    }
    let mut depth = 0i64;
    let mut escaped = false;
    for ch in tex.chars() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced `}`".into());
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced `{`".into());
    }
    if tex.matches("\\left").count() != tex.matches("\\right").count() {
        return Err("unbalanced \\left/\\right".into());
    }
    Ok(())
}

fn tool_exists(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The outcome of one external check.
enum Verdict {
    Skipped(String),
    /// Failures as (origin, message), and how many fragments passed.
    Ran {
        failures: Vec<String>,
        passed: usize,
        total: usize,
        tool: String,
    },
}

/// One LaTeX document with every fragment (and every `--latex-document` body), through
/// one pdflatex run; errors are traced to the fragment on their line.
fn check_pdflatex(c: &Collected, work: &Path) -> Verdict {
    if !tool_exists("pdflatex", "--version") {
        return Verdict::Skipped("pdflatex not found".into());
    }
    let mut doc = format!("{}\\begin{{document}}\n", latex::DOCUMENT_PREAMBLE);
    let mut line_owner: BTreeMap<usize, String> = BTreeMap::new();
    let mut line = doc.lines().count();
    let mut push = |doc: &mut String, text: &str, owner: &str| {
        for l in text.lines() {
            line += 1;
            line_owner.insert(line, owner.to_string());
            doc.push_str(l);
            doc.push('\n');
        }
    };
    for item in &c.items {
        push(
            &mut doc,
            &format!("% {}", item.origin.replace('\n', " ")),
            &item.origin,
        );
        push(&mut doc, &format!("\\[ {} \\]", item.tex), &item.origin);
    }
    for item in &c.documents {
        push(&mut doc, &format!("% {}", item.origin), &item.origin);
        push(&mut doc, &item.tex, &item.origin);
    }
    doc.push_str("\\end{document}\n");
    let tex_path = work.join("fragments.tex");
    if let Err(e) = std::fs::write(&tex_path, &doc) {
        return Verdict::Ran {
            failures: vec![format!("cannot write {}: {e}", tex_path.display())],
            passed: 0,
            total: 0,
            tool: "pdflatex".into(),
        };
    }
    let _ = std::fs::remove_file(work.join("fragments.pdf"));
    let output = Command::new("pdflatex")
        .args([
            "-interaction=nonstopmode",
            "-file-line-error",
            "-no-shell-escape",
            "fragments.tex",
        ])
        .current_dir(work)
        .stdin(Stdio::null())
        .output();
    let version = Command::new("pdflatex")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "pdflatex".into());
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            return Verdict::Ran {
                failures: vec![format!("pdflatex did not run: {e}")],
                passed: 0,
                total: 0,
                tool: version,
            }
        }
    };
    let log = std::fs::read_to_string(work.join("fragments.log")).unwrap_or_default();
    let mut failed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unattributed = vec![];
    let log_lines: Vec<&str> = log.lines().collect();
    for (i, l) in log_lines.iter().enumerate() {
        let Some(rest) = l
            .strip_prefix("./fragments.tex:")
            .or_else(|| l.strip_prefix("fragments.tex:"))
        else {
            if l.starts_with("! ") {
                unattributed.push(l.to_string());
            }
            continue;
        };
        let (num, message) = rest.split_once(':').unwrap_or((rest, ""));
        let context: Vec<&str> = log_lines.iter().skip(i + 1).take(2).copied().collect();
        let message = format!("{} [{}]", message.trim(), context.join(" ").trim());
        match num.parse::<usize>().ok().and_then(|n| line_owner.get(&n)) {
            Some(owner) => failed.entry(owner.clone()).or_default().push(message),
            None => unattributed.push(format!("line {num}: {message}")),
        }
    }
    let mut failures: Vec<String> = failed
        .iter()
        .map(|(origin, messages)| format!("{origin}: {}", messages.join("; ")))
        .collect();
    let pdf = work.join("fragments.pdf").exists();
    // Errors on no fragment's line, or a failed run that blamed no fragment.
    let failed_run = !output.status.success() || !pdf;
    if !unattributed.is_empty() || (failed_run && failures.is_empty()) {
        let tail: Vec<&str> = log_lines.iter().rev().take(30).rev().copied().collect();
        failures.push(format!(
            "pdflatex exit {:?}, pdf {}: {}\n{}",
            output.status.code(),
            if pdf { "written" } else { "missing" },
            unattributed.join("; "),
            tail.join("\n")
        ));
    }
    let total = c.items.len() + c.documents.len();
    Verdict::Ran {
        passed: total.saturating_sub(failed.len()),
        total,
        failures,
        tool: version,
    }
}

/// Every fragment through KaTeX and every JSON document through `JSON.parse`, in one
/// node run of `.ci/katex/check.js`.
fn check_katex(c: &Collected, work: &Path) -> Verdict {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/katex/check.js");
    if !tool_exists("node", "--version") {
        return Verdict::Skipped("node not found".into());
    }
    let list = |items: &[Item]| {
        items
            .iter()
            .map(|i| json::escape(&i.tex))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let input = format!(
        "{{\"fragments\": [\n{}\n], \"json\": [\n{}\n]}}\n",
        list(&c.items),
        list(&c.json)
    );
    let input_path = work.join("katex-input.json");
    if let Err(e) = std::fs::write(&input_path, input) {
        return Verdict::Ran {
            failures: vec![format!("cannot write {}: {e}", input_path.display())],
            passed: 0,
            total: 0,
            tool: "katex".into(),
        };
    }
    let output = match Command::new("node")
        .arg(&script)
        .arg(&input_path)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) => return Verdict::Skipped(format!("node did not run: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.code() == Some(3) {
        return Verdict::Skipped(stdout.trim().to_string());
    }
    let mut failures = vec![];
    let mut passed = 0;
    let mut seen = 0;
    let mut tool = "katex".to_string();
    for l in stdout.lines() {
        let mut words = l.splitn(4, ' ');
        let (status, what, index) = (words.next(), words.next(), words.next());
        let message = words.next().unwrap_or("");
        if status == Some("katex") {
            tool = l.to_string();
            continue;
        }
        let items = match what {
            Some("fragment") => &c.items,
            Some("json") => &c.json,
            _ => continue,
        };
        seen += 1;
        let origin = index
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| items.get(i))
            .map_or("?", |i| i.origin.as_str());
        match status {
            Some("ok") => passed += 1,
            _ => failures.push(format!("{origin}: {message}")),
        }
    }
    if !output.status.success() || seen != c.items.len() + c.json.len() {
        failures.push(format!(
            "node exit {:?}, {seen} of {} items reported\n{stdout}\n{}",
            output.status.code(),
            c.items.len() + c.json.len(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Verdict::Ran {
        failures,
        passed,
        total: c.items.len() + c.json.len(),
        tool,
    }
}

/// Report one check's verdict: a line on stderr, and failures (or a skip, when the
/// tools are required) into `problems`.
fn report(name: &str, verdict: Verdict, what: &str, problems: &mut Vec<String>) {
    match verdict {
        Verdict::Skipped(why) => {
            let line = format!(
                "latex: SKIPPED the {name} check: {why} (MATDIFF_REQUIRE_LATEX=1 makes this an error; see .ci/run)"
            );
            say(&line);
            if required() {
                problems.push(line);
            }
        }
        Verdict::Ran {
            failures,
            passed,
            total,
            tool,
        } => {
            say(&format!(
                "latex: {name} ({tool}): {passed} of {total} {what}"
            ));
            problems.extend(failures.into_iter().map(|f| format!("{name}: {f}")));
        }
    }
}

#[test]
fn latex_compiles_and_renders() {
    let c = collect();
    assert!(c.cases > 0, "no case files found");
    let mut problems = c.problems.clone();
    for item in c.items.iter().chain(&c.documents) {
        if let Err(e) = well_formed(&item.tex) {
            problems.push(format!("{}: {e}: {}", item.origin, item.tex));
        }
    }
    if std::env::var_os("MATDIFF_LATEX_SHOW").is_some() {
        for item in &c.items {
            say(&format!("{}\n    {}", item.origin, item.tex));
        }
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("latex-check");
    let _ = std::fs::create_dir_all(&work);
    say(&format!(
        "latex: {} fragments from {} cases (through {}), {} extra programs and {} node forms, {} --latex-document bodies, {} JSON documents; files in {}",
        c.items.len(),
        c.cases,
        if c.via_cli {
            "cli::run --format latex/json"
        } else {
            "the library: the command line has no --format latex yet"
        },
        EXTRA.len(),
        2 * NODES.len(),
        c.documents.len(),
        c.json.len(),
        work.display()
    ));
    report(
        "pdflatex",
        check_pdflatex(&c, &work),
        "fragments and document bodies compiled",
        &mut problems,
    );
    report(
        "KaTeX",
        check_katex(&c, &work),
        "fragments rendered and JSON documents parsed",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{} LaTeX problems:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// The checks themselves catch bad LaTeX and name the right fragment.
#[test]
fn latex_checks_catch_errors() {
    let item = |origin: &str, tex: &str| Item {
        origin: origin.into(),
        tex: tex.into(),
    };
    let c = Collected {
        items: vec![
            item("good one", r"\frac{\partial f}{\partial x} = x^\top"),
            item("unknown macro", r"\undefinedmacro x"),
            item(
                "good two",
                r"\Bigl(a \odot b\Bigr) \oslash \lVert x\rVert_F",
            ),
            item("double superscript", r"x^\top^{2}"),
        ],
        documents: vec![item("bad body", "\\[\n  x = \\nosuchthing\n\\]")],
        json: vec![
            item(
                "good json",
                r#"{"results": [{"wrt": "x", "kind": "gradient", "text": "x", "latex": "x", "fragment": "x"}]}"#,
            ),
            item("bad json", r#"{"results": [}"#),
        ],
        ..Collected::default()
    };
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("latex-check-self-test");
    let _ = std::fs::create_dir_all(&work);
    let expect = |name: &str, verdict: Verdict, bad: &[&str], good: &[&str]| match verdict {
        Verdict::Skipped(why) => {
            say(&format!("latex: SKIPPED the {name} self-test: {why}"));
            assert!(!required(), "{name}: {why}");
        }
        Verdict::Ran { failures, .. } => {
            let all = failures.join("\n");
            for b in bad {
                assert!(all.contains(b), "{name} missed `{b}`:\n{all}");
            }
            for g in good {
                assert!(!all.contains(g), "{name} blamed `{g}`:\n{all}");
            }
        }
    };
    expect(
        "pdflatex",
        check_pdflatex(&c, &work),
        &["unknown macro", "double superscript", "bad body"],
        &["good one", "good two"],
    );
    expect(
        "KaTeX",
        check_katex(&c, &work),
        &["unknown macro", "double superscript", "bad json"],
        &["good one", "good two", "good json"],
    );
}
