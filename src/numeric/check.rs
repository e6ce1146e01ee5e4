//! The numeric check of derivative expressions against finite differences.

use super::random::FALLBACK_FAMILIES;
use super::{
    concrete_dims, eval, fd_complex_jacobian, fd_jacobian_along, imag_ratio, random_complex_env,
    rel_err, CEnv, CMat, Entry, EvalError, Part, FD_STEP, REAL_TOLERANCE,
};
use crate::lang::dims::Shape;
use crate::lang::Math;
use egg::{RecExpr, Symbol};
use nalgebra::DMatrix;
use std::fmt;

/// A derivative passes when its relative error is below this at every point.
pub const TOLERANCE: f64 = 1e-5;

/// What to check: `f` and one derivative expression per variable.
pub struct CheckInput<'a> {
    /// The expression f.
    pub f: &'a RecExpr<Math>,
    /// (variable, its derivative), in the layout of [`derivative_shape`].
    pub derivatives: Vec<(Symbol, &'a RecExpr<Math>)>,
    /// Every variable of `f` and of the derivatives, with its shape.
    pub vars: Vec<(Symbol, Shape)>,
    /// Symbolic dimensions; sizes come from [`concrete_dims`] (dimensions used by `vars`
    /// or by fills but missing here are added after these, by name).
    pub dims: Vec<Symbol>,
    /// How many random points (seeds 0, 1, …) to try.
    pub seeds: u64,
    /// The variables declared complex (`X : C^(m×n)`): they get complex random values,
    /// `f` must be real-valued, and the derivative with respect to one is the complex
    /// gradient ∂f/∂Re X + i ∂f/∂Im X (= 2 ∂f/∂X̄). The others are real.
    pub complex_vars: Vec<Symbol>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The largest relative error of each derivative (∞ for a failure such as a wrong
    /// shape), in the order of [`CheckInput::derivatives`].
    pub per_derivative: Vec<(Symbol, f64)>,
    /// The largest relative error over all derivatives and points.
    pub max_rel_error: f64,
    /// Points at which the derivatives were compared.
    pub trials: usize,
    /// Seeds without a usable point: `f` not finite for any input family, or finite
    /// differences that disagree with themselves (a kink or pole nearby).
    pub skipped_points: usize,
    /// Whether every derivative stayed below [`TOLERANCE`] and nothing went wrong.
    pub passed: bool,
    /// Why the check failed, one line each.
    pub problems: Vec<String>,
}

/// The shape a derivative of an `f`-shaped value with respect to an `x`-shaped variable
/// has: the shape of `f` for a scalar x (element-wise derivative), the shape of x for a
/// scalar f (gradient), else size(f) × size(x) (the Jacobian ∂vec f/∂vec x, which for a
/// vector f and a vector x is the usual m×n Jacobian). Its entries in column-major
/// order are those of [`fd_jacobian`](super::fd_jacobian).
pub fn derivative_shape(f: (usize, usize), x: (usize, usize)) -> (usize, usize) {
    if x == (1, 1) {
        f
    } else if f == (1, 1) {
        x
    } else {
        (f.0.saturating_mul(f.1), x.0.saturating_mul(x.1))
    }
}

/// Checks the gradients of a scalar `f` at `input.seeds` random points.
///
/// Values are complex matrices (real variables have zero imaginary parts). Per seed,
/// the first input family of [`FALLBACK_FAMILIES`] at which `f` and its finite
/// differences are finite is used (a seed where none is, is skipped). Each derivative
/// must have its variable's shape and match 4th-order central differences within
/// [`TOLERANCE`] (relative Frobenius error of complex matrices): for a real variable
/// the differences along it (real when `f` is real, so an imaginary part of the
/// derivative is an error), for a complex one ∂f/∂Re X + i ∂f/∂Im X, which needs a
/// real-valued `f` (else the problem "f is not real-valued"). `Err` is for a broken `f`
/// or environment (a non-scalar `f`, an unknown variable, a shape error in `f`); a
/// broken derivative is a failed report.
pub fn check_gradients(input: &CheckInput) -> Result<CheckReport, EvalError> {
    check(input, true)
}

/// [`check_gradients`] for an `f` of any shape: each derivative has the shape given by
/// [`derivative_shape`] and is compared with [`fd_jacobian`](super::fd_jacobian) (with
/// a complex variable, the complex Jacobian of [`fd_complex_jacobian`]).
pub fn check_jacobians(input: &CheckInput) -> Result<CheckReport, EvalError> {
    check(input, false)
}

/// The finite-difference reference for one derivative at a point.
#[derive(Debug, Clone)]
enum Reference {
    Fd(CMat),
    /// The variable is complex and f is not real-valued (the reason).
    NotReal(String),
}

/// A random point where `f` is finite, with the finite-difference Jacobian for each
/// derivative.
struct Point {
    env: CEnv,
    refs: Vec<Reference>,
}

/// How a derivative compares at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The relative error.
    Error(f64),
    /// Finite differences are not reliable here.
    Unreliable,
}

