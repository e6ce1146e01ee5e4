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
  matdiff 'x : R^n; A : R^(n×n); xᵀ A x' --wrt x   `(A + Aᵀ) x`
  matdiff 'log(det(X))' --wrt X --check           `X⁻¹ᵀ`, checked by finite differences
  matdiff 'A ∘ X' --wrt X                         the differential and ∂vec(f)/∂vec(X)
  matdiff 'xᵀ A x' --wrt x --hessian              the gradient and the Hessian `A + Aᵀ`
  matdiff -f model.mdf --wrt W --format numpy     a NumPy module with f and d_W
  matdiff 'tr(A X B)' --wrt X --format latex      LaTeX for a paper (--latex-document: a whole document)
  echo 'tr(A X B)' | matdiff --wrt X              the program from standard input
  matdiff --wrt x -- '-sum(x)'                    `-ones`; `--` ends the options (a program may also start with `-`)
  matdiff completions bash > matdiff.bash         shell completions (bash, zsh, fish, elvish, powershell)
  matdiff man > matdiff.1                         the man page";

/// Differentiate matrix expressions symbolically.
#[derive(Debug, Parser)]
#[command(
    name = "matdiff",
    version,
    about,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// What to print instead of derivatives: shell completions or the man page.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The program: declarations, bindings and an expression, separated by `;` or
    /// newlines. Read from --file or standard input when absent. It may start with `-`
    /// (`'-sum(x)'`); `--` ends the options in any case.
    #[arg(allow_hyphen_values = true)]
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
    /// Random inputs for --check (at least 1).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
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

/// The subcommands: generated from this very CLI definition.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a completion script for a shell (`matdiff completions bash > matdiff.bash`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, in roff (`matdiff man > matdiff.1; man ./matdiff.1`).
    Man,
}

/// The text a subcommand prints: a completion script or the man page.
pub fn generate(command: &Command) -> String {
    use clap::CommandFactory;
    let mut cmd = Args::command();
    let mut out: Vec<u8> = vec![];
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "matdiff", &mut out);
        }
        Command::Man => {
            // Writing to a vector cannot fail.
            let _ = clap_mangen::Man::new(cmd).render(&mut out);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    if let Some(command) = &args.command {
        return Output {
            stdout: generate(command),
            ..Output::default()
        };
    }
    // The time limit covers the whole run, every phase (engine/budget.rs).
    let _deadline = crate::engine::budget::Deadline::start(Duration::from_secs(args.time_limit));
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
        let format = if args.format == Format::Numpy {
            "numpy"
        } else {
            "json"
        };
        let options = format!("--explain --format {format}");
        let d = crate::syntax::diagnostic::Diagnostic::new(
            "--explain prints derivations with --format text or latex",
            crate::syntax::ast::Span::new(10, options.len()),
        )
        .with_label(format!("--explain has no {format} form"));
        return Err(Error::option(d, &options));
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
    crate::engine::budget::check("printing").map_err(crate::engine::EngineError::from)?;
    if args.explain {
        let shown = derivation.explanation((format == Format::Latex).then_some(&latex_options));
        match out.stdout.rfind("\\end{document}") {
            Some(end) if format == Format::Latex => out.stdout.insert_str(end, &shown),
            _ => out.stdout.push_str(&shown),
        }
    }
    if derivation.checked.variables.is_empty() {
        out.stderr.push_str(&constant_note(&derivation));
    }
    if args.check {
        let (passed, report) = derivation.check(args.seeds);
        crate::engine::budget::check("--check").map_err(crate::engine::EngineError::from)?;
        out.stderr.push_str(&report);
        if !passed {
            out.code = 1;
        }
    }
    Ok(out)
}

/// What a program without variables computed: its value, and that there is nothing to
/// differentiate.
fn constant_note(derivation: &crate::api::Derivation) -> String {
    let checked = &derivation.checked;
    let f = crate::render::text::expr_to_string(&checked.expr);
    let env: crate::numeric::Env = crate::numeric::Env {
        vars: Default::default(),
        dims: Default::default(),
    };
    let value = match crate::numeric::eval(&checked.expr, &env) {
        Ok(m) if m.nrows() == 1 && m.ncols() == 1 => format!(" = {}", m[(0, 0)]),
        Ok(m) => format!(" = {m}"),
        Err(_) => String::new(),
    };
    format!("note: nothing to differentiate: the program has no variables (f = {f}{value})\n")
}
