//! Finite differences and the relative error, as in `../shared/cases/check_numpy.py`.

use super::{Env, EvalError, Mat};
use egg::Symbol;

/// The relative finite-difference step: entry x moves by `FD_STEP · max(1, |x|)`.
pub const FD_STEP: f64 = 1e-3;

/// The gradient of a 1×1-valued `f` with respect to `var`, shaped like the variable,
/// by 4th-order central differences.
pub fn fd_gradient(
    f: &dyn Fn(&Env) -> Result<Mat, EvalError>,
    env: &Env,
    var: Symbol,
) -> Result<Mat, EvalError> {
    fd_gradient_with_step(f, env, var, FD_STEP)
}

/// [`fd_gradient`] with another relative step.
pub fn fd_gradient_with_step(
    f: &dyn Fn(&Env) -> Result<Mat, EvalError>,
    env: &Env,
    var: Symbol,
    step: f64,
) -> Result<Mat, EvalError> {
    let x = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
    let jac = fd_jacobian_with_step(f, env, var, step)?;
    if jac.nrows() != 1 {
        return Err(EvalError::Shape(format!(
            "a gradient needs a scalar function, not one with {} entries",
            jac.nrows()
        )));
    }
    Ok(Mat::from_column_slice(x.nrows(), x.ncols(), jac.as_slice()))
}

/// The Jacobian ∂vec(f)/∂vec(X) of any `f` with respect to `X = var`: a matrix of
/// size(f) × size(X), both sides in vec (column-major) order, so entry (i, k) is the
/// derivative of the i-th entry of vec(f) by the k-th entry of vec(X).
/// 4th-order central differences.
pub fn fd_jacobian(
    f: &dyn Fn(&Env) -> Result<Mat, EvalError>,
    env: &Env,
    var: Symbol,
) -> Result<Mat, EvalError> {
    fd_jacobian_with_step(f, env, var, FD_STEP)
}

/// [`fd_jacobian`] with another relative step.
pub fn fd_jacobian_with_step(
    f: &dyn Fn(&Env) -> Result<Mat, EvalError>,
    env: &Env,
    var: Symbol,
    step: f64,
) -> Result<Mat, EvalError> {
    let x = env
        .vars
        .get(&var)
        .ok_or(EvalError::UnknownVar(var))?
        .clone();
    let f0 = f(env)?;
    let mut work = env.clone();
    let mut jac = Mat::zeros(f0.len(), x.len());
    for k in 0..x.len() {
        let h = step * x[k].abs().max(1.0);
        let mut at = |s: f64| -> Result<Mat, EvalError> {
            if let Some(v) = work.vars.get_mut(&var) {
                v[k] = x[k] + s * h;
            }
            let value = f(&work)?;
            if value.shape() != f0.shape() {
                return Err(EvalError::Shape(format!(
                    "the function changed shape from {}×{} to {}×{} under a perturbation",
                    f0.nrows(),
                    f0.ncols(),
                    value.nrows(),
                    value.ncols()
                )));
            }
            Ok(value)
        };
        let (p1, m1, p2, m2) = (at(1.0)?, at(-1.0)?, at(2.0)?, at(-2.0)?);
        let column = ((p1 - m1) * 8.0 - (p2 - m2)) / (12.0 * h);
        jac.column_mut(k).copy_from_slice(column.as_slice());
        if let Some(v) = work.vars.get_mut(&var) {
            v[k] = x[k];
        }
    }
    Ok(jac)
}

