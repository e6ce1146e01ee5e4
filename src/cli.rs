//! The command line: arguments, the run from program text to printed results, and exit
//! codes (0 success, 1 a derivative that cannot be produced or a failed check, 2 bad
//! input).

use crate::api::{derive, Error, Options};
use crate::check::check_program;
use crate::engine::Limits;
use crate::render::latex;
use clap::{Parser, ValueEnum};
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

/// The output format chosen with `--format`: `text` (the language itself, one result per
/// line), `latex` (one fragment per result, or a document), `numpy` (a Python module
/// defining `f` and `d_<X>`) or `json` (the results and the variables as one object).
// Doc comments on the variants of a `ValueEnum` become `--help` text, so the variants are
// described above and in `//` comments, which leaves the help output unchanged.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    // `text`: the language itself.
    Text,
    // `latex`: LaTeX fragments (or a document with `--latex-document`).
    Latex,
    // `numpy`: a Python module.
    Numpy,
    // `json`: one JSON object.
    Json,
}

/// What a run prints and how it exits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Everything printed to standard output.
    pub stdout: String,
    /// Everything printed to standard error: diagnostics, the engine report, `--check`
    /// reports.
    pub stderr: String,
    /// The exit code: 0 on success, 2 for bad input, 1 when the engine fails or a check
    /// does not pass.
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
    match run_api(args, source) {
        Ok(out) => out,
        Err(e) => Output::fail(e.exit_code(), e.to_string()),
    }
}

/// [`run`] over the library API; errors carry their exit status.
fn run_api(args: &Args, source: &str) -> Result<Output, Error> {
    let options = Options {
        wrt: args.wrt.clone(),
        hessian: args.hessian,
        explain: args.explain,
        limits: Limits {
            node_limit: args.node_limit,
            iter_limit: args.iter_limit,
            time_limit: Duration::from_secs(args.time_limit),
            ..Limits::default()
        },
        ..Options::default()
    };
    if args.explain && matches!(args.format, Format::Numpy | Format::Json) {
        // Checked after the program, so that a bad program is reported first.
        check_program(source).map_err(|diag| Error::Input {
            rendered: diag.render(source),
            line: 0,
            column: 0,
        })?;
        return Err(Error::Input {
            rendered: "error: --explain prints derivations with --format text or latex\n".into(),
            line: 0,
            column: 0,
        });
    }
    let derivation = derive(source, &options)?;
    let mut out = Output::default();
    if args.verbose {
        out.stderr = derivation.engine_report();
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
    out.stdout = match format {
        Format::Text => derivation.to_text(),
        Format::Latex => derivation.to_latex(&latex_options),
        Format::Json => derivation.to_json(&latex_options),
        Format::Numpy => derivation.to_numpy()?,
    };
    if args.explain {
        let shown = derivation.explanation((format == Format::Latex).then_some(&latex_options));
        match out.stdout.rfind("\\end{document}") {
            Some(end) if format == Format::Latex => out.stdout.insert_str(end, &shown),
            _ => out.stdout.push_str(&shown),
        }
    }
    if args.check {
        let (passed, report) = derivation.check(args.seeds);
        out.stderr.push_str(&report);
        if !passed {
            out.code = 1;
        }
    }
    Ok(out)
}
