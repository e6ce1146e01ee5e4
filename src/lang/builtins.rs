//! The one table of built-in functions: every stage reads [`BUILTINS`].
//!
//! Each row gives a function's name (and other accepted spellings), what it is
//! ([`Builtin`]), how many arguments it takes, a one-line meaning, and, for the
//! element-wise functions, their spellings in the printers and their derivative in
//! words. What a stage does with a function beyond that is an exhaustive `match` on
//! [`Builtin`] (shapes in `check/shape/calls.rs`, nodes in `check/lower.rs`), so the
//! compiler points at every stage a new built-in needs; the derivative rules live in
//! `engine/rules/` as data, and the values of the element-wise functions in
//! `numeric/funcs.rs` (a unit test there checks that every row has one).

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// An element-wise function of [`BUILTINS`] (`exp`, `sigmoid`, …), by its name.
    Elementwise(&'static str),
    /// `tr(A)`, `trace(A)`: the trace of a square matrix.
    Trace,
    /// `det(A)`: the determinant of a square matrix.
    Det,
    /// `logdet(A)`: log |det A| of a square matrix.
    LogDet,
    /// `sum(A)`: the sum of all entries.
    Sum,
    /// `norm(a)`: the 2-norm of a vector, the Frobenius norm of a matrix.
    Norm,
    /// `norm1(a)`: the sum of the absolute values of the entries.
    Norm1,
    /// `mean(A)`: the mean of all entries, sum(A) / N for N entries.
    Mean,
    /// `var(A)`: the variance of all entries, mean((A - mean(A)).^2) (divided by N,
    /// as NumPy's `np.var`).
    Var,
    /// `std(A)`: the standard deviation of all entries, sqrt(var(A)).
    Std,
    /// `logsumexp(x)`: log Σ exp(xᵢ) of a vector.
    LogSumExp,
    /// `inv(A)`: the inverse of a square matrix, as `A⁻¹`.
    Inv,
    /// `diag(x)`: a vector to its diagonal matrix, a matrix to its diagonal (a column).
    Diag,
    /// `vec(A)`: the columns of A stacked into one column.
    Vec,
    /// `softmax(x)`: exp(x) / sum(exp(x)) of a vector.
    Softmax,
    /// `outer(a, b)` = a bᵀ
    Outer,
    /// `conj(A)`: the entry-wise complex conjugate.
    Conj,
    /// `real(A)`: the entry-wise real part.
    Real,
    /// `imag(A)`: the entry-wise imaginary part.
    Imag,
    /// `commutation(A)`: the commutation matrix K with K vec(A) = vec(Aᵀ), (m·n)×(m·n)
    /// for A m×n
    Commutation,
    /// `grad(e, X)`: the gradient of a 1×1 `e` with respect to the variable X, shaped
    /// like X; `grad(E, X, G)`: the gradient of sum(G ∘ E) with respect to X with G held
    /// fixed (G shaped like E), as `--explain` writes the steps of a derivation
    Grad,
}

/// How a printer spells an element-wise built-in: the text of its call with `{}` for the
/// argument, for the function itself and for its first derivative where the printer
/// has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling {
    /// The function: `np.exp({})`, `\exp`.
    pub f: &'static str,
    /// The first derivative, where it has its own spelling (`np.heaviside({}, 0.0)`).
    pub d1: Option<&'static str>,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinFn {
    /// The name as written, and as printed.
    pub name: &'static str,
    /// Other accepted spellings (`trace` for `tr`).
    pub aliases: &'static [&'static str],
    /// What it is.
    pub builtin: Builtin,
    /// The number of arguments (`grad` also takes a third, the weight G).
    pub arity: usize,
    /// What it computes, in one line (for the language reference and diagnostics).
    pub meaning: &'static str,
    /// Element-wise functions: the LaTeX operator (`\exp`, `\operatorname{ReLU}`);
    /// empty for the others, which the LaTeX printer lays out itself (`‖a‖`, `|A|`).
    pub latex: &'static str,
    /// Element-wise functions: the NumPy spelling; `None` for the others, which the
    /// NumPy lowering writes itself.
    pub numpy: Option<Spelling>,
    /// Element-wise functions: the derivative, in words (for `--explain`).
    pub derivative: &'static str,
}