/// ‖got − want‖ / max(‖got‖, ‖want‖, 1e-6) in the Frobenius norm; infinite when the
/// shapes differ or a value is NaN.
pub fn rel_err(got: &Mat, want: &Mat) -> f64 {
    if got.shape() != want.shape() {
        return f64::INFINITY;
    }
    let err = (got - want).norm() / got.norm().max(want.norm()).max(1e-6);
    if err.is_nan() {
        f64::INFINITY
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::eval;
    use egg::RecExpr;

    fn sym(s: &str) -> Symbol {
        Symbol::from(s)
    }

    fn f_of(src: &str) -> impl Fn(&Env) -> Result<Mat, EvalError> {
        let expr: RecExpr<crate::lang::Math> = src.parse().unwrap_or_else(|e| panic!("{e}"));
        move |env: &Env| eval(&expr, env)
    }

    fn env() -> Env {
        let mut e = Env::default();
        let a = Mat::from_row_slice(3, 3, &[1.0, 2.0, 0.5, -1.0, 0.3, 2.0, 0.7, -0.2, 1.1]);
        let b = Mat::from_row_slice(2, 2, &[0.4, -1.3, 2.2, 0.9]);
        let x = Mat::from_column_slice(3, 1, &[0.3, -1.7, 2.5]);
        let m = Mat::from_row_slice(3, 2, &[1.0, -0.5, 0.25, 2.0, -3.0, 0.1]);
        for (n, v) in [("A", a), ("B", b), ("x", x), ("X", m)] {
            e.vars.insert(sym(n), v);
        }
        e
    }

    fn ok(r: Result<Mat, EvalError>) -> Mat {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn gradient_of_a_quadratic_form() {
        let e = env();
        let g = ok(fd_gradient(&f_of("(* (* (T x) A) x)"), &e, sym("x")));
        let a = &e.vars[&sym("A")];
        let want = (a + a.transpose()) * &e.vars[&sym("x")];
        assert!(rel_err(&g, &want) < 1e-10, "{g} {want}");
        assert!(matches!(
            fd_gradient(&f_of("(* A x)"), &e, sym("x")),
            Err(EvalError::Shape(_))
        ));
        assert!(matches!(
            fd_gradient(&f_of("(sum x)"), &e, sym("y")),
            Err(EvalError::UnknownVar(_))
        ));
    }

    #[test]
    fn gradient_of_a_matrix_variable_keeps_its_shape() {
        let e = env();
        // tr(Xᵀ X) has gradient 2X.
        let g = ok(fd_gradient(&f_of("(tr (* (T X) X))"), &e, sym("X")));
        assert!(rel_err(&g, &(&e.vars[&sym("X")] * 2.0)) < 1e-10);
    }

    #[test]
    fn jacobians_are_in_vec_order() {
        let e = env();
        let j = ok(fd_jacobian(&f_of("(* A x)"), &e, sym("x")));
        assert!(rel_err(&j, &e.vars[&sym("A")]) < 1e-10);
        // vec(A X B) = (Bᵀ ⊗ A) vec(X).
        let j = ok(fd_jacobian(&f_of("(* (* A X) B)"), &e, sym("X")));
        let want = e.vars[&sym("B")].transpose().kronecker(&e.vars[&sym("A")]);
        assert_eq!(j.shape(), (6, 6));
        assert!(rel_err(&j, &want) < 1e-10);
        // A scalar variable: a column, the derivative of vec(f).
        let mut e2 = env();
        e2.vars.insert(sym("α"), Mat::from_element(1, 1, 0.7));
        let j = ok(fd_jacobian(&f_of("(* (pow α 2) X)"), &e2, sym("α")));
        let want = Mat::from_column_slice(6, 1, (&e.vars[&sym("X")] * 1.4).as_slice());
        assert!(rel_err(&j, &want) < 1e-10);
    }

    #[test]
    fn relative_error() {
        let a = Mat::from_column_slice(2, 1, &[3.0, 4.0]);
        let b = Mat::from_column_slice(2, 1, &[3.0, 4.5]);
        assert!((rel_err(&a, &b) - 0.5 / b.norm()).abs() < 1e-15);
        assert_eq!(rel_err(&a, &a), 0.0);
        assert_eq!(rel_err(&a, &a.transpose()), f64::INFINITY);
        let tiny = Mat::from_element(1, 1, 1e-9);
        assert!((rel_err(&tiny, &Mat::zeros(1, 1)) - 1e-3).abs() < 1e-15);
        assert_eq!(
            rel_err(&Mat::from_element(1, 1, f64::NAN), &tiny),
            f64::INFINITY
        );
    }
}
