//! The evaluator: the value of every non-helper node of [`Math`] on concrete matrices,
//! real ([`Mat`]) or complex ([`CMat`]), and of `vjp` (the language's `grad`) by finite
//! differences.

use super::entry::Entry;
use crate::lang::dims::Dim;
use crate::lang::{FillKind, Func as FuncLeaf, Math};
use egg::{Id, Language, RecExpr, Symbol};
use nalgebra::{Complex, DMatrix, Scalar};
use std::collections::BTreeMap;

/// A real matrix; scalars are 1×1.
pub type Mat = DMatrix<f64>;

/// A complex number.
pub type C64 = Complex<f64>;

/// A complex matrix; scalars are 1×1.
pub type CMat = DMatrix<C64>;

/// The most entries a value may have (guards against huge `⊗`, fills and products).
pub const MAX_ENTRIES: usize = 1 << 24;

/// A value counts as real when the Frobenius norm of its imaginary part is at most this
/// times max(1, its norm).
pub const REAL_TOLERANCE: f64 = 1e-9;

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A helper operator (`jvp`, `coef`, `unb`, `zeros-like`, `ones-like`, `eye-like`,
    /// `d`).
    #[error("the helper operator `{0}` has no value")]
    Helper(String),
    /// Operand shapes that do not fit.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A variable missing from the environment.
    #[error("no value for the variable `{0}`")]
    UnknownVar(Symbol),
    /// A dimension missing from the environment.
    #[error("no size for the dimension `{0}`")]
    UnknownDim(String),
    /// A function leaf that cannot be evaluated here (misplaced, unknown, order too high).
    #[error("{0}")]
    Function(String),
    /// An argument outside an operation's domain, whatever the point (e.g. `A^0.5`).
    #[error("{0}")]
    Domain(String),
    /// A singular matrix where an inverse is needed (depends on the point).
    #[error("singular matrix in `{0}`")]
    Singular(String),
    /// A value with more than [`MAX_ENTRIES`] entries.
    #[error("a {0}×{1} value is too large to evaluate")]
    TooLarge(usize, usize),
    /// A `RecExpr` that is empty or whose children do not come before their parents.
    #[error("malformed expression: {0}")]
    Malformed(String),
    /// A complex value where a real one is needed (see [`REAL_TOLERANCE`]).
    #[error("{0} is not real-valued")]
    NotReal(String),
}

impl EvalError {
    /// Whether another point might not have this error (a singular matrix), as opposed
    /// to a mistake in the expression or the environment.
    pub fn depends_on_point(&self) -> bool {
        matches!(self, EvalError::Singular(_))
    }
}

/// Values of the variables and sizes of the symbolic dimensions: real values by default,
/// complex ones in a [`CEnv`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env<T = f64> {
    /// The value of each variable (a scalar is 1×1, a vector a column).
    pub vars: BTreeMap<Symbol, DMatrix<T>>,
    /// The concrete size of each symbolic dimension.
    pub dims: BTreeMap<Symbol, usize>,
}

/// An environment with complex values (real variables have zero imaginary parts).
pub type CEnv = Env<C64>;

impl<T> Env<T> {
    /// The concrete value of a size.
    pub fn size(&self, dim: &Dim) -> Result<usize, EvalError> {
        dim.eval(&|s| self.dims.get(&s).copied())
            .ok_or_else(|| EvalError::UnknownDim(dim.to_string()))
    }
}

impl Env {
    /// The same values as complex matrices.
    pub fn to_complex(&self) -> CEnv {
        Env {
            vars: self.vars.iter().map(|(k, v)| (*k, to_complex(v))).collect(),
            dims: self.dims.clone(),
        }
    }
}

/// A real matrix as a complex one.
pub fn to_complex(a: &Mat) -> CMat {
    a.map(|x| C64::new(x, 0.0))
}

/// The real parts.
pub fn real_part(a: &CMat) -> Mat {
    a.map(|z| z.re)
}

/// The imaginary parts.
pub fn imag_part(a: &CMat) -> Mat {
    a.map(|z| z.im)
}

/// ‖Im a‖ / max(1, ‖a‖) (Frobenius norms); NaN entries give NaN.
pub fn imag_ratio(a: &CMat) -> f64 {
    imag_part(a).norm() / a.norm().max(1.0)
}

/// The real part of `a` when its imaginary part is negligible (see [`REAL_TOLERANCE`]),
/// else [`EvalError::NotReal`] naming `what`.
pub fn as_real(a: &CMat, what: &str) -> Result<Mat, EvalError> {
    let ratio = imag_ratio(a);
    if ratio <= REAL_TOLERANCE {
        Ok(real_part(a))
    } else {
        Err(EvalError::NotReal(format!(
            "{what} (relative imaginary part {ratio:.1e})"
        )))
    }
}

/// The value of the expression (its last node), on real matrices (`Env`, giving a
/// [`Mat`]) or complex ones (`CEnv`, giving a [`CMat`]). Only nodes the root depends
/// on are evaluated.
pub fn eval<T: Entry>(expr: &RecExpr<Math>, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
    let nodes = expr.as_ref();
    let needed = reachable(nodes)?;
    let mut values = eval_nodes(nodes, env, &needed)?;
    values
        .pop()
        .flatten()
        .ok_or_else(|| EvalError::Function("the expression is a function, not a value".into()))
}

/// [`eval`] on complex matrices with a real result: [`EvalError::NotReal`] when the
/// imaginary part is not negligible.
pub fn eval_real(expr: &RecExpr<Math>, env: &CEnv) -> Result<Mat, EvalError> {
    as_real(&eval(expr, env)?, "the value")
}

/// The value of every node, indexed by node id; `None` for function leaves.
pub fn eval_node_values<T: Entry>(
    expr: &RecExpr<Math>,
    env: &Env<T>,
) -> Result<Vec<Option<DMatrix<T>>>, EvalError> {
    let nodes = expr.as_ref();
    check_order(nodes)?;
    eval_nodes(nodes, env, &vec![true; nodes.len()])
}

/// Which nodes the root depends on; also checks that children precede parents.
fn reachable(nodes: &[Math]) -> Result<Vec<bool>, EvalError> {
    let mut needed = vec![false; nodes.len()];
    match needed.last_mut() {
        Some(root) => *root = true,
        None => return Err(EvalError::Malformed("empty expression".into())),
    }
    for i in (0..nodes.len()).rev() {
        if needed[i] {
            for &c in nodes[i].children() {
                let c = usize::from(c);
                if c >= i {
                    return Err(misordered(i, c));
                }
                needed[c] = true;
            }
        }
    }
    Ok(needed)
}

fn check_order(nodes: &[Math]) -> Result<(), EvalError> {
    if nodes.is_empty() {
        return Err(EvalError::Malformed("empty expression".into()));
    }
    for (i, node) in nodes.iter().enumerate() {
        if let Some(&c) = node.children().iter().find(|&&c| usize::from(c) >= i) {
            return Err(misordered(i, usize::from(c)));
        }
    }
    Ok(())
}