/// A row of an element-wise function.
const fn ew(
    name: &'static str,
    meaning: &'static str,
    latex: &'static str,
    numpy: &'static str,
    numpy_d1: Option<&'static str>,
    derivative: &'static str,
) -> BuiltinFn {
    BuiltinFn {
        name,
        aliases: &[],
        builtin: Builtin::Elementwise(name),
        arity: 1,
        meaning,
        latex,
        numpy: Some(Spelling {
            f: numpy,
            d1: numpy_d1,
        }),
        derivative,
    }
}

/// A row of a function that is not element-wise.
const fn other(
    name: &'static str,
    aliases: &'static [&'static str],
    builtin: Builtin,
    arity: usize,
    meaning: &'static str,
) -> BuiltinFn {
    BuiltinFn {
        name,
        aliases,
        builtin,
        arity,
        meaning,
        latex: "",
        numpy: None,
        derivative: "",
    }
}

/// Every built-in function of the language, element-wise ones first.
pub const BUILTINS: &[BuiltinFn] = &[
    ew("exp", "e^u", r"\exp", "np.exp({})", None, "exp"),
    ew(
        "log",
        "natural logarithm",
        r"\log",
        "np.log({})",
        None,
        "1/u",
    ),
    ew("sin", "sine", r"\sin", "np.sin({})", None, "cos"),
    ew("cos", "cosine", r"\cos", "np.cos({})", None, "-sin"),
    ew("tan", "tangent", r"\tan", "np.tan({})", None, "1 + tan^2"),
    ew(
        "tanh",
        "hyperbolic tangent",
        r"\tanh",
        "np.tanh({})",
        None,
        "1 - tanh^2",
    ),
    ew(
        "sqrt",
        "square root",
        r"\operatorname{sqrt}",
        "np.sqrt({})",
        None,
        "1/(2 sqrt)",
    ),
    ew(
        "abs",
        "absolute value (modulus)",
        r"\operatorname{abs}",
        "np.abs({})",
        None,
        "sign",
    ),
    ew(
        "sign",
        "sign (0 at 0)",
        r"\operatorname{sign}",
        "np.sign({})",
        None,
        "0",
    ),
    ew(
        "sigmoid",
        "1 / (1 + e^-u)",
        r"\operatorname{sigmoid}",
        "_sigmoid({})",
        None,
        "sigmoid (1 - sigmoid)",
    ),
    ew(
        "relu",
        "max(u, 0)",
        r"\operatorname{ReLU}",
        "np.maximum({}, 0.0)",
        Some("np.heaviside({}, 0.0)"),
        "the unit step",
    ),
    ew(
        "softplus",
        "log(1 + e^u)",
        r"\operatorname{softplus}",
        "np.logaddexp(0.0, {})",
        None,
        "sigmoid",
    ),
    other(
        "tr",
        &["trace"],
        Builtin::Trace,
        1,
        "trace of a square matrix",
    ),
    other(
        "det",
        &[],
        Builtin::Det,
        1,
        "determinant of a square matrix",
    ),
    other(
        "logdet",
        &[],
        Builtin::LogDet,
        1,
        "log |det A| of a square matrix",
    ),
    other("sum", &[], Builtin::Sum, 1, "sum of all entries"),
    other(
        "norm",
        &[],
        Builtin::Norm,
        1,
        "2-norm of a vector, Frobenius norm of a matrix",
    ),
    other(
        "norm1",
        &[],
        Builtin::Norm1,
        1,
        "sum of the absolute values",
    ),
    other(
        "mean",
        &[],
        Builtin::Mean,
        1,
        "mean of all entries: sum(A) / N",
    ),
    other(
        "var",
        &[],
        Builtin::Var,
        1,
        "variance of all entries: mean((A - mean(A)).^2)",
    ),
    other(
        "std",
        &[],
        Builtin::Std,
        1,
        "standard deviation of all entries: sqrt(var(A))",
    ),
    other(
        "logsumexp",
        &[],
        Builtin::LogSumExp,
        1,
        "log Σ exp(xᵢ) of a vector",
    ),
    other(
        "inv",
        &[],
        Builtin::Inv,
        1,
        "inverse of a square matrix (A⁻¹)",
    ),
    other(
        "diag",
        &[],
        Builtin::Diag,
        1,
        "vector → diagonal matrix, square matrix → its diagonal",
    ),
    other("vec", &[], Builtin::Vec, 1, "the columns stacked into one"),
    other(
        "softmax",
        &[],
        Builtin::Softmax,
        1,
        "exp(x) / sum(exp(x)) of a vector",
    ),
    other("outer", &[], Builtin::Outer, 2, "outer(a, b) = a bᵀ"),
    other(
        "conj",
        &[],
        Builtin::Conj,
        1,
        "entry-wise complex conjugate",
    ),
    other("real", &[], Builtin::Real, 1, "entry-wise real part"),
    other("imag", &[], Builtin::Imag, 1, "entry-wise imaginary part"),
    other(
        "commutation",
        &[],
        Builtin::Commutation,
        1,
        "the commutation matrix K of A: K vec(A) = vec(Aᵀ); `commutation(m, n)` by sizes",
    ),
    other(
        "grad",
        &[],
        Builtin::Grad,
        2,
        "grad(e, X): the gradient of e wrt X; grad(E, X, G): that of sum(G ∘ E), G fixed",
    ),
];

