//! The library's front door: a program and options in, typed results out, and the
//! renderers that print them. The command line (`cli.rs`) and the Python package
//! are thin layers over [`derive()`].
//!
//! ```
//! use matdiff::api::{derive, Options};
//!
//! let d = derive("x : R^n; A : R^(n×n); xᵀ A x", &Options::wrt(["x"])).unwrap();
//! let r = &d.results()[0];
//! assert_eq!(r.wrt, "x");
//! assert_eq!(r.label, "∂f/∂x");
//! assert_eq!(r.shape.to_string(), "n×1");
//! assert_eq!(d.to_text(), format!("∂f/∂x = {}\n", r.text));
//! ```

use crate::check::{check_program, Checked};
use crate::engine::{self, EngineError, Limits, Outcome, Request, ResultKind};
use crate::lang::dims::Shape;
use crate::lang::greek;
use crate::lang::MathAnalysis;
use crate::render::latex::{self, LatexOptions};
use crate::render::{json, numpy, text};
use crate::syntax::ast::Span;
use crate::syntax::diagnostic::Diagnostic;
use egg::Symbol;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What to compute: the variables, whether to add Hessians and derivations, and the
/// engine's limits.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The variables to differentiate with respect to (ASCII spellings such as `alpha`
    /// for α are accepted); empty: every variable.
    pub wrt: Vec<String>,
    /// Also the Hessian of a scalar expression.
    pub hessian: bool,
    /// Also record how each gradient was derived (see [`Derivation::explanation`]).
    pub explain: bool,
    /// What to compute for every variable, instead of what the shapes choose
    /// (LANGUAGE.md §2); `hessian` still wins.
    pub request: Option<Request>,
    /// Node, iteration and time limits of the engine.
    pub limits: Limits,
}

impl Options {
    /// Options that differentiate with respect to these variables, with default limits.
    pub fn wrt<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Options {
        Options {
            wrt: names.into_iter().map(Into::into).collect(),
            ..Options::default()
        }
    }
}

/// Why [`derive()`] gave no results.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Bad input (syntax, shapes, an unknown `--wrt` variable, a request that does not
    /// fit the expression): `rendered` is the diagnostic with the source line and a caret.
    #[error("{rendered}")]
    Input {
        /// The diagnostic as printed (ends with a newline).
        rendered: String,
        /// The 1-based line of the place it points at (0 when it points at an option).
        line: usize,
        /// The 1-based column (in characters) of that place (0 for an option).
        column: usize,
    },
    /// The engine could not produce a result: no rule applies, or a limit was reached.
    #[error("error: {}\n", engine_message(.0))]
    Engine(#[from] EngineError),
    /// A result has no NumPy form.
    #[error("error: {0}\n")]
    Numpy(#[from] numpy::NumpyError),
}

impl Error {
    /// The command line's exit status for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } => 2,
            Error::Engine(_) | Error::Numpy(_) => 1,
        }
    }

    /// An input error about the options rather than a place in the program, rendered
    /// like every diagnostic, with the options as its source line (`--> command line`).
    pub fn option(diagnostic: Diagnostic, options: &str) -> Error {
        let rendered = diagnostic.render(options);
        let mut lines: Vec<String> = vec![];
        for l in rendered.lines() {
            if l.starts_with(" --> ") {
                lines.push(" --> command line".into());
            } else if let Some(rest) = l.strip_prefix("1 | ") {
                lines.push(format!("  | {rest}"));
            } else {
                lines.push(l.to_string());
            }
        }
        Error::Input {
            rendered: lines.join("\n") + "\n",
            line: 0,
            column: 0,
        }
    }

    /// An input error at a place in the program.
    pub fn at(diagnostic: Diagnostic, source: &str) -> Error {
        let (line, column) = diagnostic.line_col(source);
        Error::Input {
            rendered: diagnostic.render(source),
            line,
            column,
        }
    }
}

/// An engine error in words, with expressions in the language.
fn engine_message(e: &EngineError) -> String {
    match e {
        EngineError::NoRule { construct, expr } => format!(
            "no derivative rule applies to {construct} (in `{}`)",
            text::expr_to_string(expr)
        ),
        other => other.to_string(),
    }
}

/// A differentiated program: the checked program, the engine's outcome, and everything
/// the renderers need.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// The program text.
    pub source: String,
    /// The parsed, checked and lowered program.
    pub checked: Checked,
    /// The variables' shapes and which are complex, as the engine saw them.
    pub analysis: MathAnalysis,
    /// The simplified results and the engine's reports.
    pub outcome: Outcome,
}

