//! The NumPy printer: a Python module defining `f` and `d_<X>` (LANGUAGE.md §3).
//!
//! Inside a function every vector is a column and every matrix 2-D, so each node's
//! shape (known from the analysis) decides between `@` and `*`; parameters and results
//! are converted at the boundary (vectors 1-D, scalars floats).

use crate::check::Checked;
use crate::engine::{Outcome, ResultKind};
use crate::lang::dims::{Dim, Kind, Shape};
use crate::lang::{node_shape, FillKind, Math};
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A variable as the module sees it.
#[derive(Debug, Clone)]
pub struct Param {
    /// The variable's name as written; the module spells it in ASCII (see [`ascii_name`]).
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// Whether NumPy holds it as a float, a 1-D or a 2-D array.
    pub kind: Kind,
    /// Declared complex (`C`).
    pub complex: bool,
}

/// What to print: the expression, its derivatives and the variables.
#[derive(Debug, Clone)]
pub struct Module<'a> {
    /// The program, shown in the module's docstring.
    pub source: &'a str,
    /// The expression f, printed as the body of `f`.
    pub f: &'a RecExpr<Math>,
    /// Whether `f` returns a float, a 1-D or a 2-D array.
    pub f_kind: Kind,
    /// f is real-valued (complex arithmetic inside is then cut to its real part).
    pub f_real: bool,
    /// The variables, in order: the parameters of every function of the module.
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
    /// The derivative's expression.
    pub expr: &'a RecExpr<Math>,
    /// How its 2-D result is returned.
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

/// Why an expression cannot be printed as NumPy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumpyError {
    /// A node with no NumPy spelling (an engine helper, or an unknown function).
    #[error("cannot write `{0}` in NumPy")]
    Unsupported(String),
    /// A node whose shape the analysis cannot give: a bug, never the user's.
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

/// Helper functions a module may need; each is included only where it is used.
const HELPERS: &[(&str, &str)] = &[
    ("_col", "def _col(a):\n    \"\"\"A vector parameter as a column.\"\"\"\n    return np.reshape(np.asarray(a), (-1, 1))\n"),
    ("_scalar", "def _scalar(a):\n    \"\"\"A 1x1 value as a Python number.\"\"\"\n    return np.asarray(a).reshape(()).item()\n"),
    ("_flat", "def _flat(a):\n    \"\"\"A column as the 1-D array a generic function receives.\"\"\"\n    return np.reshape(a, (-1,))\n"),
    ("_logsumexp", "def _logsumexp(a):\n    m = np.max(a)\n    return float(m + np.log(np.sum(np.exp(a - m))))\n"),
    ("_softmax", "def _softmax(a):\n    e = np.exp(a - np.max(a))\n    return e / np.sum(e)\n"),
    ("_commutation", "def _commutation(m, n):\n    \"\"\"K with K @ vec(A) == vec(A.T) for an m x n A.\"\"\"\n    k = np.zeros((m * n, m * n))\n    for i in range(m):\n        for j in range(n):\n            k[i * n + j, j * m + i] = 1.0\n    return k\n"),
    ("_sigmoid", "def _sigmoid(a):\n    return 1.0 / (1.0 + np.exp(-a))\n"),
];

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

/// The statements and result of one function.
struct Body {
    lines: Vec<String>,
    result: String,
    result_shape: Shape,
    generic_params: BTreeSet<String>,
    dims: BTreeMap<Symbol, String>,
}

