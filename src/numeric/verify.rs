//! Numerical verification of every result (`--check`, and every test): gradients and
//! Jacobians against finite differences of f, Hessians as the Jacobian of the gradient,
//! and differentials against their Jacobians at random directions.

use crate::engine::{Outcome, ResultKind};
use crate::lang::dims::Shape;
use crate::lang::{Math, MathAnalysis};
use crate::numeric::{self, CheckInput, CheckReport, InputFamily, Mat};
use crate::Checked;
use egg::{RecExpr, Symbol};
use std::fmt::Write as _;

/// Check every result of `outcome`; the verdict and a report (one line, plus problems).
pub fn verify(
    checked: &Checked,
    analysis: &MathAnalysis,
    outcome: &Outcome,
    seeds: u64,
) -> (bool, String) {
    if outcome.derivatives.is_empty() {
        // A check on no derivatives has no verdict: neither passed nor failed.
        return (
            true,
            "check: nothing to check: there are no derivatives\n".to_string(),
        );
    }
    let vars: Vec<(Symbol, Shape)> = analysis
        .var_shapes
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let complex_vars: Vec<Symbol> = analysis.complex_vars.iter().copied().collect();
    let of = |kinds: &[ResultKind]| -> Vec<(Symbol, &RecExpr<Math>)> {
        outcome
            .derivatives
            .iter()
            .filter(|d| kinds.contains(&d.kind))
            .map(|d| (d.wrt, &d.expr))
            .collect()
    };
    let gradient_of = |x: Symbol| {
        outcome
            .derivatives
            .iter()
            .find(|d| d.wrt == x && d.kind == ResultKind::Gradient)
            .map(|d| &d.expr)
    };
    let mut reports: Vec<(String, CheckReport)> = vec![];
    let mut errors: Vec<String> = vec![];
    let mut run =
        |what: &str, f: &RecExpr<Math>, ds: Vec<(Symbol, &RecExpr<Math>)>, gradient: bool| {
            if ds.is_empty() {
                return;
            }
            match check_with_size_retry(checked, f, ds, &vars, &complex_vars, seeds, gradient) {
                Ok(report) => reports.push((what.to_string(), report)),
                Err(e) => errors.push(format!("{what}: could not evaluate: {e}")),
            }
        };
    run("gradient", &checked.expr, of(&[ResultKind::Gradient]), true);
    run(
        "derivative",
        &checked.expr,
        of(&[
            ResultKind::Derivative,
            ResultKind::Jacobian,
            ResultKind::VecJacobian,
        ]),
        false,
    );
    // A Hessian is the Jacobian of the gradient (the engine always derives both).
    for (x, h) in of(&[ResultKind::Hessian]) {
        if let Some(g) = gradient_of(x) {
            run("Hessian", g, vec![(x, h)], false);
        }
    }
    let mut line = String::new();
    let mut passed = errors.is_empty();
    let mut trials = 0;
    let mut worst: f64 = 0.0;
    let mut parts = vec![];
    let mut problems = vec![];
    for (what, r) in &reports {
        passed &= r.passed;
        trials = trials.max(r.trials);
        worst = worst.max(r.max_rel_error);
        for (w, e) in &r.per_derivative {
            parts.push(format!("{what} ∂/∂{w} {e:.1e}"));
        }
        problems.extend(r.problems.iter().map(|p| format!("{what}: {p}")));
    }
    match check_differentials(checked, analysis, outcome, seeds) {
        Ok(Some(err)) => {
            worst = worst.max(err);
            passed &= err < numeric::TOLERANCE;
            parts.push(format!("differential vs Jacobian {err:.1e}"));
        }
        Ok(None) => {}
        Err(e) => {
            passed = false;
            errors.push(format!("differential: {e}"));
        }
    }
    if trials == 0 && !reports.is_empty() {
        // Nothing was compared: say so, rather than "FAILED … on 0 inputs".
        passed = false;
        let _ = writeln!(
            line,
            "check: not done: no usable point among {seeds} random inputs (each tried in {} families of values, scaled ones last): f or its finite differences were not finite, or not reliable, at every one; try more --seeds",
            numeric::FALLBACK_FAMILIES.len()
        );
    } else {
        let _ = writeln!(
            line,
            "check: {} against central finite differences on {trials} random inputs: largest relative error {worst:.1e} ({})",
            if passed { "passed" } else { "FAILED" },
            parts.join(", ")
        );
    }
    for p in problems.iter().chain(&errors) {
        let _ = writeln!(line, "  {p}");
    }
    (passed, line)
}

