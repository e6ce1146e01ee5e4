//! The NumPy printer: a Python module defining `f` and `d_<X>` (LANGUAGE.md §3).
//!
//! Inside a function every vector is a column and every matrix 2-D, so each node's
//! shape (known from the analysis) decides between `@` and `*`; parameters and results
//! are converted at the boundary (vectors 1-D, scalars floats).

mod helpers;
mod lower;
mod ops;

use crate::check::Checked;
use crate::engine::{Outcome, ResultKind};
use crate::lang::dims::{Dim, Kind, Shape};
use crate::lang::Math;
use egg::{RecExpr, Symbol};
use helpers::HELPERS;
use lower::Body;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A variable as the module sees it.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub shape: Shape,
    pub kind: Kind,
    pub complex: bool,
}

/// What to print: the expression, its derivatives and the variables.
#[derive(Debug, Clone)]
pub struct Module<'a> {
    /// The program, shown in the module's docstring.
    pub source: &'a str,
    pub f: &'a RecExpr<Math>,
    pub f_kind: Kind,
    /// f is real-valued (complex arithmetic inside is then cut to its real part).
    pub f_real: bool,
    pub params: &'a [Param],
    /// Every `--wrt X`, in order (for the ASCII names of `d_<X>`).
    pub wrt: Vec<String>,
    /// The derivative functions: `d_<X>` and `h_<X>`.
    pub functions: Vec<Function<'a>>,
}

/// One module function of the variables.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    /// `d_<X>` or `h_<X>`, see [`derivative_name`].
    pub name: String,
    pub expr: &'a RecExpr<Math>,
    pub layout: Layout,
    /// Keep only the real part (a real quantity computed with complex arithmetic).
    pub real_part: bool,
}

/// How a function's 2-D result becomes its contract value.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// A float, a 1-D or a 2-D array, as the kind says.
    Value(Kind),
    /// An array of these dimensions, reading the 2-D result in column-major order
    /// (∂vec F/∂vec X becomes `F.shape + X.shape`, jax.jacobian's layout).
    Array(Vec<Dim>),
}