fn misordered(i: usize, c: usize) -> EvalError {
    EvalError::Malformed(format!(
        "node {i} has the child {c}, which does not precede it"
    ))
}

/// Evaluates the marked nodes in order (children are known to precede parents).
#[allow(clippy::type_complexity)]
fn eval_nodes<T: Entry>(
    nodes: &[Math],
    env: &Env<T>,
    needed: &[bool],
) -> Result<Vec<Option<DMatrix<T>>>, EvalError> {
    let mut values: Vec<Option<DMatrix<T>>> = Vec::with_capacity(nodes.len());
    for (node, &need) in nodes.iter().zip(needed) {
        let value = if need {
            eval_node(node, nodes, &values, env)?
        } else {
            None
        };
        values.push(value);
    }
    Ok(values)
}

fn eval_node<T: Entry>(
    node: &Math,
    nodes: &[Math],
    values: &[Option<DMatrix<T>>],
    env: &Env<T>,
) -> Result<Option<DMatrix<T>>, EvalError> {
    use Math::*;
    let v = |id: &Id| -> Result<&DMatrix<T>, EvalError> {
        values
            .get(usize::from(*id))
            .and_then(Option::as_ref)
            .ok_or_else(|| EvalError::Function(format!("a function used as a value in `{node}`")))
    };
    let func = |id: &Id| -> Result<FuncLeaf, EvalError> {
        match nodes.get(usize::from(*id)) {
            Some(Func(f)) => Ok(*f),
            Some(Derive(_)) => Err(EvalError::Helper("d".into())),
            _ => Err(EvalError::Function(format!(
                "`{node}` needs a function leaf"
            ))),
        }
    };
    let op = node.to_string();
    let value = match node {
        Add([a, b]) => broadcast(v(a)?, v(b)?, |x, y| x + y, &op)?,
        Sub([a, b]) => broadcast(v(a)?, v(b)?, |x, y| x - y, &op)?,
        Hadamard([a, b]) => broadcast(v(a)?, v(b)?, |x, y| x * y, &op)?,
        EDiv([a, b]) => broadcast(v(a)?, v(b)?, |x, y| x / y, &op)?,
        Neg([a]) => -v(a)?,
        Mul([a, b]) => product(v(a)?, v(b)?)?,
        Div([a, b]) => {
            let s = scalar(v(b)?, "the divisor of `/`")?;
            v(a)?.map(|x| x / s)
        }
        Kron([a, b]) => kron(v(a)?, v(b)?)?,
        Transpose([a]) => v(a)?.transpose(),
        Adjoint([a]) => v(a)?.adjoint(),
        Inv([a]) => inverse(v(a)?, &op)?,
        Pow([a, k]) => power(v(a)?, scalar(v(k)?, "the exponent of `pow`")?)?,
        EPow([a, p]) => {
            let p = scalar(v(p)?, "the exponent of `epow`")?;
            v(a)?.map(|x| x.power(p))
        }
        Elementwise([f, a]) => T::map_elementwise(func(f)?, v(a)?)?,
        Apply([f, a]) => one(T::scalar_value(func(f)?, v(a)?)?),
        Grad([f, a]) => T::scalar_grad(func(f)?, v(a)?)?,
        Trace([a]) => one(square(v(a)?, &op)?.trace()),
        Det([a]) => one(determinant(square(v(a)?, &op)?)),
        LogDet([a]) => one(T::from_real(log_abs_det(square(v(a)?, &op)?))),
        Sum([a]) => one(v(a)?.sum()),
        Norm([a]) => one(T::from_real(v(a)?.norm())),
        Norm1([a]) => one(T::from_real(v(a)?.iter().map(|x| x.modulus()).sum())),
        LogSumExp([a]) => one(T::logsumexp(v(a)?)),
        Diag([a]) => diag(v(a)?)?,
        Vec([a]) => vectorize(v(a)?),
        Softmax([a]) => T::softmax(v(a)?),
        Conj([a]) => v(a)?.map(|x| x.conjugate()),
        Real([a]) => v(a)?.map(|x| T::from_real(x.real())),
        Imag([a]) => v(a)?.map(|x| T::from_real(x.imaginary())),
        Vjp([g, e, x]) => vjp(v(g)?, *e, *x, nodes, env, &op)?,
        Jvp(_) | Coef(_) | Unbroadcast(_) | Derive(_) => return Err(EvalError::Helper(op)),
        ZerosLike(_) | OnesLike(_) | EyeLike(_) | NCols(_) => return Err(EvalError::Helper(op)),
        KronPerm([a, b]) => {
            // I_n ⊗ K[q,m] ⊗ I_p for A m×n and B p×q.
            let (a, b) = (v(a)?, v(b)?);
            let k = commutation::<T>(b.ncols(), a.nrows())?;
            let left = DMatrix::<T>::identity(a.ncols(), a.ncols()).kronecker(&k);
            check_size(
                left.nrows().checked_mul(b.nrows()),
                left.ncols().checked_mul(b.nrows()),
            )?;
            left.kronecker(&DMatrix::<T>::identity(b.nrows(), b.nrows()))
        }
        Commutation([a]) => {
            let a = v(a)?;
            commutation(a.nrows(), a.ncols())?
        }
        Hess([f, a]) => {
            let u = v(a)?;
            if u.ncols() != 1 {
                return Err(EvalError::Shape(format!(
                    "`{op}` at a {} matrix (the Hessian of a generic function is taken at a \
                     column vector)",
                    shape_of(u)
                )));
            }
            check_size(Some(u.nrows()), Some(u.nrows()))?;
            T::scalar_hess(func(f)?, u)?
        }
        Fill(f) => {
            let (r, c) = (env.size(&f.shape.rows)?, env.size(&f.shape.cols)?);
            check_size(Some(r), Some(c))?;
            match f.kind {
                FillKind::Zeros => DMatrix::zeros(r, c),
                FillKind::Ones => DMatrix::from_element(r, c, T::one()),
                FillKind::Identity => DMatrix::identity(r, c),
                FillKind::Commutation => commutation(r, c)?,
                FillKind::Count => one(T::from_real((r * c) as f64)),
            }
        }
        Num(n) => one(T::from_real(n.value())),
        ImagUnit => {
            one(T::imaginary_unit()
                .ok_or_else(|| EvalError::NotReal("the imaginary unit ⅈ".into()))?)
        }
        Func(_) => return Ok(None),
        Var(s) => env.vars.get(s).cloned().ok_or(EvalError::UnknownVar(*s))?,
    };
    Ok(Some(value))
}

