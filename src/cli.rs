//! The command line: arguments, the run from program text to printed results, and exit
//! codes (0 success, 1 a derivative that cannot be produced or a failed check, 2 bad
//! input).

use crate::engine::explain;
use crate::engine::{self, Derivative, Limits, Outcome, Request, ResultKind};
use crate::lang::dims::Shape;
use crate::lang::MathAnalysis;
use crate::numeric::verify;
use crate::render::{self, json, latex, numpy};
use crate::{check_program, Checked};
use clap::{Parser, ValueEnum};
use egg::Symbol;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

const EXAMPLES: &str = "Examples:
  matdiff 'L(σ(W1 x) ∘ W2)' --wrt W1              the gradient of an MLP layer's loss
  matdiff 'x : R^n; A : R^(n×n); xᵀ A x' --wrt x   (A + Aᵀ) x
  matdiff 'log(det(X))' --wrt X --check           X⁻ᵀ, checked by finite differences
  matdiff 'A ∘ X' --wrt X                         the differential and ∂vec(f)/∂vec(X)
  matdiff 'xᵀ A x' --wrt x --hessian              the gradient and the Hessian A + Aᵀ
  matdiff -f model.mdf --wrt W --format numpy     a NumPy module with f and d_W
  matdiff 'tr(A X B)' --wrt X --format latex      LaTeX for a paper (--latex-document: a whole document)
  echo 'tr(A X B)' | matdiff --wrt X              the program from standard input";

/// Differentiate matrix expressions symbolically.
#[derive(Debug, Parser)]
#[command(name = "matdiff", version, about, after_help = EXAMPLES)]
pub struct Args {
    /// The program: declarations, bindings and an expression, separated by `;` or
    /// newlines. Read from --file or standard input when absent.
    pub program: Option<String>,
    /// Read the program from this file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "program"
    )]
    pub file: Option<std::path::PathBuf>,
    /// Differentiate with respect to this variable (repeatable; ASCII spellings such as
    /// `alpha` for α are accepted). Default: every variable.
    #[arg(long = "wrt", value_name = "X")]
    pub wrt: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --format latex: a complete amsmath document instead of one fragment per
    /// line (implies --format latex).
    #[arg(long)]
    pub latex_document: bool,
    /// The symbol of the Hadamard product in LaTeX: odot (⊙) or circ (∘).
    #[arg(long, value_enum, default_value_t = latex::HadamardSymbol::Odot, value_name = "SYMBOL")]
    pub latex_hadamard: latex::HadamardSymbol,
    /// Also compute the Hessian of a scalar expression (the second derivative).
    #[arg(long)]
    pub hessian: bool,
    /// Check every derivative against finite differences on random inputs.
    #[arg(long)]
    pub check: bool,
    /// Random inputs for --check.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub seeds: u64,
    /// Print the engine's report (stop reasons, iterations, e-graph sizes) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Largest e-graph, in e-nodes.
    #[arg(long, default_value_t = 500_000, value_name = "N")]
    pub node_limit: usize,
    /// Iterations of differentiation (default: from the depth of the expression).
    #[arg(long, value_name = "N")]
    pub iter_limit: Option<usize>,
    /// Seconds the engine may take (a safety net; node and iteration limits come first).
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub time_limit: u64,
    /// Show how each gradient was derived: one line per identity applied.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Latex,
    Numpy,
    Json,
}

/// What a run prints and how it exits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    fn fail(code: i32, message: String) -> Output {
        Output {
            stdout: String::new(),
            stderr: message,
            code,
        }
    }
}