/// The dimensions of a value of this kind and shape as NumPy holds it.
pub fn contract_dims(kind: Kind, shape: &Shape) -> Vec<Dim> {
    match kind {
        Kind::Scalar => vec![],
        Kind::Vector => vec![shape.rows.clone()],
        Kind::Matrix => vec![shape.rows.clone(), shape.cols.clone()],
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumpyError {
    #[error("cannot write `{0}` in NumPy")]
    Unsupported(String),
    #[error("internal error: ill-shaped node in the NumPy printer: {0}")]
    Shape(String),
}

const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "match", "case", "type", "_",
];

const GREEK: &[(char, &str)] = &[
    ('α', "alpha"),
    ('β', "beta"),
    ('γ', "gamma"),
    ('δ', "delta"),
    ('ε', "epsilon"),
    ('ζ', "zeta"),
    ('η', "eta"),
    ('θ', "theta"),
    ('ι', "iota"),
    ('κ', "kappa"),
    ('λ', "lambda"),
    ('μ', "mu"),
    ('ν', "nu"),
    ('ξ', "xi"),
    ('ο', "omicron"),
    ('π', "pi"),
    ('ρ', "rho"),
    ('σ', "sigma"),
    ('ς', "sigma"),
    ('τ', "tau"),
    ('υ', "upsilon"),
    ('φ', "phi"),
    ('χ', "chi"),
    ('ψ', "psi"),
    ('ω', "omega"),
    ('Α', "Alpha"),
    ('Β', "Beta"),
    ('Γ', "Gamma"),
    ('Δ', "Delta"),
    ('Ε', "Epsilon"),
    ('Ζ', "Zeta"),
    ('Η', "Eta"),
    ('Θ', "Theta"),
    ('Ι', "Iota"),
    ('Κ', "Kappa"),
    ('Λ', "Lambda"),
    ('Μ', "Mu"),
    ('Ν', "Nu"),
    ('Ξ', "Xi"),
    ('Ο', "Omicron"),
    ('Π', "Pi"),
    ('Ρ', "Rho"),
    ('Σ', "Sigma"),
    ('Τ', "Tau"),
    ('Υ', "Upsilon"),
    ('Φ', "Phi"),
    ('Χ', "Chi"),
    ('Ψ', "Psi"),
    ('Ω', "Omega"),
];

/// Greek letters spelled out (`σ` → `sigma`), other characters kept.
pub fn spell_ascii(name: &str) -> String {
    name.chars()
        .map(|c| match GREEK.iter().find(|(g, _)| *g == c) {
            Some((_, s)) => (*s).to_string(),
            None => c.to_string(),
        })
        .collect()
}

/// A program name as a Python parameter name: ASCII, with a trailing underscore for a
/// keyword, a name of the module (`np`, `f`) or a derivative function's name.
pub fn ascii_name(name: &str, wrt: &[String]) -> String {
    let base = |n: &str| {
        let s = spell_ascii(n);
        if PY_KEYWORDS.contains(&s.as_str()) || s == "np" || s == "f" {
            s + "_"
        } else {
            s
        }
    };
    let s = base(name);
    let taken = wrt
        .iter()
        .any(|w| s == format!("d_{}", base(w)) || s == format!("h_{}", base(w)));
    if taken {
        s + "_"
    } else {
        s
    }
}

/// The module function for `--wrt X`: `d_<X>` (`d_lambda_` for λ).
pub fn derivative_name(wrt: &str, all: &[String]) -> String {
    format!("d_{}", ascii_name(wrt, all))
}

/// The whole module.
pub fn module(m: &Module) -> Result<String, NumpyError> {
    let wrt = m.wrt.clone();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\"\"\"Generated by matdiff from:\n\n    {}\n\"\"\"",
        m.source
            .trim()
            .replace('\n', "\n    ")
            .replace('\\', "\\\\")
            .replace("\"\"\"", "'''")
    );
    let mut functions = String::new();
    let shapes: BTreeMap<Symbol, Shape> = m
        .params
        .iter()
        .map(|p| (Symbol::from(p.name.as_str()), p.shape.clone()))
        .collect();
    let f_body = Body::new(m.f, &shapes, m.params, &wrt)?;
    let any_complex = m.params.iter().any(|p| p.complex);
    functions.push_str(&f_body.function(
        "f",
        &Layout::Value(m.f_kind),
        any_complex && m.f_real,
        m.params,
        &wrt,
    ));
    for func in &m.functions {
        let body = Body::new(func.expr, &shapes, m.params, &wrt)?;
        functions.push_str(&body.function(
            &func.name,
            &func.layout,
            func.real_part,
            m.params,
            &wrt,
        ));
    }
    out.push_str("import numpy as np\n");
    for (name, def) in HELPERS {
        if functions.contains(&format!("{name}(")) {
            out.push_str("\n\n");
            out.push_str(def);
        }
    }
    out.push_str(&functions);
    Ok(out)
}

