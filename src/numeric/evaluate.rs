//! The evaluator: the value of every non-helper node of [`Math`] on concrete matrices.

use super::funcs::{elementwise, logsumexp, scalar_valued, softmax};
use crate::dims::Dim;
use crate::lang::{FillKind, Func as FuncLeaf, Math};
use egg::{Id, Language, RecExpr, Symbol};
use nalgebra::{DMatrix, Scalar};
use std::collections::BTreeMap;

/// A real matrix; scalars are 1×1.
pub type Mat = DMatrix<f64>;

/// The most entries a value may have (guards against huge `⊗`, fills and products).
pub const MAX_ENTRIES: usize = 1 << 24;

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A helper operator (`vjp`, `unb`, `zeros-like`, `ones-like`, `eye-like`, `d`).
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
}

impl EvalError {
    /// Whether another point might not have this error (a singular matrix), as opposed
    /// to a mistake in the expression or the environment.
    pub fn depends_on_point(&self) -> bool {
        matches!(self, EvalError::Singular(_))
    }
}

/// Values of the variables and sizes of the symbolic dimensions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    pub vars: BTreeMap<Symbol, Mat>,
    pub dims: BTreeMap<Symbol, usize>,
}

impl Env {
    /// The concrete value of a size.
    pub fn size(&self, dim: &Dim) -> Result<usize, EvalError> {
        dim.eval(&|s| self.dims.get(&s).copied())
            .ok_or_else(|| EvalError::UnknownDim(dim.to_string()))
    }
}

/// The value of the expression (its last node). Only nodes the root depends on are
/// evaluated.
pub fn eval(expr: &RecExpr<Math>, env: &Env) -> Result<Mat, EvalError> {
    let nodes = expr.as_ref();
    let needed = reachable(nodes)?;
    let mut values = eval_nodes(nodes, env, &needed)?;
    values
        .pop()
        .flatten()
        .ok_or_else(|| EvalError::Function("the expression is a function, not a value".into()))
}

/// The value of every node, indexed by node id; `None` for function leaves.
pub fn eval_node_values(expr: &RecExpr<Math>, env: &Env) -> Result<Vec<Option<Mat>>, EvalError> {
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
fn eval_nodes(nodes: &[Math], env: &Env, needed: &[bool]) -> Result<Vec<Option<Mat>>, EvalError> {
    let mut values: Vec<Option<Mat>> = Vec::with_capacity(nodes.len());
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

fn eval_node(
    node: &Math,
    nodes: &[Math],
    values: &[Option<Mat>],
    env: &Env,
) -> Result<Option<Mat>, EvalError> {
    use Math::*;
    let v = |id: &Id| -> Result<&Mat, EvalError> {
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
            v(a)?.map(|x| x.powf(p))
        }
        Elementwise([f, a]) => v(a)?.map(elementwise(func(f)?)?),
        Apply([f, a]) => one((scalar_valued(func(f)?)?.value)(v(a)?)),
        Grad([f, a]) => (scalar_valued(func(f)?)?.grad)(v(a)?),
        Trace([a]) => one(square(v(a)?, &op)?.trace()),
        Det([a]) => one(determinant(square(v(a)?, &op)?)),
        LogDet([a]) => one(log_abs_det(square(v(a)?, &op)?)),
        Sum([a]) => one(v(a)?.sum()),
        Norm([a]) => one(v(a)?.norm()),
        Norm1([a]) => one(v(a)?.iter().map(|x| x.abs()).sum()),
        LogSumExp([a]) => one(logsumexp(v(a)?)),
        Diag([a]) => diag(v(a)?)?,
        Vec([a]) => vectorize(v(a)?),
        Softmax([a]) => softmax(v(a)?),
        Conj([a]) | Real([a]) => v(a)?.clone(),
        Imag([a]) => {
            let a = v(a)?;
            Mat::zeros(a.nrows(), a.ncols())
        }
        Vjp(_) | Unbroadcast(_) | ZerosLike(_) | OnesLike(_) | EyeLike(_) | Derive(_) => {
            return Err(EvalError::Helper(op));
        }
        Fill(f) => {
            let (r, c) = (env.size(&f.shape.rows)?, env.size(&f.shape.cols)?);
            check_size(Some(r), Some(c))?;
            match f.kind {
                FillKind::Zeros => Mat::zeros(r, c),
                FillKind::Ones => Mat::from_element(r, c, 1.0),
                FillKind::Identity => Mat::identity(r, c),
            }
        }
        Num(n) => one(n.value()),
        Func(_) => return Ok(None),
        Var(s) => env.vars.get(s).cloned().ok_or(EvalError::UnknownVar(*s))?,
    };
    Ok(Some(value))
}

fn one(x: f64) -> Mat {
    Mat::from_element(1, 1, x)
}

fn is_scalar<T: Scalar>(a: &DMatrix<T>) -> bool {
    a.nrows() == 1 && a.ncols() == 1
}

fn shape_of<T: Scalar>(a: &DMatrix<T>) -> String {
    format!("{}×{}", a.nrows(), a.ncols())
}

/// The entry of a 1×1 matrix.
fn scalar(a: &Mat, what: &str) -> Result<f64, EvalError> {
    if is_scalar(a) {
        Ok(a[(0, 0)])
    } else {
        Err(EvalError::Shape(format!(
            "{what} is {}, not a scalar",
            shape_of(a)
        )))
    }
}

fn square<'a>(a: &'a Mat, op: &str) -> Result<&'a Mat, EvalError> {
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
fn product(a: &Mat, b: &Mat) -> Result<Mat, EvalError> {
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

/// Column vector → diagonal matrix; square matrix → its diagonal as a column.
fn diag(a: &Mat) -> Result<Mat, EvalError> {
    if a.ncols() == 1 {
        let n = a.nrows();
        check_size(Some(n), Some(n))?;
        Ok(Mat::from_fn(n, n, |i, j| if i == j { a[i] } else { 0.0 }))
    } else if a.is_square() {
        Ok(Mat::from_fn(a.nrows(), 1, |i, _| a[(i, i)]))
    } else {
        Err(EvalError::Shape(format!(
            "`diag` of a {} matrix (a column vector or a square matrix is needed)",
            shape_of(a)
        )))
    }
}

fn inverse(a: &Mat, op: &str) -> Result<Mat, EvalError> {
    let a = square(a, op)?;
    if a.is_empty() {
        return Ok(a.clone());
    }
    a.clone()
        .try_inverse()
        .ok_or_else(|| EvalError::Singular(op.to_string()))
}

fn determinant(a: &Mat) -> f64 {
    if a.is_empty() {
        1.0
    } else {
        a.clone().lu().determinant()
    }
}

/// log |det a| from the LU factors (no overflow for large determinants).
fn log_abs_det(a: &Mat) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.clone()
        .lu()
        .u()
        .diagonal()
        .iter()
        .map(|u| u.abs().ln())
        .sum()
}

/// `a^k`: any real power of a scalar, an integer power of a square matrix.
fn power(a: &Mat, k: f64) -> Result<Mat, EvalError> {
    if is_scalar(a) {
        return Ok(one(a[(0, 0)].powf(k)));
    }
    let a = square(a, "pow")?;
    if !k.is_finite() || k.fract() != 0.0 {
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
    let mut result = Mat::identity(a.nrows(), a.ncols());
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
    use crate::dims::Dim;

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
            "(vjp A A A)",
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
}