/// The finite-difference reference Jacobian with respect to `var`.
fn reference(
    f: &dyn Fn(&CEnv) -> Result<CMat, EvalError>,
    env: &CEnv,
    var: Symbol,
    complex: bool,
    step: f64,
) -> Result<Reference, EvalError> {
    if complex {
        match fd_complex_jacobian(f, env, var, step) {
            Ok(j) => Ok(Reference::Fd(j)),
            Err(EvalError::NotReal(why)) => Ok(Reference::NotReal(why)),
            Err(e) => Err(e),
        }
    } else {
        fd_jacobian_along(f, env, var, Part::Re, step).map(Reference::Fd)
    }
}

fn check(input: &CheckInput, scalar_only: bool) -> Result<CheckReport, EvalError> {
    let f = |env: &CEnv| eval(input.f, env);
    let dims = concrete_dims(&all_dims(input));
    let n = input.derivatives.len();
    let mut max = vec![0.0f64; n];
    let mut problems: Vec<String> = vec![];
    let mut note = |p: String| {
        if !problems.contains(&p) {
            problems.push(p);
        }
    };
    let (mut trials, mut skipped) = (0, 0);
    // Whether a "not real-valued" problem was noted for the derivative (once is enough).
    let mut not_real_noted = vec![false; n];
    for seed in 0..input.seeds {
        // The families are tried in order until one gives a point where f is finite and
        // the finite differences are reliable.
        let mut first_family = 0;
        // The errors at a reliable point where every reference was exactly zero (all
        // derivatives vanish there, as at saturated layers): used only when no later
        // family gives a point where some derivative does not vanish.
        let mut vacuous: Option<Vec<f64>> = None;
        let use_vacuous =
            |max: &mut Vec<f64>, trials: &mut usize, skipped: &mut usize, v: Option<Vec<f64>>| {
                match v {
                    Some(errors) => {
                        *trials += 1;
                        for (m, e) in max.iter_mut().zip(errors) {
                            *m = m.max(e);
                        }
                    }
                    None => *skipped += 1,
                }
            };
        loop {
            if crate::engine::budget::expired() {
                note("stopped at the time limit (--time-limit)".into());
                break;
            }
            let Some((point, family)) = pick_point(input, &f, &dims, seed, first_family)? else {
                use_vacuous(&mut max, &mut trials, &mut skipped, vacuous.take());
                break;
            };
            let all_zero = point.refs.iter().all(|r| match r {
                Reference::Fd(j) => j.iter().all(|v| v.re == 0.0 && v.im == 0.0),
                Reference::NotReal(_) => false,
            });
            let f0 = f(&point.env)?;
            let f_shape = f0.shape();
            if scalar_only && f_shape != (1, 1) {
                return Err(EvalError::Shape(format!(
                    "a gradient needs a scalar function, not a {}×{} one",
                    f_shape.0, f_shape.1
                )));
            }
            let f_real = imag_ratio(&f0) <= REAL_TOLERANCE;
            let mut errors = vec![0.0; n];
            let mut reliable = true;
            for (i, ((var, d), r)) in input.derivatives.iter().zip(&point.refs).enumerate() {
                let complex = input.complex_vars.contains(var);
                let fd = match r {
                    Reference::Fd(fd) => fd,
                    Reference::NotReal(why) => {
                        if !not_real_noted[i] {
                            not_real_noted[i] = true;
                            note(format!(
                            "f is not real-valued ({why} at seed {seed}), so it has no gradient wrt the complex variable {var}"
                        ));
                        }
                        max[i] = f64::INFINITY;
                        continue;
                    }
                };
                let x_shape = point.env.vars.get(var).map_or((0, 0), DMatrix::shape);
                let want = derivative_shape(f_shape, x_shape);
                let got = match eval(d, &point.env) {
                    Ok(v) => v,
                    Err(e) => {
                        note(format!("∂/∂{var}: {e}"));
                        max[i] = f64::INFINITY;
                        continue;
                    }
                };
                if got.shape() != want {
                    note(format!(
                        "∂/∂{var} is {}×{}, but should be {}×{}",
                        got.nrows(),
                        got.ncols(),
                        want.0,
                        want.1
                    ));
                    max[i] = f64::INFINITY;
                    continue;
                }
                if got.iter().any(|v| !v.is_finite()) {
                    note(format!("∂/∂{var} is not finite at seed {seed}"));
                    max[i] = f64::INFINITY;
                    continue;
                }
                if !complex && f_real && !not_real_noted[i] && imag_ratio(&got) >= TOLERANCE {
                    not_real_noted[i] = true;
                    note(format!(
                    "∂/∂{var} is not real-valued (relative imaginary part {:.1e} at seed {seed}), but {var} and f are real",
                    imag_ratio(&got)
                ));
                }
                let got = CMat::from_column_slice(fd.nrows(), fd.ncols(), got.as_slice());
                let finer = || match reference(&f, &point.env, *var, complex, FD_STEP / 4.0) {
                    Ok(Reference::Fd(j)) => Some(j).filter(|j| j.iter().all(|v| v.is_finite())),
                    _ => None,
                };
                match compare(&got, fd, finer) {
                    Outcome::Error(e) => errors[i] = e,
                    Outcome::Unreliable => reliable = false,
                }
            }
            let last = family + 1 >= FALLBACK_FAMILIES.len();
            if reliable && all_zero && !last {
                vacuous.get_or_insert(errors);
                first_family = family + 1;
                continue;
            }
            if reliable {
                trials += 1;
                for (m, e) in max.iter_mut().zip(errors) {
                    *m = m.max(e);
                }
                break;
            }
            if last {
                use_vacuous(&mut max, &mut trials, &mut skipped, vacuous.take());
                break;
            }
            first_family = family + 1;
        }
    }
    if trials == 0 {
        note(format!(
            "none of the {} seeds gave a point where f is finite and smooth",
            input.seeds
        ));
    }
    for ((var, _), &m) in input.derivatives.iter().zip(&max) {
        if m.is_finite() && m >= TOLERANCE {
            note(format!(
                "∂/∂{var} differs from finite differences (relative error {m:.2e})"
            ));
        }
    }
    let max_rel_error = max.iter().copied().fold(0.0, f64::max);
    Ok(CheckReport {
        per_derivative: input.derivatives.iter().map(|(v, _)| *v).zip(max).collect(),
        max_rel_error,
        trials,
        skipped_points: skipped,
        passed: problems.is_empty() && max_rel_error < TOLERANCE,
        problems,
    })
}