impl Body {
    /// The function `name`, returning a value of `kind`; `real_part` keeps only the real
    /// part of a result computed with complex arithmetic.
    fn function(
        &self,
        name: &str,
        layout: &Layout,
        real_part: bool,
        params: &[Param],
        wrt: &[String],
    ) -> String {
        let mut sig: Vec<String> = params.iter().map(|p| ascii_name(&p.name, wrt)).collect();
        sig.extend(self.generic_params.iter().cloned());
        sig.push("**_".into());
        let mut out = format!("\n\ndef {name}(*, {}):\n", sig.join(", "));
        if !params.is_empty() {
            out.push_str("    _d = {}\n");
        }
        for p in params {
            let py = ascii_name(&p.name, wrt);
            let arg = format!("_arg({py:?}, {py}, {}, _d)", shape_spec(p.kind, &p.shape));
            let conv = match p.kind {
                Kind::Scalar => format!("_scalar({arg})"),
                Kind::Vector => format!("_col({arg})"),
                Kind::Matrix => arg,
            };
            let _ = writeln!(out, "    {py} = {conv}");
        }
        for (sym, py) in &self.dims {
            if let Some(src) = dim_source(*sym, params, wrt) {
                let _ = writeln!(out, "    {py} = {src}");
            }
        }
        for line in &self.lines {
            let _ = writeln!(out, "    {line}");
        }
        let value = if real_part {
            format!("np.real({})", self.result)
        } else {
            self.result.clone()
        };
        let dims = |d: &Dim| {
            let mut parts = vec![];
            if d.coef != 1 || d.syms.is_empty() {
                parts.push(d.coef.to_string());
            }
            for s in &d.syms {
                parts.push(dim_source(*s, params, wrt).unwrap_or_else(|| "1".into()));
            }
            parts.join(" * ")
        };
        let result = match layout {
            Layout::Value(Kind::Scalar) if value.starts_with("_scalar(") => value,
            Layout::Value(Kind::Scalar) => format!("_scalar({value})"),
            Layout::Value(Kind::Vector) => format!("np.reshape({value}, (-1,))"),
            Layout::Value(Kind::Matrix) => {
                let r = &self.result_shape;
                format!(
                    "np.reshape({value}, ({}, {}))",
                    dims(&r.rows),
                    dims(&r.cols)
                )
            }
            Layout::Array(ds) if ds.is_empty() => format!("_scalar({value})"),
            Layout::Array(ds) => {
                let tuple: Vec<String> = ds.iter().map(dims).collect();
                format!("np.reshape({value}, ({},), order='F')", tuple.join(", "))
            }
        };
        let _ = writeln!(out, "    return {result}");
        out
    }
}

/// Where a named dimension can be read: `W1.shape[0]` for the first parameter that has it.
fn dim_source(sym: Symbol, params: &[Param], wrt: &[String]) -> Option<String> {
    params.iter().find_map(|p| {
        let py = ascii_name(&p.name, wrt);
        let single = |d: &Dim| d.coef == 1 && d.syms == [sym];
        if single(&p.shape.rows) {
            Some(format!("{py}.shape[0]"))
        } else if single(&p.shape.cols) {
            Some(format!("{py}.shape[1]"))
        } else {
            None
        }
    })
}

