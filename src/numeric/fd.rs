//! Finite differences and the relative error, as in the public NumPy case checker (`check_numpy.py`).

use super::entry::Entry;
use super::{as_real, CEnv, CMat, Env, EvalError, Mat, C64};
use egg::Symbol;
use nalgebra::DMatrix;

/// The relative finite-difference step: entry x moves by `FD_STEP · max(1, |x|)`.
pub const FD_STEP: f64 = 1e-3;

/// Finite differences of a function that is real-valued at the point may have an
/// imaginary part of at most this times max(1, their norm) (rounding); more means the
/// function is not real-valued near the point.
const FD_REAL_TOLERANCE: f64 = 1e-6;

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
    as_gradient(jac, x.shape())
}

/// A 1 × size(X) Jacobian reshaped like X.
fn as_gradient<T: Entry>(
    jac: DMatrix<T>,
    (rows, cols): (usize, usize),
) -> Result<DMatrix<T>, EvalError> {
    if jac.nrows() != 1 {
        return Err(EvalError::Shape(format!(
            "a gradient needs a scalar function, not one with {} entries",
            jac.nrows()
        )));
    }
    Ok(DMatrix::from_column_slice(rows, cols, jac.as_slice()))
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
    fd_along(f, env, var, step, 1.0)
}

/// Which part of a complex variable's entries moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The real parts move.
    Re,
    /// The imaginary parts move.
    Im,
}

/// The Jacobian of a (possibly complex-valued) `f` along the real or the imaginary parts
/// of the entries of `var`: entry (i, k) is ∂f_i/∂Re X_k or ∂f_i/∂Im X_k, complex when f
/// is; layout as in [`fd_jacobian`].
pub fn fd_jacobian_along(
    f: &dyn Fn(&CEnv) -> Result<CMat, EvalError>,
    env: &CEnv,
    var: Symbol,
    part: Part,
    step: f64,
) -> Result<CMat, EvalError> {
    let direction = match part {
        Part::Re => C64::new(1.0, 0.0),
        Part::Im => C64::new(0.0, 1.0),
    };
    fd_along(f, env, var, step, direction)
}

/// The complex Jacobian of a real-valued `f` with respect to `var`: entry (i, k) is
/// ∂f_i/∂Re X_k + i ∂f_i/∂Im X_k (for a scalar f the complex gradient, PyTorch's
/// convention and check_numpy.py's), layout as in [`fd_jacobian`].
///
/// [`EvalError::NotReal`] when f is not real-valued at the point (imaginary part above
/// [`REAL_TOLERANCE`](super::REAL_TOLERANCE) relative) or its finite differences have a
/// non-negligible imaginary part (f is not real-valued near it).
pub fn fd_complex_jacobian(
    f: &dyn Fn(&CEnv) -> Result<CMat, EvalError>,
    env: &CEnv,
    var: Symbol,
    step: f64,
) -> Result<CMat, EvalError> {
    as_real(&f(env)?, "f")?;
    let re = fd_jacobian_along(f, env, var, Part::Re, step)?;
    let im = fd_jacobian_along(f, env, var, Part::Im, step)?;
    let imag = (re.map(|z| z.im).norm_squared() + im.map(|z| z.im).norm_squared()).sqrt();
    let scale = re.norm().max(im.norm()).max(1.0);
    if imag > FD_REAL_TOLERANCE * scale {
        return Err(EvalError::NotReal(format!(
            "f near the point (finite differences with relative imaginary part {:.1e})",
            imag / scale
        )));
    }
    Ok(re.zip_map(&im, |a, b| C64::new(a.re, b.re)))
}

/// The complex gradient ∂f/∂Re X + i ∂f/∂Im X of a real-valued 1×1 `f`, shaped like
/// `X = var` ([`fd_complex_jacobian`] reshaped), with the default step.
pub fn fd_complex_gradient(
    f: &dyn Fn(&CEnv) -> Result<CMat, EvalError>,
    env: &CEnv,
    var: Symbol,
) -> Result<CMat, EvalError> {
    let x = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
    let jac = fd_complex_jacobian(f, env, var, FD_STEP)?;
    as_gradient(jac, x.shape())
}