/// The dimensions to size: those given, then the others that variables and fills use.
fn all_dims(input: &CheckInput) -> Vec<Symbol> {
    let mut extra: Vec<Symbol> = vec![];
    for (_, s) in &input.vars {
        extra.extend(s.rows.syms.iter().chain(&s.cols.syms));
    }
    let exprs = std::iter::once(input.f).chain(input.derivatives.iter().map(|(_, d)| *d));
    for node in exprs.flat_map(|e| e.as_ref()) {
        if let Math::Fill(fill) = node {
            extra.extend(fill.shape.rows.syms.iter().chain(&fill.shape.cols.syms));
        }
    }
    extra.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    extra.dedup();
    let mut dims = input.dims.clone();
    extra.retain(|s| !dims.contains(s));
    dims.extend(extra);
    dims
}

/// The first family at which `f` and the finite differences for every derivative are
/// finite, or `None`. A derivative with respect to a complex variable of an `f` that is
/// not real-valued gets [`Reference::NotReal`] (reported by the caller).
fn pick_point(
    input: &CheckInput,
    f: &dyn Fn(&CEnv) -> Result<CMat, EvalError>,
    dims: &std::collections::BTreeMap<Symbol, usize>,
    seed: u64,
    first_family: usize,
) -> Result<Option<(Point, usize)>, EvalError> {
    let finite = |m: &CMat| m.iter().all(|v| v.is_finite());
    'families: for (index, &family) in FALLBACK_FAMILIES.iter().enumerate().skip(first_family) {
        if crate::engine::budget::expired() {
            return Ok(None);
        }
        let env = random_complex_env(&input.vars, &input.complex_vars, dims, seed, family)?;
        match f(&env) {
            Ok(v) if finite(&v) => {}
            Ok(_) => continue,
            Err(e) if e.depends_on_point() => continue,
            Err(e) => return Err(e),
        }
        let mut refs = vec![];
        for (var, _) in &input.derivatives {
            let complex = input.complex_vars.contains(var);
            match reference(f, &env, *var, complex, FD_STEP) {
                Ok(Reference::Fd(j)) if !finite(&j) => continue 'families,
                Ok(r) => refs.push(r),
                Err(e) if e.depends_on_point() => continue 'families,
                Err(e) => return Err(e),
            }
        }
        return Ok(Some((Point { env, refs }, index)));
    }
    Ok(None)
}