/// The NumPy module of every result (LANGUAGE.md §3): `f`, `d_<X>` and `h_<X>`.
pub fn results_to_numpy(
    source: &str,
    checked: &Checked,
    outcome: &Outcome,
) -> Result<String, NumpyError> {
    let params: Vec<Param> = checked
        .variables
        .iter()
        .map(|v| Param {
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
    let f_dims = contract_dims(checked.kind, &checked.shape);
    let mut functions = vec![];
    for d in &outcome.derivatives {
        let Some(var) = checked.variable(d.wrt.as_str()) else {
            continue;
        };
        let x_dims = contract_dims(var.kind, &var.shape);
        let (name, layout) = match d.kind {
            ResultKind::Gradient => (
                derivative_name(var.name.as_str(), &wrt),
                Layout::Value(var.kind),
            ),
            ResultKind::Derivative => (
                derivative_name(var.name.as_str(), &wrt),
                Layout::Value(checked.kind),
            ),
            ResultKind::Jacobian | ResultKind::VecJacobian => (
                derivative_name(var.name.as_str(), &wrt),
                Layout::Array([f_dims.clone(), x_dims].concat()),
            ),
            ResultKind::Hessian => (
                format!("h_{}", ascii_name(var.name.as_str(), &wrt)),
                Layout::Array([x_dims.clone(), x_dims].concat()),
            ),
            ResultKind::Differential | ResultKind::SecondDifferential => continue,
        };
        functions.push(Function {
            name,
            expr: &d.expr,
            layout,
            real_part: any_complex && !var.complex,
        });
    }
    module(&Module {
        source,
        f: &checked.expr,
        f_kind: checked.kind,
        f_real: outcome.f_real,
        params: &params,
        wrt,
        functions,
    })
}

/// A declared shape as the `spec` of the `_arg` helper: one `(coefficient, names, text)`
/// triple per axis of the NumPy value.
fn shape_spec(kind: Kind, shape: &Shape) -> String {
    let axis = |d: &Dim| {
        let names: Vec<String> = d.syms.iter().map(|s| format!("{:?}", s.as_str())).collect();
        let names = match names.len() {
            1 => format!("({},)", names[0]),
            _ => format!("({})", names.join(", ")),
        };
        let text = d.to_string().replace('·', "*");
        format!("({}, {names}, {text:?})", d.coef)
    };
    let axes: Vec<String> = contract_dims(kind, shape).iter().map(axis).collect();
    match axes.len() {
        0 => "()".into(),
        1 => format!("({},)", axes[0]),
        _ => format!("({})", axes.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{run, Args};
    use clap::Parser;

    /// The module printed for `program` with these flags.
    fn module(program: &str, flags: &[&str]) -> String {
        let mut argv = vec!["matdiff", "--format", "numpy"];
        argv.extend(flags);
        argv.push(program);
        let out = run(&Args::parse_from(argv), program);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    }

    /// The body of function `name` in a module.
    fn function<'a>(module: &'a str, name: &str) -> &'a str {
        let start = module
            .find(&format!("def {name}("))
            .unwrap_or_else(|| panic!("no {name} in\n{module}"));
        let rest = &module[start..];
        let end = rest[1..].find("\ndef ").map_or(rest.len(), |e| e + 1);
        &rest[..end]
    }

    #[test]
    fn trace_of_a_one_by_one_is_the_value() {
        // issue 12 item 5: np.trace of the Python float of aᵀ x raised in f
        let m = module("x : R^n; a : R^n; tr(aᵀ x)^2", &["--wrt", "x"]);
        assert!(!m.contains("np.trace("), "{m}");
        assert!(function(&m, "f").contains("_scalar((a.T @ x))"), "{m}");
    }

    #[test]
    fn logistic_hessian_forms_no_diagonal_matrix() {
        let m = module(
            "X : R^(m×n); w : R^n; y : R^m; sum(log(1 + exp(-y ∘ (X w))))",
            &["--wrt", "w", "--hessian"],
        );
        let h = function(&m, "h_w");
        assert!(!h.contains("np.diag"), "{h}");
        assert!(h.contains("_pdq(X.T, "), "{h}");
    }

    #[test]
    fn factorisation_hessian_forms_no_kronecker_product() {
        let m = module(
            "M : R^(m×n); T : R^(m×n); U : R^(m×r); V : R^(n×r); sum((M ∘ (T - U Vᵀ)).^2)",
            &["--wrt", "U", "--hessian"],
        );
        let h = function(&m, "h_U");
        for dense in ["np.kron", "np.eye", "np.diag", " ** 0.0", " ** 1.0"] {
            assert!(!h.contains(dense), "{dense} in {h}");
        }
        assert!(h.contains("_kron_eye_diag("), "{h}");
        assert!(!function(&m, "d_U").contains(" ** 1.0"), "{m}");
    }

    #[test]
    fn quadratic_gradient_forms_no_matrix_sum() {
        let m = module("x : R^n; A : R^(n×n); xᵀ A x", &["--wrt", "x"]);
        let d = function(&m, "d_x");
        assert!(d.contains("(A @ x)") && d.contains("(A.T @ x)"), "{d}");
        assert!(!d.contains("(A + A.T)") && !d.contains("(A.T + A)"), "{d}");
    }

    #[test]
    fn parameters_are_checked_against_their_declared_shapes() {
        let m = module("x : R^n; A : R^(n×n); xᵀ A x", &["--wrt", "x"]);
        let f = function(&m, "f");
        assert!(
            f.contains(r#"x = _col(_arg("x", x, ((1, ("n",), "n"),), _d))"#),
            "{f}"
        );
        assert!(m.contains("def _arg(name, a, spec, dims):"), "{m}");
    }
}