/// Run matdiff on a program text (already read from the argument, file or stdin).
pub fn run(args: &Args, source: &str) -> Output {
    let checked = match check_program(source) {
        Ok(c) => c,
        Err(diag) => return Output::fail(2, diag.render(source)),
    };
    let wrt = match resolve_wrt(args, &checked) {
        Ok(w) => w,
        Err(message) => return Output::fail(2, message),
    };
    if args.explain && matches!(args.format, Format::Numpy | Format::Json) {
        return Output::fail(
            2,
            "error: --explain prints derivations with --format text or latex\n".into(),
        );
    }
    let wants = match plan(args, &checked, &wrt) {
        Ok(w) => w,
        Err(message) => return Output::fail(2, format!("error: {message}\n")),
    };
    let shapes: BTreeMap<Symbol, Shape> = checked
        .variables
        .iter()
        .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let limits = Limits {
        node_limit: args.node_limit,
        iter_limit: args.iter_limit,
        time_limit: Duration::from_secs(args.time_limit),
        explain: args.explain,
        ..Limits::default()
    };
    let analysis = MathAnalysis::new(shapes).with_complex(
        checked
            .variables
            .iter()
            .filter(|v| v.complex)
            .map(|v| Symbol::from(v.name.as_str())),
    );
    let outcome = match engine::derive(&checked.expr, &analysis, &wants, &limits) {
        Ok(o) => o,
        Err(e) => return Output::fail(1, format!("error: {e}\n")),
    };
    let mut out = Output::default();
    if args.verbose {
        for r in &outcome.reports {
            let _ = writeln!(
                out.stderr,
                "{}: stopped by {} after {} iterations, {} e-nodes in {} e-classes, {:.1} ms",
                r.stage,
                r.stop_reason,
                r.iterations,
                r.nodes,
                r.classes,
                r.seconds * 1e3
            );
        }
    }
    let latex_options = latex::LatexOptions {
        hadamard: args.latex_hadamard,
        document: args.latex_document,
    };
    let format = if args.latex_document && args.format == Format::Text {
        Format::Latex
    } else {
        args.format
    };
    match format {
        Format::Text => out.stdout = text_output(&checked, &outcome),
        Format::Latex => out.stdout = latex::results_to_latex(&checked, &outcome, &latex_options),
        Format::Json => out.stdout = json::results_to_json(&checked, &outcome, &latex_options),
        Format::Numpy => match numpy_output(source, &checked, &outcome) {
            Ok(module) => out.stdout = module,
            Err(e) => return Output::fail(1, format!("error: {e}\n")),
        },
    }
    if args.explain {
        let shown = explain_output(&checked, &analysis, &outcome, format, &latex_options);
        match out.stdout.rfind("\\end{document}") {
            Some(end) if format == Format::Latex => out.stdout.insert_str(end, &shown),
            _ => out.stdout.push_str(&shown),
        }
    }
    if args.check {
        let (passed, report) = verify::verify(&checked, &analysis, &outcome, args.seeds);
        out.stderr.push_str(&report);
        if !passed {
            out.code = 1;
        }
    }
    out
}

/// What to compute for each variable, from the shapes (LANGUAGE.md §2).
fn plan(args: &Args, checked: &Checked, wrt: &[Symbol]) -> Result<Vec<(Symbol, Request)>, String> {
    let f = &checked.shape;
    if args.hessian && !f.is_scalar() {
        return Err(format!(
            "--hessian needs a scalar expression, but this one is {f}"
        ));
    }
    wrt.iter()
        .map(|&x| {
            let var = checked
                .variables
                .iter()
                .find(|v| v.name == x.as_str())
                .ok_or_else(|| format!("`{x}` is not a variable"))?;
            let xs = &var.shape;
            let request = if args.hessian {
                Request::Hessian
            } else if f.is_scalar() {
                Request::Gradient
            } else if xs.is_scalar() {
                Request::Derivative
            } else if f.cols.is_one() && xs.cols.is_one() {
                Request::Jacobian
            } else {
                Request::Differential
            };
            if var.complex && request != Request::Gradient {
                return Err(format!(
                    "`{x}` is complex: only gradients of real-valued scalar expressions are defined for complex variables"
                ));
            }
            Ok((x, request))
        })
        .collect()
}