/// Compares a derivative with finite differences; unless they agree closely, with finer
/// ones too, and keeps the smaller error: if the finer ones agree, the coarse step was
/// too coarse; if neither agrees and the two steps disagree with each other, the point
/// is not smooth enough to judge.
fn compare<T: Entry>(
    got: &DMatrix<T>,
    fd: &DMatrix<T>,
    finer: impl FnOnce() -> Option<DMatrix<T>>,
) -> Outcome {
    let coarse = rel_err(got, fd);
    if coarse < TOLERANCE / 10.0 {
        return Outcome::Error(coarse);
    }
    let Some(fine) = finer() else {
        return if coarse < TOLERANCE {
            Outcome::Error(coarse)
        } else {
            Outcome::Unreliable
        };
    };
    let best = coarse.min(rel_err(got, &fine));
    if best >= TOLERANCE && rel_err(fd, &fine) >= TOLERANCE {
        Outcome::Unreliable
    } else {
        Outcome::Error(best)
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        write!(
            f,
            "numeric check {verdict}: {} point(s), {} skipped, max relative error {:.2e}",
            self.trials, self.skipped_points, self.max_rel_error
        )?;
        for (var, e) in &self.per_derivative {
            write!(f, "\n  ∂/∂{var}: {e:.2e}")?;
        }
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::dims::Dim;
    use crate::numeric::{fd_complex_gradient, InputFamily, Mat, C64};

    fn parse(s: &str) -> RecExpr<Math> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn sym(s: &str) -> Symbol {
        Symbol::from(s)
    }

    fn shape(r: &str, c: &str) -> Shape {
        let d = |s: &str| s.parse::<Dim>().unwrap_or_else(|e| panic!("{e}"));
        Shape::new(d(r), d(c))
    }

    /// Checks `f` with one derivative per (variable, expression); variables are
    /// (name, rows, cols).
    fn run(
        f: &str,
        derivs: &[(&str, &str)],
        vars: &[(&str, &str, &str)],
        jacobian: bool,
    ) -> Result<CheckReport, EvalError> {
        run_with(f, derivs, vars, &[], jacobian)
    }

    /// [`run`] with the variables `complex` declared complex.
    fn run_with(
        f: &str,
        derivs: &[(&str, &str)],
        vars: &[(&str, &str, &str)],
        complex: &[&str],
        jacobian: bool,
    ) -> Result<CheckReport, EvalError> {
        let f = parse(f);
        let ds: Vec<(Symbol, RecExpr<Math>)> =
            derivs.iter().map(|(v, d)| (sym(v), parse(d))).collect();
        let input = CheckInput {
            f: &f,
            derivatives: ds.iter().map(|(v, d)| (*v, d)).collect(),
            vars: vars.iter().map(|(n, r, c)| (sym(n), shape(r, c))).collect(),
            dims: vec![sym("m"), sym("n"), sym("p")],
            seeds: 4,
            complex_vars: complex.iter().map(|v| sym(v)).collect(),
        };
        if jacobian {
            check_jacobians(&input)
        } else {
            check_gradients(&input)
        }
    }

    fn report(r: Result<CheckReport, EvalError>) -> CheckReport {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    fn passes(f: &str, derivs: &[(&str, &str)], vars: &[(&str, &str, &str)]) {
        let r = report(run(f, derivs, vars, false));
        assert!(
            r.passed && r.trials == 4 && r.max_rel_error < 1e-6,
            "{f}: {r}"
        );
    }

    fn fails(f: &str, derivs: &[(&str, &str)], vars: &[(&str, &str, &str)]) -> CheckReport {
        let r = report(run(f, derivs, vars, false));
        assert!(!r.passed && !r.problems.is_empty(), "{f}: {r}");
        r
    }

    const TRACE_VARS: [(&str, &str, &str); 3] = [("A", "m", "n"), ("X", "n", "p"), ("B", "p", "m")];

    #[test]
    fn a_correct_gradient_passes() {
        let r = report(run(
            "(tr (* (* A X) B))",
            &[("X", "(* (T A) (T B))")],
            &TRACE_VARS,
            false,
        ));
        assert!(r.passed, "{r}");
        assert_eq!((r.trials, r.skipped_points), (4, 0));
        assert_eq!(r.per_derivative.len(), 1);
        assert!(r.max_rel_error < 1e-9);
    }

    #[test]
    fn a_wrong_gradient_fails() {
        // With square matrices A B has the right shape but the wrong value.
        let square = [("A", "n", "n"), ("X", "n", "n"), ("B", "n", "n")];
        let r = fails("(tr (* (* A X) B))", &[("X", "(* A B)")], &square);
        assert!(r.max_rel_error > 0.1 && r.max_rel_error.is_finite(), "{r}");
        // With distinct sizes B A is transposed: a shape mismatch, reported.
        let r = fails("(tr (* (* A X) B))", &[("X", "(* B A)")], &TRACE_VARS);
        assert!(r.problems[0].contains("should be 3×4"), "{r}");
        assert_eq!(r.max_rel_error, f64::INFINITY);
        // A derivative that does not evaluate is a failure too.
        let r = fails("(tr (* (* A X) B))", &[("X", "(* A B)")], &TRACE_VARS);
        assert!(r.problems[0].contains("cannot multiply"), "{r}");
    }

    #[test]
    fn families_are_tried_until_f_is_finite() {
        // log needs positive entries: Gaussian inputs give NaN, Positive ones do not.
        passes("(sum (ew @log x))", &[("x", "(⊘ 1 x)")], &[("x", "n", "1")]);
        // log det needs det > 0.
        passes(
            "(ew @log (det X))",
            &[("X", "(T (inv X))")],
            &[("X", "n", "n")],
        );
        passes("(logdet X)", &[("X", "(T (inv X))")], &[("X", "n", "n")]);
        // Both at once: positive entries and det > 0.
        passes(
            "(+ (sum (ew @sqrt X)) (ew @log (det X)))",
            &[("X", "(+ (⊘ 0.5 (ew @sqrt X)) (T (inv X)))")],
            &[("X", "n", "n")],
        );
    }

    #[test]
    fn generic_functions_use_their_stand_ins() {
        // The design example L(σ(W1 x) ∘ W2).
        let f = "(apply @L (∘ (ew @σ (* W1 x)) W2))";
        let u = "(* W1 x)";
        let g = format!("(∘ (∘ (grad @L (∘ (ew @σ {u}) W2)) W2) (ew @σ' {u}))");
        let vars = [("W1", "m", "n"), ("x", "n", "1"), ("W2", "m", "1")];
        passes(
            f,
            &[
                ("W1", &format!("(* {g} (T x))")),
                ("x", &format!("(* (T W1) {g})")),
            ],
            &vars,
        );
        passes(
            "(sum (ew @φ x))",
            &[("x", "(ew @φ' x)")],
            &[("x", "n", "1")],
        );
        fails(
            "(sum (ew @φ x))",
            &[("x", "(ew @σ' x)")],
            &[("x", "n", "1")],
        );
        passes(
            "(sum (ew @ψ' x))",
            &[("x", "(ew @psi'' x)")],
            &[("x", "n", "1")],
        );
    }

    #[test]
    fn scalar_variables_and_unused_variables() {
        let vars = [("α", "1", "1"), ("x", "n", "1"), ("y", "m", "1")];
        passes(
            "(* α (* (T x) x))",
            &[
                ("α", "(* (T x) x)"),
                ("x", "(* (* 2 α) x)"),
                ("y", "zeros[m,1]"),
            ],
            &vars,
        );
    }

    #[test]
    fn broken_inputs_are_errors() {
        let vars = [("x", "n", "1")];
        assert!(matches!(
            run("(* 2 x)", &[("x", "2")], &vars, false),
            Err(EvalError::Shape(_))
        ));
        assert!(matches!(
            run("(sum y)", &[("x", "x")], &vars, false),
            Err(EvalError::UnknownVar(_))
        ));
        assert!(matches!(
            run("(sum x)", &[("z", "x")], &vars, false),
            Err(EvalError::UnknownVar(_))
        ));
    }

    #[test]
    fn nowhere_finite_is_a_failure() {
        let r = fails(
            "(ew @log (neg (sum (ew @exp x))))",
            &[("x", "x")],
            &[("x", "n", "1")],
        );
        assert_eq!((r.trials, r.skipped_points), (0, 4));
    }

    #[test]
    fn jacobians() {
        let vars = [
            ("A", "m", "n"),
            ("X", "n", "p"),
            ("x", "n", "1"),
            ("α", "1", "1"),
        ];
        let ok = |f: &str, d: &[(&str, &str)]| {
            let r = report(run(f, d, &vars, true));
            assert!(r.passed, "{f}: {r}");
        };
        ok("(* A x)", &[("x", "A")]);
        ok("(* A X)", &[("X", "(⊗ I[p,p] A)")]);
        ok("(* α X)", &[("α", "X")]);
        ok("(* (T x) x)", &[("x", "(* 2 x)")]);
        // A Hessian is the Jacobian of the gradient.
        let sq = [("S", "n", "n"), ("x", "n", "1")];
        let r = report(run("(* (+ S (T S)) x)", &[("x", "(+ S (T S))")], &sq, true));
        assert!(r.passed, "{r}");
        let r = report(run("(* A X)", &[("X", "(⊗ A I[p,p])")], &vars, true));
        assert!(!r.passed, "{r}");
        let r = report(run("(* A x)", &[("x", "(T A)")], &vars, true));
        assert!(!r.passed && r.problems[0].contains("should be 2×3"), "{r}");
    }

    #[test]
    fn derivative_shapes() {
        assert_eq!(derivative_shape((1, 1), (3, 2)), (3, 2));
        assert_eq!(derivative_shape((4, 5), (1, 1)), (4, 5));
        assert_eq!(derivative_shape((4, 1), (3, 1)), (4, 3));
        assert_eq!(derivative_shape((4, 5), (3, 2)), (20, 6));
    }

    #[test]
    fn comparison_judges_unreliable_differences() {
        let d = Mat::from_element(2, 1, 1.0);
        let near = Mat::from_element(2, 1, 1.0 + 1e-9);
        let far = Mat::from_element(2, 1, 2.0);
        assert!(matches!(compare(&d, &near, || None), Outcome::Error(e) if e < 1e-8));
        // The coarse step was too coarse: the fine one agrees.
        assert!(matches!(compare(&d, &far, || Some(near.clone())), Outcome::Error(e) if e < 1e-8));
        // Both steps agree with each other, not with the derivative: an error.
        assert!(matches!(compare(&d, &far, || Some(far.clone())), Outcome::Error(e) if e > 0.1));
        // The steps disagree with each other and with the derivative: a kink nearby.
        let other = Mat::from_element(2, 1, 3.0);
        assert_eq!(
            compare(&d, &far, || Some(other.clone())),
            Outcome::Unreliable
        );
        assert_eq!(compare(&d, &far, || None), Outcome::Unreliable);
        // A borderline coarse error is refined.
        let borderline = Mat::from_element(2, 1, 1.0 + 5e-6);
        assert!(
            matches!(compare(&d, &borderline, || Some(near.clone())), Outcome::Error(e) if e < 1e-8)
        );
        assert!(matches!(compare(&d, &borderline, || None), Outcome::Error(e) if e > 1e-6));
    }

    #[test]
    fn report_display() {
        let r = report(run(
            "(sum x)",
            &[("x", "ones[n,1]")],
            &[("x", "n", "1")],
            false,
        ));
        let text = r.to_string();
        assert!(
            text.starts_with("numeric check passed: 4 point(s), 0 skipped"),
            "{text}"
        );
        assert!(text.contains("∂/∂x"));
    }

    // -----------------------------------------------------------------------------------
    // Complex variables

    fn cpasses(f: &str, derivs: &[(&str, &str)], vars: &[(&str, &str, &str)], complex: &[&str]) {
        let r = report(run_with(f, derivs, vars, complex, false));
        assert!(
            r.passed && r.trials == 4 && r.max_rel_error < 1e-6,
            "{f}: {r}"
        );
    }

    fn cfails(
        f: &str,
        derivs: &[(&str, &str)],
        vars: &[(&str, &str, &str)],
        complex: &[&str],
    ) -> CheckReport {
        let r = report(run_with(f, derivs, vars, complex, false));
        assert!(!r.passed && !r.problems.is_empty(), "{f}: {r}");
        r
    }

    #[test]
    fn complex_trace_gram_gradient_is_2x() {
        let f = "(real (tr (* X (H X))))";
        let vars = [("X", "m", "n")];
        cpasses(f, &[("X", "(* 2 X)")], &vars, &["X"]);
        // Half of it (the conjugate Wirtinger derivative) and the conjugate both fail.
        let r = cfails(f, &[("X", "X")], &vars, &["X"]);
        assert!((r.max_rel_error - 0.5).abs() < 1e-6, "{r}");
        let r = cfails(f, &[("X", "(* 2 (conj X))")], &vars, &["X"]);
        assert!(r.max_rel_error > 0.1 && r.max_rel_error.is_finite(), "{r}");
        // The same f written with the Frobenius norm.
        cpasses("(pow (norm X) 2)", &[("X", "(* 2 X)")], &vars, &["X"]);
    }

    #[test]
    fn complex_least_squares() {
        // ‖A z − b‖² with A, z, b complex: the gradient is 2 Aᴴ (A z − b).
        let f = "(pow (norm (- (* A z) b)) 2)";
        let vars = [("A", "p", "n"), ("z", "n", "1"), ("b", "p", "1")];
        let all = ["A", "z", "b"];
        cpasses(
            f,
            &[
                ("z", "(* 2 (* (H A) (- (* A z) b)))"),
                ("b", "(* -2 (- (* A z) b))"),
                ("A", "(* 2 (* (- (* A z) b) (H z)))"),
            ],
            &vars,
            &all,
        );
        cfails(f, &[("z", "(* 2 (* (T A) (- (* A z) b)))")], &vars, &all);
        cfails(f, &[("z", "(* (H A) (- (* A z) b))")], &vars, &all);
        // With a real z (and complex A, b): the ordinary gradient 2 Re(Aᴴ(A z − b)).
        cpasses(
            f,
            &[("z", "(* 2 (real (* (H A) (- (* A z) b))))")],
            &vars,
            &["A", "b"],
        );
        // Its complex version has an imaginary part: wrong for a real z.
        let r = cfails(
            f,
            &[("z", "(* 2 (* (H A) (- (* A z) b)))")],
            &vars,
            &["A", "b"],
        );
        let noted = r.problems.iter().filter(|p| p.contains("not real-valued"));
        assert_eq!(noted.count(), 1, "{r}");
    }

    #[test]
    fn complex_rayleigh_quotient() {
        // f = (A x)ᴴ(A x) / ((B x)ᴴ(B x)): with u = A x, v = B x, p = uᴴu, q = vᴴv,
        // ∇f = 2 (Aᴴ u q − Bᴴ v p) / q².
        let (u, v) = ("(* A x)", "(* B x)");
        let p = format!("(* (H {u}) {u})");
        let q = format!("(* (H {v}) {v})");
        let f = format!("(/ {p} {q})");
        let grad = format!("(* 2 (/ (- (* (* (H A) {u}) {q}) (* (* (H B) {v}) {p})) (pow {q} 2)))");
        let vars = [("A", "m", "n"), ("B", "p", "n"), ("x", "n", "1")];
        let all = ["A", "B", "x"];
        cpasses(&f, &[("x", &grad)], &vars, &all);
        // The Cookbook's printed xᴴBBx (no ᴴ on the first B) is wrong.
        let wrong =
            format!("(* 2 (/ (- (* (* (H A) {u}) {q}) (* (* (T B) {v}) {p})) (pow {q} 2)))");
        cfails(&f, &[("x", &wrong)], &vars, &all);
    }

    /// The checker's reference, ∂f/∂Re X + i ∂f/∂Im X, against an independent
    /// brute-force central difference of a real-valued f.
    fn brute_force_gradient(f: &RecExpr<Math>, env: &CEnv, var: Symbol) -> CMat {
        let h = 1e-6;
        let x = env.vars[&var].clone();
        let value = |k: usize, delta: C64| -> f64 {
            let mut e = env.clone();
            if let Some(v) = e.vars.get_mut(&var) {
                v[k] += delta;
            }
            eval(f, &e).unwrap_or_else(|err| panic!("{err}"))[(0, 0)].re
        };
        CMat::from_fn(x.nrows(), x.ncols(), |i, j| {
            let k = i + j * x.nrows();
            let re = (value(k, C64::new(h, 0.0)) - value(k, C64::new(-h, 0.0))) / (2.0 * h);
            let im = (value(k, C64::new(0.0, h)) - value(k, C64::new(0.0, -h))) / (2.0 * h);
            C64::new(re, im)
        })
    }

    #[test]
    fn complex_det_gradient() {
        // real(det(Xᴴ A X)), X complex p×n (4×3), A complex p×p. Cookbook eqs. 249–250:
        // ∇ = conj(∂det/∂X) + ∂det/∂X̄ = conj(d ((M⁻¹ Xᴴ A)ᵀ)) + d A X M⁻¹, M = Xᴴ A X.
        let m = "(* (* (H X) A) X)";
        let f = format!("(real (det {m}))");
        let d = format!("(det {m})");
        let grad = format!(
            "(+ (conj (* {d} (T (* (inv {m}) (* (H X) A))))) (* {d} (* (* A X) (inv {m}))))"
        );
        let vars = [("X", "p", "n"), ("A", "p", "p")];
        let all = ["X", "A"];
        // The checker's finite differences agree with a brute-force reference.
        let fx = parse(&f);
        let dims = concrete_dims(&[sym("m"), sym("n"), sym("p")]);
        let shapes: Vec<(Symbol, Shape)> =
            vars.iter().map(|(n, r, c)| (sym(n), shape(r, c))).collect();
        let symbols = [sym("X"), sym("A")];
        for seed in 0..3 {
            let env = random_complex_env(&shapes, &symbols, &dims, seed, InputFamily::Gaussian)
                .unwrap_or_else(|e| panic!("{e}"));
            let fun = |e: &CEnv| eval(&fx, e);
            let reference =
                fd_complex_gradient(&fun, &env, sym("X")).unwrap_or_else(|e| panic!("{e}"));
            let brute = brute_force_gradient(&fx, &env, sym("X"));
            assert_eq!(reference.shape(), (4, 3));
            assert!(rel_err(&reference, &brute) < 1e-7, "{reference} vs {brute}");
            let closed = eval(&parse(&grad), &env).unwrap_or_else(|e| panic!("{e}"));
            assert!(rel_err(&closed, &brute) < 1e-7, "{closed} vs {brute}");
        }
        cpasses(&f, &[("X", &grad)], &vars, &all);
        // Without the conjugate on the first term it fails.
        let wrong =
            format!("(+ (* {d} (T (* (inv {m}) (* (H X) A)))) (* {d} (* (* A X) (inv {m}))))");
        cfails(&f, &[("X", &wrong)], &vars, &all);
    }

    #[test]
    fn f_must_be_real_for_a_complex_variable() {
        // tr(X Xᵀ) is complex for a complex X.
        let r = cfails(
            "(tr (* X (T X)))",
            &[("X", "(* 2 X)")],
            &[("X", "n", "n")],
            &["X"],
        );
        assert!(r.problems[0].starts_with("f is not real-valued"), "{r}");
        assert_eq!(r.problems.len(), 1, "{r}");
        assert_eq!(r.max_rel_error, f64::INFINITY);
        // The same f with a real X is complex-valued only through nothing: it passes.
        passes("(tr (* X (T X)))", &[("X", "(* 2 X)")], &[("X", "n", "n")]);
    }

    #[test]
    fn mixed_scalar_and_elementwise_complex_cases() {
        // A real scalar times a function of a complex matrix.
        let f = "(* α (real (tr (* X (H X)))))";
        let vars = [("α", "1", "1"), ("X", "m", "n")];
        cpasses(
            f,
            &[("α", "(real (tr (* X (H X))))"), ("X", "(* (* 2 α) X)")],
            &vars,
            &["X"],
        );
        // A complex scalar: |w|² = w̄ w has gradient 2w.
        cpasses(
            "(real (* (conj w) w))",
            &[("w", "(* 2 w)")],
            &[("w", "1", "1")],
            &["w"],
        );
        // Σ|z_i| has gradient z/|z| (sign), and Re(aᴴ x) gradients x (wrt a) and Re a.
        cpasses(
            "(sum (ew @abs z))",
            &[("z", "(ew @sign z)")],
            &[("z", "n", "1")],
            &["z"],
        );
        let vars = [("a", "n", "1"), ("x", "n", "1")];
        cpasses(
            "(real (* (H a) x))",
            &[("a", "x"), ("x", "(real a)")],
            &vars,
            &["a"],
        );
        let r = cfails("(real (* (H a) x))", &[("x", "(conj a)")], &vars, &["a"]);
        assert!(
            r.problems.iter().any(|p| p.contains("not real-valued")),
            "{r}"
        );
        // real(tr(D Z)) has gradient Dᴴ, not Dᵀ.
        let vars = [("D", "n", "m"), ("Z", "m", "n")];
        cpasses("(real (tr (* D Z)))", &[("Z", "(H D)")], &vars, &["D", "Z"]);
        cfails("(real (tr (* D Z)))", &[("Z", "(T D)")], &vars, &["D", "Z"]);
        // log|det X| = logdet X has gradient X⁻ᴴ for a complex X.
        cpasses(
            "(logdet X)",
            &[("X", "(H (inv X))")],
            &[("X", "n", "n")],
            &["X"],
        );
    }

    #[test]
    fn complex_jacobians() {
        // |z| entry by entry: the complex Jacobian diag(z/|z|).
        let r = report(run_with(
            "(ew @abs z)",
            &[("z", "(diag (ew @sign z))")],
            &[("z", "n", "1")],
            &["z"],
            true,
        ));
        assert!(r.passed, "{r}");
        // A complex-valued f of a real x: the ordinary (complex) Jacobian.
        let r = report(run_with(
            "(* A x)",
            &[("x", "A")],
            &[("A", "m", "n"), ("x", "n", "1")],
            &["A"],
            true,
        ));
        assert!(r.passed, "{r}");
        // A complex-valued f of a complex variable has no complex gradient.
        let r = report(run_with(
            "(* A x)",
            &[("x", "A")],
            &[("A", "m", "n"), ("x", "n", "1")],
            &["A", "x"],
            true,
        ));
        assert!(
            !r.passed && r.problems[0].starts_with("f is not real-valued"),
            "{r}"
        );
    }
}