/// `(vjp G E X)`, written `grad(E, X, G)`: the gradient with respect to the variable X
/// of ⟨G, E⟩ = sum(G ∘ E) (for complex values Re sum(conj(G) ∘ E)) with G held at its
/// value here, by 4th-order central differences of E ([`fd_real_gradient`]). G is shaped
/// like E, or 1×1.
///
/// [`fd_real_gradient`]: super::fd::fd_real_gradient
fn vjp<T: Entry>(
    g: &DMatrix<T>,
    e: Id,
    x: Id,
    nodes: &[Math],
    env: &Env<T>,
    op: &str,
) -> Result<DMatrix<T>, EvalError> {
    let var = match nodes.get(usize::from(x)) {
        Some(Math::Var(var)) => *var,
        _ => {
            return Err(EvalError::Shape(format!(
                "`{op}` differentiates with respect to something that is not a variable"
            )))
        }
    };
    let inner: RecExpr<Math> =
        nodes[usize::from(e)].build_recexpr(|c| nodes[usize::from(c)].clone());
    let pairing = |at: &Env<T>| -> Result<DMatrix<T>, EvalError> {
        let value = eval(&inner, at)?;
        let weight = |k: usize| if is_scalar(g) { g[0] } else { g[k] };
        if !is_scalar(g) && g.shape() != value.shape() {
            return Err(EvalError::Shape(format!(
                "`{op}` weights a {} value by a {} one",
                shape_of(&value),
                shape_of(g)
            )));
        }
        let sum: f64 = value
            .iter()
            .enumerate()
            .map(|(k, b)| (weight(k).conjugate() * *b).real())
            .sum();
        Ok(one(T::from_real(sum)))
    };
    super::fd::fd_real_gradient(&pairing, env, var)
}

fn one<T: Scalar>(x: T) -> DMatrix<T> {
    DMatrix::from_element(1, 1, x)
}

fn is_scalar<T: Scalar>(a: &DMatrix<T>) -> bool {
    a.nrows() == 1 && a.ncols() == 1
}

fn shape_of<T: Scalar>(a: &DMatrix<T>) -> String {
    format!("{}×{}", a.nrows(), a.ncols())
}

/// The entry of a 1×1 matrix.
fn scalar<T: Scalar + Copy>(a: &DMatrix<T>, what: &str) -> Result<T, EvalError> {
    if is_scalar(a) {
        Ok(a[(0, 0)])
    } else {
        Err(EvalError::Shape(format!(
            "{what} is {}, not a scalar",
            shape_of(a)
        )))
    }
}

fn square<'a, T: Scalar>(a: &'a DMatrix<T>, op: &str) -> Result<&'a DMatrix<T>, EvalError> {
    if a.is_square() {
        Ok(a)
    } else {
        Err(EvalError::Shape(format!(
            "`{op}` of a non-square {} matrix",
            shape_of(a)
        )))
    }
}

fn check_size(rows: Option<usize>, cols: Option<usize>) -> Result<(usize, usize), EvalError> {
    match (rows, cols) {
        (Some(r), Some(c)) if r.checked_mul(c).is_some_and(|n| n <= MAX_ENTRIES) => Ok((r, c)),
        (r, c) => Err(EvalError::TooLarge(
            r.unwrap_or(usize::MAX),
            c.unwrap_or(usize::MAX),
        )),
    }
}

/// `op` entry by entry, a 1×1 operand standing for every entry.
fn broadcast<T: Scalar + Copy>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    op: impl Fn(T, T) -> T,
    name: &str,
) -> Result<DMatrix<T>, EvalError> {
    if a.shape() == b.shape() {
        Ok(a.zip_map(b, op))
    } else if is_scalar(a) {
        let x = a[(0, 0)];
        Ok(b.map(|y| op(x, y)))
    } else if is_scalar(b) {
        let y = b[(0, 0)];
        Ok(a.map(|x| op(x, y)))
    } else {
        Err(EvalError::Shape(format!(
            "`{name}` of {} and {}",
            shape_of(a),
            shape_of(b)
        )))
    }
}

/// The matrix product, or scaling when an operand is 1×1.
fn product<T: Entry>(a: &DMatrix<T>, b: &DMatrix<T>) -> Result<DMatrix<T>, EvalError> {
    if a.ncols() == b.nrows() {
        check_size(Some(a.nrows()), Some(b.ncols()))?;
        Ok(a * b)
    } else if is_scalar(a) {
        Ok(b * a[(0, 0)])
    } else if is_scalar(b) {
        Ok(a * b[(0, 0)])
    } else {
        Err(EvalError::Shape(format!(
            "cannot multiply {} by {}",
            shape_of(a),
            shape_of(b)
        )))
    }
}

/// The Kronecker product.
fn kron<T: Scalar + Copy + std::ops::Mul<Output = T>>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
) -> Result<DMatrix<T>, EvalError> {
    let (br, bc) = (b.nrows(), b.ncols());
    let (r, c) = check_size(a.nrows().checked_mul(br), a.ncols().checked_mul(bc))?;
    // With br or bc zero there are no entries, so the closure never runs.
    Ok(DMatrix::from_fn(r, c, |i, j| {
        a[(i / br, j / bc)] * b[(i % br, j % bc)]
    }))
}

/// The columns stacked into one column.
fn vectorize<T: Scalar + Copy>(a: &DMatrix<T>) -> DMatrix<T> {
    DMatrix::from_column_slice(a.len(), 1, a.as_slice())
}

/// The commutation matrix K of an m×n matrix: the mn×mn permutation with
/// K vec(A) = vec(Aᵀ), i.e. K[i·n + j, j·m + i] = 1.
fn commutation<T: Entry>(m: usize, n: usize) -> Result<DMatrix<T>, EvalError> {
    let size = m.checked_mul(n);
    let (size, _) = check_size(size, size)?;
    // With m or n zero there are no entries, so the closure never divides by zero.
    Ok(DMatrix::from_fn(size, size, |r, c| {
        if c == (r % n) * m + r / n {
            T::one()
        } else {
            T::zero()
        }
    }))
}

/// Column vector → diagonal matrix; square matrix → its diagonal as a column.
fn diag<T: Entry>(a: &DMatrix<T>) -> Result<DMatrix<T>, EvalError> {
    if a.ncols() == 1 {
        let n = a.nrows();
        check_size(Some(n), Some(n))?;
        Ok(DMatrix::from_fn(n, n, |i, j| {
            if i == j {
                a[i]
            } else {
                T::zero()
            }
        }))
    } else if a.is_square() {
        Ok(DMatrix::from_fn(a.nrows(), 1, |i, _| a[(i, i)]))
    } else {
        Err(EvalError::Shape(format!(
            "`diag` of a {} matrix (a column vector or a square matrix is needed)",
            shape_of(a)
        )))
    }
}

fn inverse<T: Entry>(a: &DMatrix<T>, op: &str) -> Result<DMatrix<T>, EvalError> {
    let a = square(a, op)?;
    if a.is_empty() {
        return Ok(a.clone());
    }
    a.clone()
        .try_inverse()
        .ok_or_else(|| EvalError::Singular(op.to_string()))
}

fn determinant<T: Entry>(a: &DMatrix<T>) -> T {
    if a.is_empty() {
        T::one()
    } else {
        a.clone().lu().determinant()
    }
}

/// log |det a| from the LU factors (no overflow for large determinants).
fn log_abs_det<T: Entry>(a: &DMatrix<T>) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.clone()
        .lu()
        .u()
        .diagonal()
        .iter()
        .map(|u| u.modulus().ln())
        .sum()
}