/// One check; sizes are tried in ascending order of the dimensions, then descending, so
/// that products such as Xᵀ A X with a wide X are not singular at every point.
fn check_with_size_retry(
    checked: &Checked,
    f: &RecExpr<Math>,
    derivatives: Vec<(Symbol, &RecExpr<Math>)>,
    vars: &[(Symbol, Shape)],
    complex_vars: &[Symbol],
    seeds: u64,
    gradient: bool,
) -> Result<CheckReport, numeric::EvalError> {
    let mut dims = checked.dims.clone();
    let mut last = None;
    for attempt in 0..2 {
        if attempt == 1 {
            dims.reverse();
        }
        let input = CheckInput {
            f,
            derivatives: derivatives.clone(),
            vars: vars.to_vec(),
            dims: dims.clone(),
            seeds,
            complex_vars: complex_vars.to_vec(),
        };
        let report = if gradient {
            numeric::check_gradients(&input)?
        } else {
            numeric::check_jacobians(&input)?
        };
        if report.passed || report.trials > 0 {
            return Ok(report);
        }
        last = Some(report);
    }
    last.ok_or_else(|| numeric::EvalError::Malformed("no check ran".into()))
}

/// The largest relative error between each differential and its Jacobian applied to a
/// random direction: vec(dF) = J vec(dX), and d²f = vec(dX)ᵀ H vec(dX). `None` when
/// there are no differentials.
fn check_differentials(
    checked: &Checked,
    analysis: &MathAnalysis,
    outcome: &Outcome,
    seeds: u64,
) -> Result<Option<f64>, numeric::EvalError> {
    let find = |x: Symbol, kind: ResultKind| {
        outcome
            .derivatives
            .iter()
            .find(|d| d.wrt == x && d.kind == kind)
            .map(|d| &d.expr)
    };
    let mut pairs = vec![];
    for &(x, dx) in &outcome.directions {
        if let (Some(d), Some(j)) = (
            find(x, ResultKind::Differential),
            find(x, ResultKind::VecJacobian),
        ) {
            pairs.push((dx, d, j, false));
        }
        if let (Some(d), Some(h)) = (
            find(x, ResultKind::SecondDifferential),
            find(x, ResultKind::Hessian),
        ) {
            pairs.push((dx, d, h, true));
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut vars: Vec<(Symbol, Shape)> = analysis
        .var_shapes
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    for &(x, dx) in &outcome.directions {
        if let Some(s) = analysis.var_shapes.get(&x) {
            vars.push((dx, s.clone()));
        }
    }
    let dims = numeric::concrete_dims(&checked.dims);
    let mut worst: f64 = 0.0;
    let mut usable = 0;
    // Well-conditioned inputs first; then the other families (positive entries for
    // `X.^α`, `log`, `sqrt`) until some point gives finite values.
    let families = std::iter::once(InputFamily::WellConditioned).chain(
        numeric::FALLBACK_FAMILIES
            .into_iter()
            .filter(|f| *f != InputFamily::WellConditioned),
    );
    for (family, seed) in families.flat_map(|f| (0..seeds.max(1)).map(move |s| (f, s))) {
        if usable > 0 && seed == 0 {
            break;
        }
        let env = numeric::random_env(&vars, &dims, seed, family)?;
        for &(dx, d, j, quadratic) in &pairs {
            let (Ok(dv), Ok(jv)) = (numeric::eval(d, &env), numeric::eval(j, &env)) else {
                continue;
            };
            let Some(direction) = env.vars.get(&dx) else {
                continue;
            };
            let v = Mat::from_column_slice(direction.len(), 1, direction.as_slice());
            let want = if quadratic {
                v.transpose() * &jv * &v
            } else {
                &jv * &v
            };
            let got = Mat::from_column_slice(dv.len(), 1, dv.as_slice());
            if got.iter().chain(want.iter()).all(|x| x.is_finite()) && got.shape() == want.shape() {
                usable += 1;
                worst = worst.max(numeric::rel_err(&got, &want));
            } else if got.shape() != want.shape() {
                worst = f64::INFINITY;
            }
        }
    }
    if usable == 0 {
        return Err(numeric::EvalError::Malformed(
            "no random point where the differential is finite".into(),
        ));
    }
    Ok(Some(worst))
}