impl Body {
    fn new(
        expr: &RecExpr<Math>,
        var_shapes: &BTreeMap<Symbol, Shape>,
        params: &[Param],
        wrt: &[String],
    ) -> Result<Body, NumpyError> {
        let nodes = expr.as_ref();
        let mut shapes: Vec<Shape> = Vec::with_capacity(nodes.len());
        for node in nodes {
            let s = node_shape(node, &|c| shapes.get(usize::from(c)).cloned(), &|v| {
                var_shapes.get(&v).cloned()
            })
            .map_err(NumpyError::Shape)?;
            // Function leaves have no shape; a 1×1 placeholder keeps indices aligned.
            shapes.push(s.unwrap_or_else(Shape::scalar));
        }
        let mut uses = vec![0usize; nodes.len()];
        for node in nodes {
            for c in node.children() {
                uses[usize::from(*c)] += 1;
            }
        }
        let mut body = Body {
            lines: vec![],
            result: String::new(),
            result_shape: shapes.last().cloned().unwrap_or_else(Shape::scalar),
            generic_params: BTreeSet::new(),
            dims: BTreeMap::new(),
        };
        let names: BTreeMap<Symbol, String> = params
            .iter()
            .map(|p| (Symbol::from(p.name.as_str()), ascii_name(&p.name, wrt)))
            .collect();
        let mut code: Vec<String> = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let text = body.node(node, &code, &shapes, &names)?;
            let shared = uses[i] >= 2 && !node.is_leaf() && i + 1 < nodes.len();
            if shared {
                let tmp = format!("_t{i}");
                body.lines.push(format!("{tmp} = {text}"));
                code.push(tmp);
            } else {
                code.push(text);
            }
        }
        body.result = code.pop().unwrap_or_else(|| "0.0".into());
        Ok(body)
    }

    /// Python for one node, given its children's code.
    fn node(
        &mut self,
        node: &Math,
        code: &[String],
        shapes: &[Shape],
        names: &BTreeMap<Symbol, String>,
    ) -> Result<String, NumpyError> {
        use Math::*;
        let c = |id: &Id| code[usize::from(*id)].clone();
        let sh = |id: &Id| &shapes[usize::from(*id)];
        let scalar = |id: &Id| shapes[usize::from(*id)].is_scalar();
        Ok(match node {
            Add([a, b]) => format!("({} + {})", c(a), c(b)),
            Sub([a, b]) => format!("({} - {})", c(a), c(b)),
            Neg([a]) => format!("(-{})", c(a)),
            Mul([a, b]) => {
                if sh(a).cols == sh(b).rows && !(scalar(a) || scalar(b)) {
                    if sh(a).rows.is_one() && sh(b).cols.is_one() {
                        format!("_scalar({} @ {})", c(a), c(b))
                    } else {
                        format!("({} @ {})", c(a), c(b))
                    }
                } else {
                    format!("({} * {})", c(a), c(b))
                }
            }
            Div([a, b]) | EDiv([a, b]) => format!("({} / {})", c(a), c(b)),
            Hadamard([a, b]) => format!("({} * {})", c(a), c(b)),
            Kron([a, b]) => {
                if scalar(a) && scalar(b) {
                    format!("({} * {})", c(a), c(b))
                } else {
                    format!("np.kron({}, {})", c(a), c(b))
                }
            }
            Transpose([a]) => {
                if scalar(a) {
                    c(a)
                } else {
                    format!("{}.T", c(a))
                }
            }
            Adjoint([a]) => {
                if scalar(a) {
                    format!("np.conj({})", c(a))
                } else {
                    format!("np.conj({}).T", c(a))
                }
            }
            Inv([a]) => {
                if scalar(a) {
                    format!("(1.0 / {})", c(a))
                } else {
                    format!("np.linalg.inv({})", c(a))
                }
            }
            Pow([a, k]) => {
                if scalar(a) {
                    format!("({} ** {})", c(a), c(k))
                } else {
                    let k = match &self_nodes_num(code, k) {
                        Some(n) => n.to_string(),
                        None => format!("int({})", c(k)),
                    };
                    format!("np.linalg.matrix_power({}, {k})", c(a))
                }
            }
            EPow([a, k]) => format!("({} ** {})", c(a), c(k)),
            Elementwise([f, a]) => self.elementwise(code, f, a)?,
            Apply([f, a]) => {
                let name = self.generic(code, f, "")?;
                format!("{name}({})", flat(&c(a), sh(a)))
            }
            Grad([f, a]) => {
                let name = self.generic(code, f, "_grad")?;
                let u = self.named(c(a));
                format!("np.reshape({name}({}), np.shape({u}))", flat(&u, sh(a)))
            }
            Trace([a]) => format!("np.trace({})", c(a)),
            Det([a]) => format!("np.linalg.det({})", c(a)),
            LogDet([a]) => format!("np.linalg.slogdet({})[1]", c(a)),
            Sum([a]) => format!("np.sum({})", c(a)),
            Norm([a]) => format!("np.linalg.norm({})", c(a)),
            Norm1([a]) => format!("np.sum(np.abs({}))", c(a)),
            LogSumExp([a]) => format!("_logsumexp({})", c(a)),
            Softmax([a]) => format!("_softmax({})", c(a)),
            Diag([a]) => {
                if sh(a).cols.is_one() {
                    format!("np.diag({}[:, 0])", c(a))
                } else {
                    format!("np.diag({}).reshape(-1, 1)", c(a))
                }
            }
            Vec([a]) => format!("np.reshape({}, (-1, 1), order='F')", c(a)),
            Conj([a]) => format!("np.conj({})", c(a)),
            Real([a]) => format!("np.real({})", c(a)),
            Imag([a]) => format!("np.imag({})", c(a)),
            Fill(fill) if fill.kind == FillKind::Commutation => {
                let m = self.dim(&fill.shape.rows);
                let n = self.dim(&fill.shape.cols);
                format!("_commutation({m}, {n})")
            }
            Fill(fill) => {
                let r = self.dim(&fill.shape.rows);
                let cc = self.dim(&fill.shape.cols);
                match (fill.kind, fill.shape.is_scalar()) {
                    (FillKind::Zeros, true) => "0.0".into(),
                    (_, true) => "1.0".into(),
                    (FillKind::Zeros, false) => format!("np.zeros(({r}, {cc}))"),
                    (FillKind::Ones, false) => format!("np.ones(({r}, {cc}))"),
                    (_, false) => format!("np.eye({r})"),
                }
            }
            Num(n) => {
                let v = n.value();
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    format!("{:.1}", v)
                } else {
                    format!("{v:e}")
                }
            }
            Func(f) => f.to_string(),
            Var(v) => names.get(v).cloned().unwrap_or_else(|| v.to_string()),
            Commutation([a]) => format!("_commutation(*np.shape({}))", c(a)),
            Hess([f, a]) => {
                let name = self.generic(code, f, "_hess")?;
                let u = self.named(c(a));
                format!(
                    "np.reshape({name}({}), (np.size({u}), np.size({u})))",
                    flat(&u, sh(a))
                )
            }
            Vjp(_) | Jvp(_) | Coef(_) | KronPerm(_) | Unbroadcast(_) | ZerosLike(_)
            | OnesLike(_) | EyeLike(_) | Derive(_) => {
                return Err(NumpyError::Unsupported(node.to_string()))
            }
        })
    }

    fn elementwise(&mut self, code: &[String], f: &Id, a: &Id) -> Result<String, NumpyError> {
        let arg = code[usize::from(*a)].clone();
        let leaf = code[usize::from(*f)].clone();
        let func: crate::lang::Func = leaf
            .parse()
            .map_err(|_| NumpyError::Unsupported(leaf.clone()))?;
        if !func.is_builtin() {
            let suffix = match func.order {
                0 => "".to_string(),
                1 => "_prime".to_string(),
                k => format!("_prime{k}"),
            };
            let name = format!("{}{suffix}", spell_ascii(func.name.as_str()));
            self.generic_params.insert(name.clone());
            return Ok(format!("{name}({arg})"));
        }
        let np = match (func.name.as_str(), func.order) {
            ("exp", 0) => "np.exp",
            ("log", 0) => "np.log",
            ("sin", 0) => "np.sin",
            ("cos", 0) => "np.cos",
            ("tan", 0) => "np.tan",
            ("tanh", 0) => "np.tanh",
            ("sqrt", 0) => "np.sqrt",
            ("abs", 0) => "np.abs",
            ("sign", 0) => "np.sign",
            ("sigmoid", 0) => "_sigmoid",
            ("softplus", 0) => return Ok(format!("np.logaddexp(0.0, {arg})")),
            ("relu", 0) => return Ok(format!("np.maximum({arg}, 0.0)")),
            ("relu", 1) => return Ok(format!("np.heaviside({arg}, 0.0)")),
            _ => return Err(NumpyError::Unsupported(func.to_string())),
        };
        Ok(format!("{np}({arg})"))
    }

    /// Code that can be repeated: a name, or a new temporary holding `code`.
    fn named(&mut self, code: String) -> String {
        if code.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return code;
        }
        let tmp = format!("_u{}", self.lines.len());
        self.lines.push(format!("{tmp} = {code}"));
        tmp
    }

    /// The parameter name of a generic scalar-valued function (`L`, `L_grad`).
    fn generic(&mut self, code: &[String], f: &Id, suffix: &str) -> Result<String, NumpyError> {
        let leaf = code[usize::from(*f)].clone();
        let func: crate::lang::Func = leaf
            .parse()
            .map_err(|_| NumpyError::Unsupported(leaf.clone()))?;
        let name = format!("{}{suffix}", spell_ascii(func.name.as_str()));
        self.generic_params.insert(name.clone());
        Ok(name)
    }

    /// A dimension as Python: a product of sizes read off the parameters.
    fn dim(&mut self, d: &Dim) -> String {
        let mut parts = vec![];
        if d.coef != 1 || d.syms.is_empty() {
            parts.push(d.coef.to_string());
        }
        for s in &d.syms {
            let py = format!("_{}", spell_ascii(s.as_str()));
            self.dims.insert(*s, py.clone());
            parts.push(py);
        }
        parts.join(" * ")
    }

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
        for p in params {
            let py = ascii_name(&p.name, wrt);
            let conv = match p.kind {
                Kind::Scalar => format!("_scalar({py})"),
                Kind::Vector => format!("_col({py})"),
                Kind::Matrix => format!("np.asarray({py})"),
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

/// A column value as the 1-D array a generic function receives.
fn flat(code: &str, shape: &Shape) -> String {
    if shape.cols.is_one() && !shape.is_scalar() {
        format!("_flat({code})")
    } else {
        code.to_string()
    }
}

/// An integer literal's code (`3.0`) as a Python int (`3`).
fn self_nodes_num(code: &[String], k: &Id) -> Option<i64> {
    let v: f64 = code[usize::from(*k)].parse().ok()?;
    (v.fract() == 0.0 && v.abs() < 1e9).then_some(v as i64)
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
