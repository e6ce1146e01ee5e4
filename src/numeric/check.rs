//! The numeric check of derivative expressions against finite differences.

use super::random::FALLBACK_FAMILIES;
use super::{
    concrete_dims, eval, fd_jacobian, fd_jacobian_with_step, random_env, rel_err, Env, EvalError,
    Mat, FD_STEP,
};
use crate::dims::Shape;
use crate::lang::Math;
use egg::{RecExpr, Symbol};
use std::fmt;

/// A derivative passes when its relative error is below this at every point.
pub const TOLERANCE: f64 = 1e-5;

/// What to check: `f` and one derivative expression per variable.
pub struct CheckInput<'a> {
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
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The largest relative error of each derivative (∞ for a failure such as a wrong
    /// shape), in the order of [`CheckInput::derivatives`].
    pub per_derivative: Vec<(Symbol, f64)>,
    pub max_rel_error: f64,
    /// Points at which the derivatives were compared.
    pub trials: usize,
    /// Seeds without a usable point: `f` not finite for any input family, or finite
    /// differences that disagree with themselves (a kink or pole nearby).
    pub skipped_points: usize,
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
/// Per seed, the first input family of [`FALLBACK_FAMILIES`] at which `f` and its
/// finite differences are finite is used (a seed where none is, is skipped). Each
/// derivative must have its variable's shape and match 4th-order central differences
/// within [`TOLERANCE`]. `Err` is for a broken `f` or environment (a non-scalar `f`,
/// an unknown variable, a shape error in `f`); a broken derivative is a failed report.
pub fn check_gradients(input: &CheckInput) -> Result<CheckReport, EvalError> {
    check(input, true)
}

/// [`check_gradients`] for an `f` of any shape: each derivative has the shape given by
/// [`derivative_shape`] and is compared with [`fd_jacobian`](super::fd_jacobian).
pub fn check_jacobians(input: &CheckInput) -> Result<CheckReport, EvalError> {
    check(input, false)
}

/// A random point where `f` is finite, with the finite-difference Jacobian for each
/// derivative.
struct Point {
    env: Env,
    fds: Vec<Mat>,
}

/// How a derivative compares at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The relative error.
    Error(f64),
    /// Finite differences are not reliable here.
    Unreliable,
}

fn check(input: &CheckInput, scalar_only: bool) -> Result<CheckReport, EvalError> {
    let f = |env: &Env| eval(input.f, env);
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
    for seed in 0..input.seeds {
        let Some(point) = pick_point(input, &f, &dims, seed)? else {
            skipped += 1;
            continue;
        };
        let f_shape = f(&point.env)?.shape();
        if scalar_only && f_shape != (1, 1) {
            return Err(EvalError::Shape(format!(
                "a gradient needs a scalar function, not a {}×{} one",
                f_shape.0, f_shape.1
            )));
        }
        let mut errors = vec![0.0; n];
        let mut reliable = true;
        for (i, ((var, d), fd)) in input.derivatives.iter().zip(&point.fds).enumerate() {
            let x_shape = point.env.vars.get(var).map_or((0, 0), Mat::shape);
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
            let got = Mat::from_column_slice(fd.nrows(), fd.ncols(), got.as_slice());
            let finer = || {
                fd_jacobian_with_step(&f, &point.env, *var, FD_STEP / 4.0)
                    .ok()
                    .filter(|j| j.iter().all(|v| v.is_finite()))
            };
            match compare(&got, fd, finer) {
                Outcome::Error(e) => errors[i] = e,
                Outcome::Unreliable => reliable = false,
            }
        }
        if reliable {
            trials += 1;
            for (m, e) in max.iter_mut().zip(errors) {
                *m = m.max(e);
            }
        } else {
            skipped += 1;
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
/// finite, or `None`.
fn pick_point(
    input: &CheckInput,
    f: &dyn Fn(&Env) -> Result<Mat, EvalError>,
    dims: &std::collections::BTreeMap<Symbol, usize>,
    seed: u64,
) -> Result<Option<Point>, EvalError> {
    let finite = |m: &Mat| m.iter().all(|v| v.is_finite());
    'families: for family in FALLBACK_FAMILIES {
        let env = random_env(&input.vars, dims, seed, family)?;
        match f(&env) {
            Ok(v) if finite(&v) => {}
            Ok(_) => continue,
            Err(e) if e.depends_on_point() => continue,
            Err(e) => return Err(e),
        }
        let mut fds = vec![];
        for (var, _) in &input.derivatives {
            match fd_jacobian(f, &env, *var) {
                Ok(j) if finite(&j) => fds.push(j),
                Ok(_) => continue 'families,
                Err(e) if e.depends_on_point() => continue 'families,
                Err(e) => return Err(e),
            }
        }
        return Ok(Some(Point { env, fds }));
    }
    Ok(None)
}

/// Compares a derivative with finite differences; unless they agree closely, with finer
/// ones too, and keeps the smaller error: if the finer ones agree, the coarse step was
/// too coarse; if neither agrees and the two steps disagree with each other, the point
/// is not smooth enough to judge.
fn compare(got: &Mat, fd: &Mat, finer: impl FnOnce() -> Option<Mat>) -> Outcome {
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
    use crate::dims::Dim;

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
        let f = parse(f);
        let ds: Vec<(Symbol, RecExpr<Math>)> =
            derivs.iter().map(|(v, d)| (sym(v), parse(d))).collect();
        let input = CheckInput {
            f: &f,
            derivatives: ds.iter().map(|(v, d)| (*v, d)).collect(),
            vars: vars.iter().map(|(n, r, c)| (sym(n), shape(r, c))).collect(),
            dims: vec![sym("m"), sym("n"), sym("p")],
            seeds: 4,
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
}