/// The row of the built-in called `name` (or spelt so, `trace`), if any.
pub fn lookup(name: &str) -> Option<&'static BuiltinFn> {
    BUILTINS
        .iter()
        .find(|b| b.name == name || b.aliases.contains(&name))
}

/// The row of the built-in element-wise function called `name`, if any.
pub fn elementwise(name: &str) -> Option<&'static BuiltinFn> {
    lookup(name).filter(|b| matches!(b.builtin, Builtin::Elementwise(_)))
}

/// Every name (and alias) a built-in answers to, for suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .flat_map(|b| std::iter::once(b.name).chain(b.aliases.iter().copied()))
}

impl Builtin {
    /// The built-in function called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        lookup(name).map(|b| b.builtin)
    }

    /// Its row of [`BUILTINS`].
    pub fn row(self) -> &'static BuiltinFn {
        BUILTINS
            .iter()
            .find(|b| b.builtin == self)
            .expect("every built-in has a row")
    }

    /// Its name, as printed.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// How many arguments it takes (`grad` also takes a third, the weight G).
    pub fn arity(self) -> usize {
        self.row().arity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Math;
    use egg::{FromOp, Id};

    #[test]
    fn names_are_unique_and_rows_are_consistent() {
        let names: Vec<&str> = all_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a name is in two rows");
        for b in BUILTINS {
            assert_eq!(Builtin::from_name(b.name), Some(b.builtin), "{}", b.name);
            assert_eq!(b.builtin.name(), b.name);
            let elementwise = matches!(b.builtin, Builtin::Elementwise(n) if n == b.name);
            assert_eq!(elementwise, b.numpy.is_some(), "{}", b.name);
            assert_eq!(elementwise, !b.latex.is_empty(), "{}", b.name);
            assert_eq!(elementwise, !b.derivative.is_empty(), "{}", b.name);
            if let Some(s) = b.numpy {
                assert!(s.f.contains("{}") && s.d1.is_none_or(|d| d.contains("{}")));
            }
        }
    }

    #[test]
    fn functions_with_a_node_are_spelt_as_the_node() {
        // Those lowered to a node of their own are written in the e-graph language
        // with the table's name (`outer` is lowered to a bᵀ, `grad` to a node of its
        // own arity, the statistics to sums; element-wise ones are `ew` nodes with a
        // function leaf).
        for b in BUILTINS {
            let children = vec![Id::from(0usize); b.arity];
            let node = Math::from_op(b.name, children);
            match b.builtin {
                Builtin::Elementwise(_)
                | Builtin::Outer
                | Builtin::Grad
                | Builtin::Mean
                | Builtin::Var
                | Builtin::Std => {}
                _ => assert!(node.is_ok(), "{} has no node", b.name),
            }
        }
    }
}