/// One result, ready to print: what it is, its shape, and its text and LaTeX forms.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultItem {
    /// The variable it is taken with respect to.
    pub wrt: String,
    /// What the result is: a gradient, a Jacobian, a Hessian, ….
    pub kind: ResultKind,
    /// The result's shape (LANGUAGE.md §2).
    pub shape: Shape,
    /// The left-hand side as the text output writes it (`∂f/∂X`, `df`, …).
    pub label: String,
    /// The expression as text, followed by its `where` lines (as the text output
    /// prints them after `label = `, without the final newline).
    pub text: String,
    /// The expression alone, as text.
    pub expr_text: String,
    /// The named shared sub-terms: `(name, definition)` in definition order.
    pub where_: Vec<(String, String)>,
    /// The LaTeX fragment, as one line of `--format latex` prints it.
    pub latex: String,
}

/// Parses, checks and differentiates `source` as `options` ask (LANGUAGE.md §2 decides
/// the kind of each result from the shapes).
///
/// ```
/// use matdiff::api::{derive, Error, Options};
///
/// let err = derive("W : R^(m×n); x : R^p; W x", &Options::default()).unwrap_err();
/// assert_eq!(err.exit_code(), 2);
/// let Error::Input { line, column, .. } = err else { panic!() };
/// assert_eq!((line, column), (1, 23));
/// ```
pub fn derive(source: &str, options: &Options) -> Result<Derivation, Error> {
    // The time limit, from here unless the caller's run set it (engine/budget.rs).
    let _deadline = engine::budget::remaining()
        .is_none()
        .then(|| engine::budget::Deadline::start(options.limits.time_limit));
    let checked = check_program(source).map_err(|diag| {
        let (line, column) = diag.line_col(source);
        Error::Input {
            rendered: diag.render(source),
            line,
            column,
        }
    })?;
    engine::budget::check("parsing").map_err(EngineError::from)?;
    let wrt = resolve_wrt(&options.wrt, &checked)?;
    let wants = plan(options, &checked, &wrt, source)?;
    let shapes: BTreeMap<Symbol, Shape> = checked
        .variables
        .iter()
        .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let limits = Limits {
        explain: options.explain,
        ..options.limits.clone()
    };
    let analysis = MathAnalysis::new(shapes).with_complex(
        checked
            .variables
            .iter()
            .filter(|v| v.complex)
            .map(|v| Symbol::from(v.name.as_str())),
    );
    let outcome = engine::derive(&checked.expr, &analysis, &wants, &limits)?;
    Ok(Derivation {
        source: source.to_string(),
        checked,
        analysis,
        outcome,
    })
}

impl Derivation {
    /// Every result, in the order they are printed.
    pub fn results(&self) -> Vec<ResultItem> {
        let tex = latex::fragments(&self.checked, &self.outcome, &LatexOptions::default());
        self.outcome
            .derivatives
            .iter()
            .zip(tex)
            .map(|(d, fragment)| {
                let x_shape = self.wrt_shape(d.wrt.as_str());
                let (expr_text, where_) = text::result_text(&self.checked, &d.expr);
                let mut full = expr_text.clone();
                for (name, def) in &where_ {
                    let _ = write!(full, "\n  where {name} = {def}");
                }
                ResultItem {
                    wrt: d.wrt.to_string(),
                    kind: d.kind,
                    shape: json::result_shape(d.kind, &self.checked.shape, &x_shape),
                    label: text::label(d.kind, d.wrt.as_str(), &x_shape),
                    text: full,
                    expr_text,
                    where_,
                    latex: fragment.inline(),
                }
            })
            .collect()
    }

    /// The text output: one `label = expression` line per result, with `where` lines.
    pub fn to_text(&self) -> String {
        text::results_to_text(&self.checked, &self.outcome)
    }

    /// The LaTeX output: one fragment per line, or a whole document.
    pub fn to_latex(&self, options: &LatexOptions) -> String {
        latex::results_to_latex(&self.checked, &self.outcome, options)
    }

    /// The JSON output (one object, 2-space indentation).
    pub fn to_json(&self, options: &LatexOptions) -> String {
        json::results_to_json(&self.checked, &self.outcome, options)
    }

