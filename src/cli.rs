//! The command line: arguments, the run from program text to printed results, and exit
//! codes (0 success, 1 a derivative that cannot be produced or a failed check, 2 bad
//! input).

use crate::dims::Shape;
use crate::engine::{self, Limits};
use crate::lang::MathAnalysis;
use crate::numeric::{self, CheckInput};
use crate::print::{self, numpy};
use crate::{check_program, Checked};
use clap::{Parser, ValueEnum};
use egg::{RecExpr, Symbol};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

const EXAMPLES: &str = "Examples:
  matdiff 'L(σ(W1 x) ∘ W2)' --wrt W1              the gradient of an MLP layer's loss
  matdiff 'x : R^n; A : R^(n×n); xᵀ A x' --wrt x   (A + Aᵀ) x
  matdiff 'log(det(X))' --wrt X --check           X⁻ᵀ, checked by finite differences
  matdiff -f model.mdf --wrt W --format numpy     a NumPy module with f and d_W
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Numpy,
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
    if !checked.shape.is_scalar() {
        return Output::fail(
            1,
            format!(
                "error: the expression is a {} matrix, not a scalar: only gradients of scalar expressions are supported so far\n",
                checked.shape
            ),
        );
    }
    let shapes: BTreeMap<Symbol, Shape> = checked
        .variables
        .iter()
        .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let limits = Limits {
        node_limit: args.node_limit,
        iter_limit: args.iter_limit,
        time_limit: Duration::from_secs(args.time_limit),
        ..Limits::default()
    };
    let analysis = MathAnalysis::new(shapes.clone()).with_complex(
        checked
            .variables
            .iter()
            .filter(|v| v.complex)
            .map(|v| Symbol::from(v.name.as_str())),
    );
    let outcome = match engine::gradients(&checked.expr, &analysis, &wrt, &limits) {
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
    let derivatives: Vec<(Symbol, RecExpr<crate::lang::Math>)> = outcome
        .derivatives
        .iter()
        .map(|d| (d.wrt, d.expr.clone()))
        .collect();
    match args.format {
        Format::Text => out.stdout = text_output(&checked, &derivatives),
        Format::Numpy => match numpy_output(source, &checked, outcome.f_real, &derivatives) {
            Ok(module) => out.stdout = module,
            Err(e) => return Output::fail(1, format!("error: {e}\n")),
        },
    }
    if args.check {
        let (passed, report) = check_numerically(&checked, &shapes, &derivatives, args.seeds);
        out.stderr.push_str(&report);
        if !passed {
            out.code = 1;
        }
    }
    out
}

/// Check every derivative against finite differences; the verdict and a report line.
/// Sizes are tried in ascending order of the dimensions, then descending, so that
/// products such as Xᵀ A X with a wide X are not singular at every point.
fn check_numerically(
    checked: &Checked,
    shapes: &BTreeMap<Symbol, Shape>,
    derivatives: &[(Symbol, RecExpr<crate::lang::Math>)],
    seeds: u64,
) -> (bool, String) {
    let mut dims = checked.dims.clone();
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt == 1 {
            dims.reverse();
        }
        let input = CheckInput {
            f: &checked.expr,
            derivatives: derivatives.iter().map(|(w, e)| (*w, e)).collect(),
            vars: shapes.iter().map(|(k, v)| (*k, v.clone())).collect(),
            dims: dims.clone(),
            seeds,
            complex_vars: checked
                .variables
                .iter()
                .filter(|v| v.complex)
                .map(|v| Symbol::from(v.name.as_str()))
                .collect(),
        };
        let report = match numeric::check_gradients(&input) {
            Ok(report) => report,
            Err(e) => return (false, format!("check: could not evaluate: {e}\n")),
        };
        let per: Vec<String> = report
            .per_derivative
            .iter()
            .map(|(w, e)| format!("∂/∂{w} {e:.1e}"))
            .collect();
        let mut line = format!(
            "check: {} against central finite differences on {} random inputs: largest relative error {:.1e} ({})\n",
            if report.passed { "passed" } else { "FAILED" },
            report.trials,
            report.max_rel_error,
            per.join(", ")
        );
        for p in &report.problems {
            line.push_str(&format!("  {p}\n"));
        }
        if report.passed || report.trials > 0 {
            return (report.passed, line);
        }
        last = line;
    }
    (false, last)
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
                    if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
                ));
            }
        }
    }
    Ok(out)
}

fn text_output(checked: &Checked, derivatives: &[(Symbol, RecExpr<crate::lang::Math>)]) -> String {
    let mut out = String::new();
    for (w, expr) in derivatives {
        let sharing = print::share(expr, &checked.bindings);
        let (main, defs) = print::text::with_sharing(expr, &sharing);
        let _ = writeln!(out, "∂f/∂{w} = {main}");
        for (name, def) in defs {
            let _ = writeln!(out, "  where {name} = {def}");
        }
    }
    out
}

fn numpy_output(
    source: &str,
    checked: &Checked,
    f_real: bool,
    derivatives: &[(Symbol, RecExpr<crate::lang::Math>)],
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
    numpy::module(&numpy::Module {
        source,
        f: &checked.expr,
        f_kind: checked.kind,
        f_real,
        params: &params,
        derivatives: derivatives
            .iter()
            .map(|(w, e)| (w.to_string(), e))
            .collect(),
    })
}