/// A function of the variables' values.
type ValueFn<'a, T> = dyn Fn(&Env<T>) -> Result<DMatrix<T>, EvalError> + 'a;

/// The gradient of a real-valued 1×1 `f` with respect to `var`, shaped like the
/// variable, by 4th-order central differences, on real or complex values: ∂f/∂X, and
/// for a complex variable (one whose value has an imaginary part)
/// ∂f/∂Re X + i ∂f/∂Im X. Only the real part of f counts. This is how the evaluator
/// takes `grad(E, X, G)`.
pub fn fd_real_gradient<T: Entry>(
    f: &ValueFn<'_, T>,
    env: &Env<T>,
    var: Symbol,
) -> Result<DMatrix<T>, EvalError> {
    fd_real_gradient_with_step(f, env, var, FD_STEP)
}

/// [`fd_real_gradient`] with another relative step.
pub fn fd_real_gradient_with_step<T: Entry>(
    f: &ValueFn<'_, T>,
    env: &Env<T>,
    var: Symbol,
    step: f64,
) -> Result<DMatrix<T>, EvalError> {
    let x = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
    let shape = x.shape();
    let complex = T::COMPLEX && x.iter().any(|z| z.imaginary() != 0.0);
    let re = fd_along(f, env, var, step, T::one())?;
    let mut grad = re.map(|z| T::from_real(z.real()));
    if complex {
        // The principal square root of -1 is i.
        let i = T::from_real(-1.0).sqrt();
        let im = fd_along(f, env, var, step, i)?;
        grad = grad.zip_map(&im, |a, b| a + i * T::from_real(b.real()));
    }
    as_gradient(grad, shape)
}