    /// The NumPy module (LANGUAGE.md §3): `f`, and `d_<X>` / `h_<X>` per result.
    pub fn to_numpy(&self) -> Result<String, Error> {
        Ok(numpy::results_to_numpy(
            &self.source,
            &self.checked,
            &self.outcome,
        )?)
    }

    /// The engine's report, one line per stage: stop reason, iterations, e-graph size,
    /// time.
    pub fn engine_report(&self) -> String {
        let mut out = String::new();
        for r in &self.outcome.reports {
            let _ = writeln!(
                out,
                "{}: stopped by {} after {} iterations, {} e-nodes in {} e-classes, {:.1} ms",
                r.stage,
                r.stop_reason,
                r.iterations,
                r.nodes,
                r.classes,
                r.seconds * 1e3
            );
        }
        out
    }

    /// How each gradient was derived (needs [`Options::explain`]), as text or, given
    /// LaTeX options, as `align*` blocks; each result's block starts with an empty line,
    /// and results other than gradients get a line saying there is none.
    pub fn explanation(&self, latex_options: Option<&LatexOptions>) -> String {
        let derivations = self.derivations();
        (0..self.outcome.derivatives.len())
            .map(|i| format!("\n{}", self.block(i, &derivations, latex_options)))
            .collect()
    }

    /// How result `index` (in the order of [`Derivation::results`]) was derived: the
    /// block [`Derivation::explanation`] prints for it, without the empty line before
    /// it (needs [`Options::explain`]); `None` when there is no such result.
    ///
    /// ```
    /// use matdiff::api::{derive, Options};
    ///
    /// let options = Options { explain: true, ..Options::wrt(["x"]) };
    /// let d = derive("x : R^n; xᵀ x", &options).unwrap();
    /// let text = d.explanation_of(0, None).unwrap();
    /// assert!(text.starts_with("∂f/∂x = grad(xᵀ x, x)\n"));
    /// assert_eq!(d.explanation(None), format!("\n{text}"));
    /// assert_eq!(d.explanation_of(1, None), None);
    /// ```
    pub fn explanation_of(
        &self,
        index: usize,
        latex_options: Option<&LatexOptions>,
    ) -> Option<String> {
        (index < self.outcome.derivatives.len())
            .then(|| self.block(index, &self.derivations(), latex_options))
    }

    /// The explanation block of result `i`, given every result's derivation.
    fn block(
        &self,
        i: usize,
        derivations: &[(usize, crate::render::explain::Derivation)],
        latex_options: Option<&LatexOptions>,
    ) -> String {
        let d = &self.outcome.derivatives[i];
        let hadamard = latex_options.map(|o| o.hadamard).unwrap_or_default();
        let x_shape = self.wrt_shape(d.wrt.as_str());
        let label = text::label(d.kind, d.wrt.as_str(), &x_shape);
        let derivation = derivations.iter().find(|(k, _)| *k == i).map(|(_, d)| d);
        match (latex_options, derivation) {
            (Some(o), Some(der)) => {
                let tex = latex::Context::new(&self.checked, &self.outcome.directions, hadamard);
                let block = der.to_latex(&latex::label(d.kind, d.wrt.as_str(), &x_shape), &tex);
                if o.document {
                    latex::derivation_for_page(&block)
                } else {
                    block
                }
            }
            (Some(_), None) => {
                format!("% --explain covers gradients: no derivation for {label}\n")
            }
            (None, Some(der)) => der.to_text(&label),
            (None, None) => format!("--explain covers gradients: no derivation for {label}\n"),
        }
    }

    /// The derivation of each gradient result (needs [`Options::explain`]), with the
    /// index of its result in [`Outcome::derivatives`].
    pub fn derivations(&self) -> Vec<(usize, crate::render::explain::Derivation)> {
        let ctx = engine::explain::Context::new(&self.checked, &self.analysis);
        crate::render::explain::derivations(&self.checked.expr, &self.outcome, &ctx)
    }

    /// Checks every result against finite differences on `seeds` random inputs: the
    /// verdict and a report (one line, plus any problems).
    pub fn check(&self, seeds: u64) -> (bool, String) {
        crate::numeric::verify::verify(&self.checked, &self.analysis, &self.outcome, seeds)
    }

    /// The shape of the variable `name` (1×1 if there is none).
    fn wrt_shape(&self, name: &str) -> Shape {
        self.checked
            .variable(name)
            .map(|v| v.shape.clone())
            .unwrap_or_else(Shape::scalar)
    }
}