/// The variables named by `--wrt`, or every variable when none is named.
fn resolve_wrt(args: &Args, checked: &Checked) -> Result<Vec<Symbol>, String> {
    if args.wrt.is_empty() {
        return Ok(checked
            .variables
            .iter()
            .map(|v| Symbol::from(v.name.as_str()))
            .collect());
    }
    let mut out = vec![];
    for w in &args.wrt {
        let found = checked.variables.iter().find(|v| &v.name == w).or_else(|| {
            checked
                .variables
                .iter()
                .find(|v| numpy::spell_ascii(&v.name) == *w)
        });
        match found {
            Some(v) => out.push(Symbol::from(v.name.as_str())),
            None => {
                let names: Vec<&str> = checked.variables.iter().map(|v| v.name.as_str()).collect();
                let arg = format!("--wrt {w}");
                return Err(format!(
                    "error: unknown variable `{w}` in --wrt\n  |\n  | {arg}\n  | {}{}\n  = note: the variables are {}\n",
                    " ".repeat(6),
                    "^".repeat(w.chars().count().max(1)),
                    if names.is_empty() {
                        "(none)".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
            }
        }
    }
    Ok(out)
}

/// The left-hand side of a result line: `∂f/∂X`, `df`, `∂vec(f)/∂vec(X)`, ….
pub fn label(d: &Derivative, x_shape: &Shape) -> String {
    let x = d.wrt;
    match d.kind {
        ResultKind::Gradient | ResultKind::Derivative | ResultKind::Jacobian => format!("∂f/∂{x}"),
        ResultKind::Differential => "df".into(),
        ResultKind::VecJacobian => format!("∂vec(f)/∂vec({x})"),
        ResultKind::Hessian if x_shape.is_scalar() => format!("∂²f/∂{x}²"),
        ResultKind::Hessian if x_shape.cols.is_one() => format!("∂²f/∂{x}∂{x}ᵀ"),
        ResultKind::Hessian => format!("∂²f/∂vec({x})∂vec({x})ᵀ"),
        ResultKind::SecondDifferential => "d²f".into(),
    }
}

fn text_output(checked: &Checked, outcome: &Outcome) -> String {
    let mut out = String::new();
    for d in &outcome.derivatives {
        let x_shape = checked
            .variable(d.wrt.as_str())
            .map(|v| v.shape.clone())
            .unwrap_or_else(Shape::scalar);
        let sharing = render::share(&d.expr, &checked.bindings).with_variables(
            checked
                .variables
                .iter()
                .map(|v| (v.shape.clone(), v.name.clone())),
        );
        let (main, defs) = render::text::with_sharing(&d.expr, &sharing);
        let _ = writeln!(out, "{} = {main}", label(d, &x_shape));
        for (name, def) in defs {
            let _ = writeln!(out, "  where {name} = {def}");
        }
    }
    out
}

/// The derivation of every gradient (`--explain`), as text or LaTeX `align*` blocks,
/// after the results; other results get a line saying that there is none.
fn explain_output(
    checked: &Checked,
    analysis: &MathAnalysis,
    outcome: &Outcome,
    format: Format,
    latex_options: &latex::LatexOptions,
) -> String {
    let ctx = explain::Context::new(checked, analysis);
    let derivations = explain::derivations(&checked.expr, outcome, &ctx);
    let tex = latex::Context::new(checked, &outcome.directions, latex_options.hadamard);
    let mut out = String::new();
    for (i, d) in outcome.derivatives.iter().enumerate() {
        let x_shape = checked
            .variable(d.wrt.as_str())
            .map(|v| v.shape.clone())
            .unwrap_or_else(Shape::scalar);
        let derivation = derivations.iter().find(|(k, _)| *k == i).map(|(_, d)| d);
        out.push('\n');
        match (format, derivation) {
            (Format::Latex, Some(der)) => {
                out.push_str(&der.to_latex(&latex::label(d.kind, d.wrt.as_str(), &x_shape), &tex))
            }
            (Format::Latex, None) => {
                let _ = writeln!(
                    out,
                    "% --explain covers gradients: no derivation for {}",
                    label(d, &x_shape)
                );
            }
            (_, Some(der)) => out.push_str(&der.to_text(&label(d, &x_shape))),
            (_, None) => {
                let _ = writeln!(
                    out,
                    "--explain covers gradients: no derivation for {}",
                    label(d, &x_shape)
                );
            }
        }
    }
    out
}

fn numpy_output(
    source: &str,
    checked: &Checked,
    outcome: &Outcome,
) -> Result<String, numpy::NumpyError> {
    let params: Vec<numpy::Param> = checked
        .variables
        .iter()
        .map(|v| numpy::Param {
            name: v.name.clone(),
            shape: v.shape.clone(),
            kind: v.kind,
            complex: v.complex,
        })
        .collect();
    let wrt: Vec<String> = outcome
        .directions
        .iter()
        .map(|(x, _)| x.to_string())
        .collect();
    let any_complex = checked.variables.iter().any(|v| v.complex);
    let f_dims = numpy::contract_dims(checked.kind, &checked.shape);
    let mut functions = vec![];
    for d in &outcome.derivatives {
        let Some(var) = checked.variable(d.wrt.as_str()) else {
            continue;
        };
        let x_dims = numpy::contract_dims(var.kind, &var.shape);
        let (name, layout) = match d.kind {
            ResultKind::Gradient => (
                numpy::derivative_name(var.name.as_str(), &wrt),
                numpy::Layout::Value(var.kind),
            ),
            ResultKind::Derivative => (
                numpy::derivative_name(var.name.as_str(), &wrt),
                numpy::Layout::Value(checked.kind),
            ),
            ResultKind::Jacobian | ResultKind::VecJacobian => (
                numpy::derivative_name(var.name.as_str(), &wrt),
                numpy::Layout::Array([f_dims.clone(), x_dims].concat()),
            ),
            ResultKind::Hessian => (
                format!("h_{}", numpy::ascii_name(var.name.as_str(), &wrt)),
                numpy::Layout::Array([x_dims.clone(), x_dims].concat()),
            ),
            ResultKind::Differential | ResultKind::SecondDifferential => continue,
        };
        functions.push(numpy::Function {
            name,
            expr: &d.expr,
            layout,
            real_part: any_complex && !var.complex,
        });
    }
    numpy::module(&numpy::Module {
        source,
        f: &checked.expr,
        f_kind: checked.kind,
        f_real: outcome.f_real,
        params: &params,
        wrt,
        functions,
    })
}