/// `a^k`: any power of a scalar ([`Entry::power`]), an integer power of a square matrix.
fn power<T: Entry>(a: &DMatrix<T>, k: T) -> Result<DMatrix<T>, EvalError> {
    if is_scalar(a) {
        return Ok(one(a[(0, 0)].power(k)));
    }
    let a = square(a, "pow")?;
    let (k, k_im) = (k.real(), k.imaginary());
    if !k.is_finite() || k.fract() != 0.0 || k_im != 0.0 {
        let k = if k_im == 0.0 {
            k.to_string()
        } else {
            format!("{k}{k_im:+}i")
        };
        return Err(EvalError::Domain(format!(
            "the power {k} of a {} matrix (integer powers only)",
            shape_of(a)
        )));
    }
    let mut base = if k < 0.0 {
        inverse(a, "pow")?
    } else {
        a.clone()
    };
    // Saturates for huge |k|, where the value over- or underflows anyway.
    let mut e = k.abs() as u64;
    let mut result = DMatrix::identity(a.nrows(), a.ncols());
    while e > 0 {
        if e & 1 == 1 {
            result = &result * &base;
        }
        e >>= 1;
        if e > 0 {
            base = &base * &base;
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::dims::Dim;
    use crate::numeric::funcs::{logsumexp, softmax};
    use crate::numeric::rel_err;

    fn parse(s: &str) -> RecExpr<Math> {
        match s.parse() {
            Ok(e) => e,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn m(rows: usize, cols: usize, by_rows: &[f64]) -> Mat {
        Mat::from_row_slice(rows, cols, by_rows)
    }

    fn env(vars: &[(&str, Mat)]) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(n, v)| (Symbol::from(*n), v.clone()))
                .collect(),
            dims: [("n", 3), ("m", 2)]
                .iter()
                .map(|(n, s)| (Symbol::from(*n), *s))
                .collect(),
        }
    }

    fn val(s: &str, e: &Env) -> Mat {
        match eval(&parse(s), e) {
            Ok(v) => v,
            Err(err) => panic!("{s}: {err}"),
        }
    }

    fn err(s: &str, e: &Env) -> EvalError {
        match eval(&parse(s), e) {
            Ok(v) => panic!("{s} evaluated to {v}"),
            Err(err) => err,
        }
    }

    fn assert_close(got: &Mat, want: &Mat) {
        assert_eq!(got.shape(), want.shape(), "{got} vs {want}");
        assert!(
            (got - want).norm() <= 1e-12 * want.norm().max(1.0),
            "{got} vs {want}"
        );
    }

    fn sample() -> Env {
        env(&[
            ("A", m(2, 2, &[1.0, 2.0, 3.0, 4.0])),
            ("B", m(2, 3, &[1.0, 0.0, -1.0, 2.0, 1.0, 0.5])),
            ("x", m(2, 1, &[1.0, -2.0])),
            ("α", m(1, 1, &[3.0])),
            ("S", m(3, 3, &[2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 4.0])),
        ])
    }

    #[test]
    fn products_and_scaling() {
        let e = sample();
        assert_close(
            &val("(* A B)", &e),
            &m(2, 3, &[5.0, 2.0, 0.0, 11.0, 4.0, -1.0]),
        );
        assert_close(&val("(* A x)", &e), &m(2, 1, &[-3.0, -5.0]));
        assert_close(&val("(* (T x) x)", &e), &m(1, 1, &[5.0]));
        assert_close(
            &val("(* α B)", &e),
            &(e.vars[&Symbol::from("B")].clone() * 3.0),
        );
        assert_close(
            &val("(* B α)", &e),
            &(e.vars[&Symbol::from("B")].clone() * 3.0),
        );
        assert_close(&val("(/ A 2)", &e), &m(2, 2, &[0.5, 1.0, 1.5, 2.0]));
        assert_close(&val("(neg x)", &e), &m(2, 1, &[-1.0, 2.0]));
        assert!(matches!(err("(* B A)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(/ A x)", &e), EvalError::Shape(_)));
    }

    #[test]
    fn broadcasting() {
        let e = sample();
        assert_close(&val("(+ A 1)", &e), &m(2, 2, &[2.0, 3.0, 4.0, 5.0]));
        assert_close(&val("(- 1 A)", &e), &m(2, 2, &[0.0, -1.0, -2.0, -3.0]));
        assert_close(&val("(∘ α x)", &e), &m(2, 1, &[3.0, -6.0]));
        assert_close(&val("(⊘ 1 A)", &e), &m(2, 2, &[1.0, 0.5, 1.0 / 3.0, 0.25]));
        assert_close(&val("(⊘ A A)", &e), &Mat::from_element(2, 2, 1.0));
        assert_close(&val("(∘ A (T A))", &e), &m(2, 2, &[1.0, 6.0, 6.0, 16.0]));
        assert!(matches!(err("(+ A B)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(∘ A x)", &e), EvalError::Shape(_)));
    }

    #[test]
    fn kronecker_by_hand() {
        let e = env(&[
            ("P", m(2, 2, &[1.0, 2.0, 3.0, 4.0])),
            ("Q", m(1, 2, &[0.0, 5.0])),
        ]);
        let want = m(2, 4, &[0.0, 5.0, 0.0, 10.0, 0.0, 15.0, 0.0, 20.0]);
        assert_close(&val("(⊗ P Q)", &e), &want);
        let want = m(2, 4, &[0.0, 0.0, 5.0, 10.0, 0.0, 0.0, 15.0, 20.0]);
        assert_close(&val("(⊗ Q P)", &e), &want);
    }

    #[test]
    fn inverse_det_logdet() {
        let e = sample();
        let a = &e.vars[&Symbol::from("A")];
        assert_close(&(a * val("(inv A)", &e)), &Mat::identity(2, 2));
        assert_close(&val("(inv A)", &e), &m(2, 2, &[-2.0, 1.0, 1.5, -0.5]));
        assert_close(&val("(det A)", &e), &m(1, 1, &[-2.0]));
        assert_close(&val("(logdet A)", &e), &m(1, 1, &[2f64.ln()]));
        assert_close(&val("(det S)", &e), &m(1, 1, &[18.0]));
        assert_close(&val("(logdet S)", &e), &m(1, 1, &[18f64.ln()]));
        let singular = env(&[("A", m(2, 2, &[1.0, 2.0, 2.0, 4.0]))]);
        assert!(matches!(err("(inv A)", &singular), EvalError::Singular(_)));
        assert!(err("(inv A)", &singular).depends_on_point());
        assert_close(&val("(det A)", &singular), &m(1, 1, &[0.0]));
        assert!(matches!(err("(inv B)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(det B)", &e), EvalError::Shape(_)));
    }

    #[test]
    fn powers() {
        let e = sample();
        let a = e.vars[&Symbol::from("A")].clone();
        let inv = val("(inv A)", &e);
        assert_close(&val("(pow A 3)", &e), &(&a * &a * &a));
        assert_close(&val("(pow A 1)", &e), &a);
        assert_close(&val("(pow A 0)", &e), &Mat::identity(2, 2));
        assert_close(&val("(pow A -1)", &e), &inv);
        assert_close(&val("(pow A -2)", &e), &(&inv * &inv));
        assert_close(&val("(pow α 0.5)", &e), &m(1, 1, &[3f64.sqrt()]));
        assert_close(&val("(pow α -2)", &e), &m(1, 1, &[1.0 / 9.0]));
        assert_close(&val("(pow 2 α)", &e), &m(1, 1, &[8.0]));
        assert!(matches!(err("(pow A 0.5)", &e), EvalError::Domain(_)));
        assert!(matches!(err("(pow B 2)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(pow A x)", &e), EvalError::Shape(_)));
        assert_close(&val("(epow A 2)", &e), &m(2, 2, &[1.0, 4.0, 9.0, 16.0]));
        assert_close(&val("(epow x α)", &e), &m(2, 1, &[1.0, -8.0]));
    }

    #[test]
    fn reductions_and_reshapes() {
        let e = sample();
        assert_close(&val("(tr A)", &e), &m(1, 1, &[5.0]));
        assert_close(&val("(sum B)", &e), &m(1, 1, &[3.5]));
        assert_close(&val("(norm x)", &e), &m(1, 1, &[5f64.sqrt()]));
        assert_close(&val("(norm A)", &e), &m(1, 1, &[30f64.sqrt()]));
        assert_close(&val("(norm1 B)", &e), &m(1, 1, &[5.5]));
        let lse = (1f64.exp() + (-2f64).exp()).ln();
        assert_close(&val("(logsumexp x)", &e), &m(1, 1, &[lse]));
        assert_close(
            &val("(softmax x)", &e),
            &m(2, 1, &[(1.0 - lse).exp(), (-2.0 - lse).exp()]),
        );
        assert_close(&val("(diag x)", &e), &m(2, 2, &[1.0, 0.0, 0.0, -2.0]));
        assert_close(&val("(diag A)", &e), &m(2, 1, &[1.0, 4.0]));
        assert_close(&val("(vec A)", &e), &m(4, 1, &[1.0, 3.0, 2.0, 4.0]));
        assert_close(
            &val("(T B)", &e),
            &m(3, 2, &[1.0, 2.0, 0.0, 1.0, -1.0, 0.5]),
        );
        assert_close(&val("(H B)", &e), &val("(T B)", &e));
        assert_close(&val("(conj A)", &e), &val("A", &e));
        assert_close(&val("(real A)", &e), &val("A", &e));
        assert_close(&val("(imag B)", &e), &Mat::zeros(2, 3));
        assert!(matches!(err("(tr B)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(diag B)", &e), EvalError::Shape(_)));
    }

    #[test]
    fn functions_and_stand_ins() {
        let e = sample();
        assert_close(
            &val("(ew @exp x)", &e),
            &m(2, 1, &[1f64.exp(), (-2f64).exp()]),
        );
        assert_close(&val("(ew @relu' x)", &e), &m(2, 1, &[1.0, 0.0]));
        assert_close(
            &val("(ew @σ x)", &e),
            &m(2, 1, &[1f64.tanh(), (-2f64).tanh()]),
        );
        let t = 2f64.tanh();
        assert_close(
            &val("(ew @σ' α)", &e),
            &m(1, 1, &[1.0 - 3f64.tanh().powi(2)]),
        );
        assert_close(
            &val("(ew @sigma'' x)", &e),
            &m(
                2,
                1,
                &[
                    -2.0 * 1f64.tanh() * (1.0 - 1f64.tanh().powi(2)),
                    2.0 * t * (1.0 - t * t),
                ],
            ),
        );
        let x = &e.vars[&Symbol::from("x")];
        let lse = logsumexp(x);
        assert_close(&val("(apply @L x)", &e), &m(1, 1, &[lse + 1.25]));
        assert_close(&val("(grad @L x)", &e), &(softmax(x) + x * 0.5));
        assert!(matches!(err("(ew @σ''' x)", &e), EvalError::Function(_)));
        assert!(matches!(err("(ew x x)", &e), EvalError::Function(_)));
        assert!(matches!(err("(+ @σ x)", &e), EvalError::Function(_)));
        assert!(matches!(err("@σ", &e), EvalError::Function(_)));
        assert!(matches!(err("(ew (d @σ) x)", &e), EvalError::Helper(_)));
        assert!(matches!(err("(apply @exp x)", &e), EvalError::Function(_)));
    }

    #[test]
    fn commutation_matrices() {
        let e = sample();
        // K vec(B) = vec(Bᵀ) for the 2×3 B, and K is 6×6.
        let k = val("(commutation B)", &e);
        assert_eq!(k.shape(), (6, 6));
        assert_close(
            &val("(* (commutation B) (vec B))", &e),
            &val("(vec (T B))", &e),
        );
        assert_close(
            &val("(vec (T B))", &e),
            &m(6, 1, &[1.0, 0.0, -1.0, 2.0, 1.0, 0.5]),
        );
        // A permutation: one 1 in every row and column, Kᵀ K = I.
        for i in 0..6 {
            assert_eq!(k.row(i).iter().filter(|&&v| v == 1.0).count(), 1);
            assert_eq!(k.column(i).iter().filter(|&&v| v == 1.0).count(), 1);
        }
        assert_eq!(k.iter().filter(|&&v| v == 0.0).count(), 30);
        assert_close(&(k.transpose() * &k), &Mat::identity(6, 6));
        // The commutation matrix of Bᵀ (3×2) is the transpose (the inverse) of B's.
        assert_close(&val("(commutation (T B))", &e), &k.transpose());
        // Only the shape matters; for a vector or a scalar it is the identity.
        assert_close(
            &val("(commutation (* 2 B))", &e),
            &val("(commutation B)", &e),
        );
        assert_close(&val("(commutation x)", &e), &Mat::identity(2, 2));
        assert_close(&val("(commutation α)", &e), &m(1, 1, &[1.0]));
        assert_close(&val("(commutation A)", &e), &{
            let mut p = Mat::identity(4, 4);
            p.swap_rows(1, 2);
            p
        });
        // K (X ⊗ Y) Kᵀ-like identities hold through the evaluator: vec(Aᵀ) for a square A.
        assert_close(
            &val("(* (commutation A) (vec A))", &e),
            &val("(vec (T A))", &e),
        );
        let empty = env(&[("R", Mat::zeros(0, 2))]);
        assert_eq!(val("(commutation R)", &empty).shape(), (0, 0));
        assert!(matches!(
            err("(commutation ones[4096,2])", &e),
            EvalError::TooLarge(..)
        ));
    }

    #[test]
    fn hessians_of_generic_functions() {
        let e = sample();
        let x = &e.vars[&Symbol::from("x")];
        let s = softmax(x);
        let want =
            Mat::from_diagonal(&s.column(0)) - &s * s.transpose() + Mat::identity(2, 2) * 0.5;
        assert_close(&val("(hess @L x)", &e), &want);
        assert_close(
            &val("(hess @L (* A x))", &e).transpose(),
            &val("(hess @L (* A x))", &e),
        );
        assert_eq!(val("(hess @L (vec B))", &e).shape(), (6, 6));
        assert_close(&val("(hess @L α)", &e), &m(1, 1, &[0.5]));
        // R and E: their own Hessians.
        assert_close(
            &val("(hess @R x)", &e),
            &m(2, 2, &[0.0, 0.0, 0.0, 2.0 * (1.0 - 4.0) / 25.0]),
        );
        let c1 = 1f64.cos();
        let c2 = 2f64.cos();
        assert_close(
            &val("(hess @E x)", &e),
            &m(2, 2, &[0.5 - c1, 0.5, 0.5, 0.5 - c2]),
        );
        // Only at a column vector; only for a generic scalar-valued function leaf.
        assert!(matches!(err("(hess @L B)", &e), EvalError::Shape(_)));
        assert!(matches!(err("(hess @exp x)", &e), EvalError::Function(_)));
        assert!(matches!(err("(hess @L' x)", &e), EvalError::Function(_)));
        assert!(matches!(err("(hess x x)", &e), EvalError::Function(_)));
        assert!(matches!(err("(hess (d @L) x)", &e), EvalError::Helper(_)));
    }

    /// `∇²L(u)` and `commutation(X)` from the front end evaluate through [`eval`].
    #[test]
    fn hessian_and_commutation_from_source() {
        let checked = |src: &str| match crate::check_program(src) {
            Ok(c) => c.expr,
            Err(d) => panic!("{}", d.render(src)),
        };
        let u = m(3, 1, &[0.5, -1.0, 2.0]);
        let e = env(&[
            ("u", u.clone()),
            ("X", m(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ]);
        let h = match eval(&checked("u : R^n; ∇²L(u)"), &e) {
            Ok(h) => h,
            Err(err) => panic!("{err}"),
        };
        let s = softmax(&u);
        let want =
            Mat::from_diagonal(&s.column(0)) - &s * s.transpose() + Mat::identity(3, 3) * 0.5;
        assert_close(&h, &want);
        let quad = eval(&checked("u : R^n; uᵀ ∇²L(u) u"), &e);
        assert_eq!(quad.map(|q| q.shape()), Ok((1, 1)));
        let k = eval(&checked("X : R^(m×n); commutation(X) vec(X) - vec(Xᵀ)"), &e);
        assert_eq!(k, Ok(Mat::zeros(6, 1)));
    }

    #[test]
    fn leaves_helpers_and_errors() {
        let e = sample();
        assert_close(&val("zeros[m,n]", &e), &Mat::zeros(2, 3));
        assert_close(&val("ones[n,1]", &e), &Mat::from_element(3, 1, 1.0));
        assert_close(&val("I[n,n]", &e), &Mat::identity(3, 3));
        assert_close(&val("I[m·n,m·n]", &e), &Mat::identity(6, 6));
        assert_close(&val("2.5", &e), &m(1, 1, &[2.5]));
        assert!(matches!(err("zeros[k,n]", &e), EvalError::UnknownDim(_)));
        assert!(matches!(err("(+ y 1)", &e), EvalError::UnknownVar(_)));
        for h in [
            "(zeros-like A)",
            "(ones-like A)",
            "(eye-like A)",
            "(unb A x)",
        ] {
            assert!(matches!(err(h, &e), EvalError::Helper(_)), "{h}");
        }
        assert!(matches!(
            err("(⊗ I[4096,4096] I[4096,4096])", &e),
            EvalError::TooLarge(..)
        ));
        assert!(matches!(
            err("ones[100000,100000]", &e),
            EvalError::TooLarge(..)
        ));
        let empty = RecExpr::<Math>::default();
        assert!(matches!(eval(&empty, &e), Err(EvalError::Malformed(_))));
        let looped: RecExpr<Math> = vec![Math::Var("x".into()), Math::Neg([Id::from(1)])].into();
        assert!(matches!(eval(&looped, &e), Err(EvalError::Malformed(_))));
        // An unused node that refers forward is an error only when every node is evaluated.
        let ahead: RecExpr<Math> = vec![Math::Neg([Id::from(1)]), Math::Var("x".into())].into();
        assert!(eval(&ahead, &e).is_ok());
        assert!(matches!(
            eval_node_values(&ahead, &e),
            Err(EvalError::Malformed(_))
        ));
    }

    #[test]
    fn vjp_is_a_gradient_with_the_weight_held_fixed() {
        let e = sample();
        let close = |got: &Mat, want: &Mat| {
            assert_eq!(got.shape(), want.shape(), "{got} vs {want}");
            assert!(
                (got - want).norm() <= 1e-8 * want.norm().max(1.0),
                "{got} vs {want}"
            );
        };
        let a = e.vars[&Symbol::from("A")].clone();
        let x = e.vars[&Symbol::from("x")].clone();
        // grad(xᵀ A x, x) = (A + Aᵀ) x
        close(
            &val("(vjp 1 (* (* (T x) A) x) x)", &e),
            &((&a + a.transpose()) * &x),
        );
        // grad(A x, x, G) = Aᵀ G, and G = A x is held fixed: Aᵀ A x, not 2 Aᵀ A x.
        close(
            &val("(vjp (* A x) (* A x) x)", &e),
            &(a.transpose() * &a * &x),
        );
        // A 1×1 weight scales every entry: grad(A x, A, 2) = 2 onesᵀ-weighted xᵀ.
        close(
            &val("(vjp 2 (* A x) A)", &e),
            &(Mat::from_element(2, 1, 2.0) * x.transpose()),
        );
        assert!(matches!(
            err("(vjp 1 (* (T x) x) (T x))", &e),
            EvalError::Shape(_)
        ));
        assert!(matches!(err("(vjp B (* A x) x)", &e), EvalError::Shape(_)));
        // Complex values: the gradient of Re sum(conj(G) ∘ E) is ∂/∂Re X + i ∂/∂Im X.
        let mut c = e.to_complex();
        let z = CMat::from_column_slice(2, 1, &[C64::new(1.0, 0.5), C64::new(-2.0, 1.0)]);
        c.vars.insert(Symbol::from("z"), z.clone());
        let got = eval(&parse("(vjp 1 (* (H z) z) z)"), &c).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            (got - z.map(|w| w * 2.0)).norm() <= 1e-8,
            "grad(zᴴ z, z) = 2 z"
        );
    }

    #[test]
    fn only_the_root_needs_a_value() {
        // A helper that the root does not use is never evaluated.
        let x = Math::Var("x".into());
        let nodes = vec![
            x.clone(),
            Math::ZerosLike([Id::from(0)]),
            Math::Neg([Id::from(0)]),
        ];
        let expr: RecExpr<Math> = nodes.into();
        assert_close(
            &eval(&expr, &sample()).unwrap_or_else(|e| panic!("{e}")),
            &m(2, 1, &[-1.0, 2.0]),
        );
        assert!(eval_node_values(&expr, &sample()).is_err());
        let expr = parse("(ew @exp (* 2 x))");
        let all = eval_node_values(&expr, &sample()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 5);
        for (node, value) in expr.as_ref().iter().zip(&all) {
            // Only the function leaf has no value.
            assert_eq!(matches!(node, Math::Func(_)), value.is_none());
            if let (Math::Mul(_), Some(v)) = (node, value) {
                assert_close(v, &m(2, 1, &[2.0, -4.0]));
            }
        }
    }

    #[test]
    fn empty_matrices_do_not_panic() {
        let e = env(&[
            ("E", Mat::zeros(0, 0)),
            ("R", Mat::zeros(0, 2)),
            ("A", m(2, 2, &[1.0, 2.0, 3.0, 4.0])),
        ]);
        assert_close(&val("(det E)", &e), &m(1, 1, &[1.0]));
        assert_close(&val("(logdet E)", &e), &m(1, 1, &[0.0]));
        assert_close(&val("(tr E)", &e), &m(1, 1, &[0.0]));
        assert_eq!(val("(inv E)", &e).shape(), (0, 0));
        assert_eq!(val("(pow E -2)", &e).shape(), (0, 0));
        assert_eq!(val("(⊗ R A)", &e).shape(), (0, 4));
        assert_eq!(val("(⊗ A R)", &e).shape(), (0, 4));
        assert_eq!(val("(* (T R) R)", &e).shape(), (2, 2));
        assert_eq!(val("(vec R)", &e).shape(), (0, 1));
        assert_eq!(val("(softmax R)", &e).shape(), (0, 2));
        assert_close(&val("(sum R)", &e), &m(1, 1, &[0.0]));
        assert!(matches!(err("(diag R)", &e), EvalError::Shape(_)));
    }

    #[test]
    fn sizes_of_products_of_dims() {
        let e = sample();
        let d: Dim = match "m·n".parse() {
            Ok(d) => d,
            Err(err) => panic!("{err}"),
        };
        assert_eq!(e.size(&d), Ok(6));
        assert_eq!(e.size(&Dim::lit(4)), Ok(4));
        assert!(e.size(&Dim::sym("q")).is_err());
    }

    // -----------------------------------------------------------------------------------
    // Complex values

    fn c(re: f64, im: f64) -> C64 {
        C64::new(re, im)
    }

    /// A complex matrix from (re, im) pairs by rows.
    fn cm(rows: usize, cols: usize, by_rows: &[(f64, f64)]) -> CMat {
        let entries: Vec<C64> = by_rows.iter().map(|&(re, im)| c(re, im)).collect();
        CMat::from_row_slice(rows, cols, &entries)
    }

    fn cval(s: &str, e: &CEnv) -> CMat {
        match eval(&parse(s), e) {
            Ok(v) => v,
            Err(err) => panic!("{s}: {err}"),
        }
    }

    fn cassert(got: &CMat, want: &CMat) {
        assert_eq!(got.shape(), want.shape(), "{got} vs {want}");
        assert!(
            (got - want).norm() <= 1e-12 * want.norm().max(1.0),
            "{got} vs {want}"
        );
    }

    /// A = [[1+i, 2], [0, 1−i]], B = [[i, 1], [1, 0]], z = 3+4i, w = (−1+2i, 1−2i),
    /// plus the real matrices of `sample()`.
    fn csample() -> CEnv {
        let mut e = sample().to_complex();
        let vars = [
            (
                "A",
                cm(2, 2, &[(1.0, 1.0), (2.0, 0.0), (0.0, 0.0), (1.0, -1.0)]),
            ),
            (
                "B",
                cm(2, 2, &[(0.0, 1.0), (1.0, 0.0), (1.0, 0.0), (0.0, 0.0)]),
            ),
            (
                "C",
                cm(2, 2, &[(0.0, 2.0), (0.0, 0.0), (0.0, 0.0), (1.0, 0.0)]),
            ),
            ("z", cm(1, 1, &[(3.0, 4.0)])),
            ("w", cm(2, 1, &[(-1.0, 2.0), (1.0, -2.0)])),
            ("u", cm(2, 1, &[(1000.0, 1.0), (1000.0, -1.0)])),
        ];
        for (n, v) in vars {
            e.vars.insert(Symbol::from(n), v);
        }
        e
    }

    #[test]
    fn complex_products_adjoints_and_parts() {
        let e = csample();
        cassert(
            &cval("(* A B)", &e),
            &cm(2, 2, &[(1.0, 1.0), (1.0, 1.0), (1.0, -1.0), (0.0, 0.0)]),
        );
        // H conjugates and transposes, T only transposes, conj only conjugates.
        cassert(
            &cval("(H A)", &e),
            &cm(2, 2, &[(1.0, -1.0), (0.0, 0.0), (2.0, 0.0), (1.0, 1.0)]),
        );
        cassert(
            &cval("(T A)", &e),
            &cm(2, 2, &[(1.0, 1.0), (0.0, 0.0), (2.0, 0.0), (1.0, -1.0)]),
        );
        cassert(
            &cval("(conj A)", &e),
            &cm(2, 2, &[(1.0, -1.0), (2.0, 0.0), (0.0, 0.0), (1.0, 1.0)]),
        );
        cassert(
            &cval("(real A)", &e),
            &cm(2, 2, &[(1.0, 0.0), (2.0, 0.0), (0.0, 0.0), (1.0, 0.0)]),
        );
        cassert(
            &cval("(imag A)", &e),
            &cm(2, 2, &[(1.0, 0.0), (0.0, 0.0), (0.0, 0.0), (-1.0, 0.0)]),
        );
        // Scaling by a complex scalar, broadcasting, a real matrix times a complex one.
        cassert(&cval("(* z (H z))", &e), &cm(1, 1, &[(25.0, 0.0)]));
        cassert(&cval("(+ w z)", &e), &cm(2, 1, &[(2.0, 6.0), (4.0, 2.0)]));
        cassert(&cval("(* (T w) x)", &e), &cm(1, 1, &[(-3.0, 6.0)]));
        cassert(&cval("(tr A)", &e), &cm(1, 1, &[(2.0, 0.0)]));
        cassert(&cval("(sum A)", &e), &cm(1, 1, &[(4.0, 0.0)]));
        cassert(
            &cval("(⊗ z w)", &e),
            &cm(2, 1, &[(-11.0, 2.0), (11.0, -2.0)]),
        );
    }

    #[test]
    fn complex_det_inv_logdet_and_powers() {
        let e = csample();
        cassert(&cval("(det A)", &e), &cm(1, 1, &[(2.0, 0.0)]));
        cassert(&cval("(det B)", &e), &cm(1, 1, &[(-1.0, 0.0)]));
        cassert(&cval("(det C)", &e), &cm(1, 1, &[(0.0, 2.0)]));
        let inv_a = cm(2, 2, &[(0.5, -0.5), (-1.0, 0.0), (0.0, 0.0), (0.5, 0.5)]);
        cassert(&cval("(inv A)", &e), &inv_a);
        cassert(&cval("(* A (inv A))", &e), &CMat::identity(2, 2));
        cassert(&cval("(* (inv B) B)", &e), &CMat::identity(2, 2));
        // log |det|.
        cassert(&cval("(logdet C)", &e), &cm(1, 1, &[(2f64.ln(), 0.0)]));
        cassert(&cval("(logdet B)", &e), &cm(1, 1, &[(0.0, 0.0)]));
        // Integer powers of a complex matrix; complex exponents of matrices are errors.
        cassert(
            &cval("(pow A 2)", &e),
            &cm(2, 2, &[(0.0, 2.0), (4.0, 0.0), (0.0, 0.0), (0.0, -2.0)]),
        );
        cassert(&cval("(pow A -1)", &e), &inv_a);
        let err = eval(&parse("(pow A z)"), &e);
        assert!(matches!(err, Err(EvalError::Domain(_))), "{err:?}");
        // Scalar powers: principal branch for a complex base.
        cassert(&cval("(pow z 0.5)", &e), &cm(1, 1, &[(2.0, 1.0)]));
        cassert(&cval("(pow z 2)", &e), &cm(1, 1, &[(-7.0, 24.0)]));
        cassert(&cval("(pow z -1)", &e), &cm(1, 1, &[(0.12, -0.16)]));
        cassert(
            &cval("(epow w 2)", &e),
            &cm(2, 1, &[(-3.0, -4.0), (-3.0, -4.0)]),
        );
        // A real negative base with a fractional power is NaN, as for real values.
        assert!(cval("(pow -2 0.5)", &e)[0].re.is_nan());
        let singular = cm(2, 2, &[(1.0, 1.0), (2.0, 2.0), (1.0, 0.0), (2.0, 0.0)]);
        let mut e2 = e.clone();
        e2.vars.insert(Symbol::from("A"), singular);
        assert!(matches!(
            eval(&parse("(inv A)"), &e2),
            Err(EvalError::Singular(_))
        ));
    }

    #[test]
    fn complex_norms_and_functions() {
        let e = csample();
        let r2 = 2f64.sqrt();
        cassert(&cval("(norm A)", &e), &cm(1, 1, &[(8f64.sqrt(), 0.0)]));
        cassert(&cval("(norm1 A)", &e), &cm(1, 1, &[(2.0 + 2.0 * r2, 0.0)]));
        cassert(
            &cval("(ew @abs A)", &e),
            &cm(2, 2, &[(r2, 0.0), (2.0, 0.0), (0.0, 0.0), (r2, 0.0)]),
        );
        cassert(
            &cval("(ew @sign A)", &e),
            &cm(
                2,
                2,
                &[
                    (1.0 / r2, 1.0 / r2),
                    (1.0, 0.0),
                    (0.0, 0.0),
                    (1.0 / r2, -1.0 / r2),
                ],
            ),
        );
        cassert(&cval("(ew @sqrt z)", &e), &cm(1, 1, &[(2.0, 1.0)]));
        cassert(
            &cval("(ew @log z)", &e),
            &cm(1, 1, &[(5f64.ln(), 4f64.atan2(3.0))]),
        );
        let ez = cval("(ew @exp z)", &e)[0];
        assert!((ez - c(3f64.exp() * 4f64.cos(), 3f64.exp() * 4f64.sin())).norm() < 1e-12);
        // relu compares real parts.
        cassert(
            &cval("(ew @relu w)", &e),
            &cm(2, 1, &[(0.0, 0.0), (1.0, -2.0)]),
        );
        // logsumexp shifts by the largest real part: no overflow.
        cassert(
            &cval("(logsumexp u)", &e),
            &cm(1, 1, &[(1000.0 + (2.0 * 1f64.cos()).ln(), 0.0)]),
        );
        let s = cval("(softmax u)", &e);
        cassert(
            &s,
            &cm(2, 1, &[(0.5, 0.5 * 1f64.tan()), (0.5, -0.5 * 1f64.tan())]),
        );
        // Real entries of a complex environment behave as before.
        assert!(cval("(ew @log (neg ones[n,1]))", &e)
            .iter()
            .all(|v| v.re.is_nan()));
        let real = val("(* (inv S) (ew @exp S))", &sample());
        let complex = cval("(* (inv S) (ew @exp S))", &e);
        assert!(rel_err(&complex, &to_complex(&real)) < 1e-14);
    }

    #[test]
    fn complex_commutation_and_hessians() {
        let e = csample();
        // K vec(A) = vec(Aᵀ) with complex entries; K itself is real.
        cassert(
            &cval("(* (commutation A) (vec A))", &e),
            &cval("(vec (T A))", &e),
        );
        let k = cval("(commutation B)", &e);
        assert_eq!(k.shape(), (4, 4));
        assert!(k.iter().all(|z| z.im == 0.0));
        let real = val("(commutation B)", &sample());
        cassert(
            &cval("(commutation B)", &sample().to_complex()),
            &to_complex(&real),
        );
        // The Hessian at a complex point: the holomorphic stand-in, diag(s) − s sᵀ + ½ I.
        let s = cval("(softmax w)", &e);
        let want = CMat::from_fn(2, 2, |i, j| {
            let d = if i == j { s[i] + 0.5 } else { c(0.0, 0.0) };
            d - s[i] * s[j]
        });
        cassert(&cval("(hess @L w)", &e), &want);
        // At a real point of a complex environment, the real Hessian.
        let real = val("(hess @L x)", &sample());
        cassert(&cval("(hess @L x)", &e), &to_complex(&real));
        assert!(matches!(
            eval(&parse("(hess @L A)"), &e),
            Err(EvalError::Shape(_))
        ));
    }

    #[test]
    fn real_results_of_complex_values() {
        let e = csample();
        let a = parse("A");
        assert!(matches!(eval_real(&a, &e), Err(EvalError::NotReal(_))));
        let gram = parse("(* (H A) A)");
        assert!(matches!(eval_real(&gram, &e), Err(EvalError::NotReal(_))));
        // wᴴ w and norms are real.
        assert_eq!(eval_real(&parse("(* (H w) w)"), &e), Ok(m(1, 1, &[10.0])));
        assert_eq!(
            eval_real(&parse("(real A)"), &e),
            Ok(m(2, 2, &[1.0, 2.0, 0.0, 1.0]))
        );
        // The real evaluator, the complex one on real values, and the conversions agree.
        let r = sample();
        for s in [
            "(* (inv S) S)",
            "(det A)",
            "(ew @σ' x)",
            "(logsumexp B)",
            "(apply @L x)",
        ] {
            let real = val(s, &r);
            let complex = cval(s, &r.to_complex());
            assert_eq!(
                imag_part(&complex),
                Mat::zeros(real.nrows(), real.ncols()),
                "{s}"
            );
            assert_close(&real_part(&complex), &real);
        }
        assert!(imag_ratio(&cm(1, 1, &[(1.0, 1e-12)])) <= REAL_TOLERANCE);
        assert!(as_real(&cm(1, 1, &[(1.0, 1e-6)]), "x").is_err());
    }
}