/// What to compute for each variable, from the shapes (LANGUAGE.md §2).
/// What is computed for a variable of shape `x` of an expression of shape `f`
/// (LANGUAGE.md §2): the Hessian when asked for, else the gradient of a scalar f, the
/// derivative wrt a scalar, the Jacobian of a column wrt a column, or the differential.
///
/// ```
/// use matdiff::api::request_for;
/// use matdiff::engine::Request;
/// use matdiff::lang::dims::{Dim, Shape};
///
/// let (n, m) = (Shape::column(Dim::sym("n")), Shape::column(Dim::sym("m")));
/// assert_eq!(request_for(&Shape::scalar(), &n, false), Request::Gradient);
/// assert_eq!(request_for(&m, &n, false), Request::Jacobian);
/// assert_eq!(request_for(&Shape::scalar(), &n, true), Request::Hessian);
/// ```
pub fn request_for(f: &Shape, x: &Shape, hessian: bool) -> Request {
    if hessian {
        Request::Hessian
    } else if f.is_scalar() {
        Request::Gradient
    } else if x.is_scalar() {
        Request::Derivative
    } else if f.cols.is_one() && x.cols.is_one() {
        Request::Jacobian
    } else {
        Request::Differential
    }
}

fn plan(
    options: &Options,
    checked: &Checked,
    wrt: &[Symbol],
    source: &str,
) -> Result<Vec<(Symbol, Request)>, Error> {
    let hessian = options.hessian;
    let f = &checked.shape;
    if hessian && !f.is_scalar() {
        let d = Diagnostic::new(
            format!("--hessian needs a scalar expression, but this one is {f}"),
            checked.expr_span,
        )
        .with_label(format!("this expression is {f}"))
        .with_note("leave out --hessian for its derivatives, or differentiate a scalar such as `sum(…)` or `norm(…)^2`");
        return Err(Error::at(d, source));
    }
    wrt.iter()
        .map(|&x| {
            let var = checked
                .variables
                .iter()
                .find(|v| v.name == x.as_str())
                .ok_or_else(|| {
                    Error::option(
                        Diagnostic::new(format!("`{x}` is not a variable"), Span::new(6, 6 + x.as_str().len())),
                        &format!("--wrt {x}"),
                    )
                })?;
            let request = match options.request {
                Some(request) if !hessian => request,
                _ => request_for(f, &var.shape, hessian),
            };
            if var.complex && request != Request::Gradient {
                let d = Diagnostic::new(
                    format!(
                        "`{x}` is complex: only gradients of real-valued scalar expressions are defined for complex variables"
                    ),
                    var.span,
                )
                .with_label("a complex variable")
                .with_secondary(checked.expr_span, format!("this expression is {f}"))
                .with_note(if hessian {
                    "--hessian is not defined for complex variables"
                } else {
                    "differentiate a real scalar such as `norm(…)^2` or `real(…)`, or declare the variable real (`R^…`)"
                });
                return Err(Error::at(d, source));
            }
            Ok((x, request))
        })
        .collect()
}

/// The variables named by `wrt`, or every variable when none is named; an unknown name
/// is an error rendered like a diagnostic.
fn resolve_wrt(wrt: &[String], checked: &Checked) -> Result<Vec<Symbol>, Error> {
    if wrt.is_empty() {
        return Ok(checked
            .variables
            .iter()
            .map(|v| Symbol::from(v.name.as_str()))
            .collect());
    }
    let mut out = vec![];
    for w in wrt {
        // As in programs, an ASCII spelling is the Greek letter (`alpha` is α).
        let found = checked
            .variables
            .iter()
            .find(|v| &v.name == w || v.name == greek::read_ascii(w))
            .or_else(|| {
                checked
                    .variables
                    .iter()
                    .find(|v| greek::spell_ascii(&v.name) == *w)
            });
        match found {
            Some(v) => out.push(Symbol::from(v.name.as_str())),
            None => {
                let names: Vec<&str> = checked.variables.iter().map(|v| v.name.as_str()).collect();
                let arg = format!("--wrt {w}");
                let d = Diagnostic::new(
                    format!("unknown variable `{w}` in --wrt"),
                    Span::new(6, arg.len()),
                )
                .with_label("not a variable of the program")
                .with_note(format!(
                    "the variables are {}",
                    if names.is_empty() {
                        "(none)".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
                return Err(Error::option(d, &arg));
            }
        }
    }
    Ok(out)
}