/// 4th-order central differences along `direction` (1, or i for a complex variable):
/// entry k moves by s·h·direction, h = step · max(1, |x_k|).
pub(super) fn fd_along<T: Entry>(
    f: &ValueFn<'_, T>,
    env: &Env<T>,
    var: Symbol,
    step: f64,
    direction: T,
) -> Result<DMatrix<T>, EvalError> {
    let x = env
        .vars
        .get(&var)
        .ok_or(EvalError::UnknownVar(var))?
        .clone();
    let f0 = f(env)?;
    let mut work = env.clone();
    let mut jac = DMatrix::zeros(f0.len(), x.len());
    for k in 0..x.len() {
        let h = step * x[k].modulus().max(1.0);
        let mut at = |s: f64| -> Result<DMatrix<T>, EvalError> {
            if let Some(v) = work.vars.get_mut(&var) {
                v[k] = x[k] + direction.scale(s * h);
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
        let column = (p1 - m1).zip_map(&(p2 - m2), |d1, d2| (d1.scale(8.0) - d2).unscale(12.0 * h));
        jac.column_mut(k).copy_from_slice(column.as_slice());
        if let Some(v) = work.vars.get_mut(&var) {
            v[k] = x[k];
        }
    }
    Ok(jac)
}

/// ‖got − want‖ / max(‖got‖, ‖want‖, 1e-6) in the Frobenius norm (of real or complex
/// matrices); infinite when the shapes differ or a value is NaN.
pub fn rel_err<T: Entry>(got: &DMatrix<T>, want: &DMatrix<T>) -> f64 {
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

    fn cf_of(src: &str) -> impl Fn(&CEnv) -> Result<CMat, EvalError> {
        let expr: RecExpr<crate::lang::Math> = src.parse().unwrap_or_else(|e| panic!("{e}"));
        move |env: &CEnv| eval(&expr, env)
    }

    fn cok(r: Result<CMat, EvalError>) -> CMat {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `env()` with a complex 3×2 Z and a complex 3×3 C.
    fn cenv() -> CEnv {
        let mut e = env().to_complex();
        let z = CMat::from_fn(3, 2, |i, j| {
            C64::new(0.5 * i as f64 - 0.3, 1.1 - 0.7 * j as f64)
        });
        let c = CMat::from_fn(3, 3, |i, j| {
            C64::new(
                (i + 2 * j) as f64 * 0.3 - 1.0,
                0.4 * i as f64 - 0.2 * j as f64,
            )
        });
        e.vars.insert(sym("Z"), z);
        e.vars.insert(sym("C"), c);
        e
    }

    #[test]
    fn complex_gradient_of_a_real_function() {
        let e = cenv();
        let z = &e.vars[&sym("Z")];
        // real(tr(Z Zᴴ)) = ‖Z‖²: the gradient ∂/∂Re + i ∂/∂Im is 2Z, not 2 conj(Z).
        let g = cok(fd_complex_gradient(
            &cf_of("(real (tr (* Z (H Z))))"),
            &e,
            sym("Z"),
        ));
        assert!(rel_err(&g, &(z * C64::new(2.0, 0.0))) < 1e-10, "{g}");
        let g = cok(fd_complex_gradient(
            &cf_of("(pow (norm Z) 2)"),
            &e,
            sym("Z"),
        ));
        assert!(rel_err(&g, &(z * C64::new(2.0, 0.0))) < 1e-10, "{g}");
        // real(tr(C Z)) = Re Σ C_ji Z_ij has gradient Cᴴ.
        let x = e.vars[&sym("C")].columns(0, 2).into_owned();
        let mut e2 = e.clone();
        e2.vars.insert(sym("D"), x.transpose());
        let g = cok(fd_complex_gradient(
            &cf_of("(real (tr (* D Z)))"),
            &e2,
            sym("Z"),
        ));
        assert!(rel_err(&g, &x.conjugate()) < 1e-10, "{g}");
        // Along the real parts only (how real variables are differentiated), the
        // ordinary gradient, as with real values.
        let f = cf_of("(* (T x) (* A x))");
        let g = cok(fd_jacobian_along(&f, &e, sym("x"), Part::Re, FD_STEP));
        let want = ok(fd_jacobian(&f_of("(* (T x) (* A x))"), &env(), sym("x")));
        assert!(
            rel_err(&g, &crate::numeric::to_complex(&want)) < 1e-12,
            "{g}"
        );
        // Moving a real variable's imaginary part makes xᵀ A x complex.
        assert!(matches!(
            fd_complex_gradient(&f, &e, sym("x")),
            Err(EvalError::NotReal(_))
        ));
    }

    #[test]
    fn complex_jacobians_need_a_real_function() {
        let e = cenv();
        // tr(Z Zᵀ) is complex: no complex gradient.
        let r = fd_complex_gradient(&cf_of("(tr (* Z (T Z)))"), &e, sym("Z"));
        assert!(matches!(r, Err(EvalError::NotReal(_))), "{r:?}");
        // The Jacobian of the real-valued |z| entry by entry is diag(z/|z|).
        let zc = CMat::from_column_slice(2, 1, &[C64::new(0.6, -0.8), C64::new(-1.5, 2.0)]);
        let mut e2 = e.clone();
        e2.vars.insert(sym("z"), zc.clone());
        let j = cok(fd_complex_jacobian(
            &cf_of("(ew @abs z)"),
            &e2,
            sym("z"),
            FD_STEP,
        ));
        let want = CMat::from_diagonal(&zc.map(|v| v / v.norm()).column(0));
        assert!(rel_err(&j, &want) < 1e-9, "{j}");
        // Along Re and Im, a holomorphic f = C z moves by C and iC.
        let v = CMat::from_column_slice(
            3,
            1,
            &[C64::new(0.1, 0.2), C64::new(-1.0, 0.5), C64::new(0.3, -0.7)],
        );
        e2.vars.insert(sym("v"), v);
        let c = &e.vars[&sym("C")];
        let f = cf_of("(* C v)");
        let re = cok(fd_jacobian_along(&f, &e2, sym("v"), Part::Re, FD_STEP));
        let im = cok(fd_jacobian_along(&f, &e2, sym("v"), Part::Im, FD_STEP));
        assert!(rel_err(&re, c) < 1e-10);
        assert!(rel_err(&im, &(c * C64::new(0.0, 1.0))) < 1e-10);
        assert!(matches!(
            fd_complex_jacobian(&f, &e2, sym("v"), FD_STEP),
            Err(EvalError::NotReal(_))
        ));
    }
}
