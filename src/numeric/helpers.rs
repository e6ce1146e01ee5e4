//! The meaning of the engine's helper nodes, evaluated: `(vjp G E X)`, `(jvp E X V)`,
//! `(coef M D)`, `(unb G A)`, `(zeros-like A)`, `(ones-like A)`, `(eye-like A)`.
//!
//! The engine never prints a helper (differentiation rewrites them away), but its rules
//! are stated with them, so the rule soundness test evaluates both sides of every rule
//! here: helpers by their definition (finite differences), every other node by
//! [`eval`]. The definitions:
//!
//! - `(vjp G E X)`: the gradient with respect to the variable X of ⟨G, E⟩ =
//!   Re sum(conj(G) ∘ E), G held at its value; for a complex X (one whose value has
//!   an imaginary part), ∂/∂Re X + i ∂/∂Im X.
//! - `(jvp E X V)`: d/dt E(X + tV) at t = 0 (t real).
//! - `(coef M D)`: the Jacobian of vec(M) with respect to vec(D) (column-major), along
//!   the real parts of D: the J of vec(M) = J vec(D) for M linear in D.
//! - `(unb G A)`: G when shaped like A, the sum of G's entries when A is 1×1.
//! - `(zeros-like A)`, `(ones-like A)`, `(eye-like A)`: fills shaped like A (the
//!   identity of A's row count).

use super::entry::Entry;
use super::fd::{fd_along, fd_real_gradient_with_step};
use super::{eval, Env, EvalError};
use crate::lang::{Func, Math};
use egg::{Id, Language, RecExpr, Symbol};
use nalgebra::DMatrix;
use std::collections::{BTreeMap, HashMap};

/// How [`eval_with_helpers`] takes the derivative helpers (`vjp`, `jvp`, `coef`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HelperMode {
    /// Only check that operands fit; the value is zeros of the helper's shape.
    ShapesOnly,
    /// By 4th-order central differences with this relative step.
    FiniteDifferences(f64),
}

/// The value of an expression that may contain helper nodes (see the module docs), on
/// real or complex matrices.
pub fn eval_with_helpers<T: Entry>(
    expr: &RecExpr<Math>,
    env: &Env<T>,
    mode: HelperMode,
) -> Result<DMatrix<T>, EvalError> {
    let root = Id::from(expr.as_ref().len().saturating_sub(1));
    Evaluator { expr, mode }.matrix(root, env)
}

/// Evaluates helper nodes here, every other node by the library evaluator (over
/// temporary variables holding the children's values).
struct Evaluator<'a> {
    expr: &'a RecExpr<Math>,
    mode: HelperMode,
}

impl Evaluator<'_> {
    /// The value of a node that must not be a function.
    fn matrix<T: Entry>(&self, id: Id, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
        self.value(id, env)?.ok_or_else(|| {
            EvalError::Function(format!("a function used as a value: {}", self.expr[id]))
        })
    }

    /// The function leaf a node stands for (`(d @σ)` is `@σ'`).
    fn func_leaf(&self, id: Id) -> Option<Func> {
        match &self.expr[id] {
            Math::Func(f) => Some(*f),
            Math::Derive([f]) => self.func_leaf(*f).map(Func::derivative),
            _ => None,
        }
    }

    /// The value of a node; `None` for functions.
    fn value<T: Entry>(&self, id: Id, env: &Env<T>) -> Result<Option<DMatrix<T>>, EvalError> {
        let node = &self.expr[id];
        let value = match node {
            Math::Func(_) | Math::Derive(_) => return Ok(None),
            Math::Vjp([g, e, x]) => self.vjp(*g, *e, *x, env)?,
            Math::Jvp([e, x, v]) => self.jvp(*e, *x, *v, env)?,
            Math::Coef([m, d]) => self.coef(*m, *d, env)?,
            Math::Unbroadcast([g, a]) => {
                unbroadcast(self.matrix(*g, env)?, &self.matrix(*a, env)?)?
            }
            Math::ZerosLike([a]) => {
                let a = self.matrix(*a, env)?;
                DMatrix::zeros(a.nrows(), a.ncols())
            }
            Math::OnesLike([a]) => {
                let a = self.matrix(*a, env)?;
                DMatrix::from_element(a.nrows(), a.ncols(), T::one())
            }
            Math::NCols([a]) => {
                let n = self.matrix(*a, env)?.ncols();
                DMatrix::from_element(1, 1, T::from_real(n as f64))
            }
            Math::EyeLike([a]) => {
                let n = self.matrix(*a, env)?.nrows();
                DMatrix::identity(n, n)
            }
            _ => return self.ordinary(node, env).map(Some),
        };
        Ok(Some(value))
    }

    /// A non-helper node: its children's values become temporary variables of a
    /// one-operator expression that [`eval`] evaluates.
    fn ordinary<T: Entry>(&self, node: &Math, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
        if node.is_leaf() {
            return eval(&RecExpr::from(vec![node.clone()]), env);
        }
        let mut small = RecExpr::default();
        let mut temps = Env {
            vars: BTreeMap::new(),
            dims: env.dims.clone(),
        };
        let mut ids = HashMap::new();
        for (i, &c) in node.children().iter().enumerate() {
            let leaf = match self.func_leaf(c) {
                Some(f) => Math::Func(f),
                None => {
                    let name = Symbol::from(format!("__child{i}"));
                    temps.vars.insert(name, self.matrix(c, env)?);
                    Math::Var(name)
                }
            };
            ids.insert(c, small.add(leaf));
        }
        small.add(node.clone().map_children(|c| ids[&c]));
        eval(&small, &temps)
    }

    /// The variable at `x`, which a helper differentiates by.
    fn variable(&self, x: Id, helper: &str) -> Result<Symbol, EvalError> {
        match self.expr[x] {
            Math::Var(var) => Ok(var),
            ref other => Err(EvalError::Shape(format!(
                "`{helper}` by `{other}`, not a variable"
            ))),
        }
    }

    /// `(vjp G E X)`: the gradient wrt X of ⟨G, E⟩, G held at its value here.
    fn vjp<T: Entry>(&self, g: Id, e: Id, x: Id, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
        let g = self.matrix(g, env)?;
        let var = self.variable(x, "vjp")?;
        let pairing = |at: &Env<T>| -> Result<DMatrix<T>, EvalError> {
            let value = self.matrix(e, at)?;
            if value.shape() != g.shape() {
                return Err(EvalError::Shape(format!(
                    "`vjp` with a {:?} cotangent of a {:?} value",
                    g.shape(),
                    value.shape()
                )));
            }
            let re: f64 = g
                .iter()
                .zip(value.iter())
                .map(|(a, b)| (a.conjugate() * *b).real())
                .sum();
            Ok(DMatrix::from_element(1, 1, T::from_real(re)))
        };
        match self.mode {
            HelperMode::ShapesOnly => {
                pairing(env)?;
                let x = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
                Ok(DMatrix::zeros(x.nrows(), x.ncols()))
            }
            HelperMode::FiniteDifferences(step) => {
                fd_real_gradient_with_step(&pairing, env, var, step)
            }
        }
    }

    /// `(jvp E X V)`: d/dt E(X + tV) at t = 0 (t real), by 4th-order central
    /// differences along V (X moving by a relative step, as in `fd_jacobian`).
    fn jvp<T: Entry>(&self, e: Id, x: Id, v: Id, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
        let var = self.variable(x, "jvp")?;
        let v = self.matrix(v, env)?;
        let x = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
        if v.shape() != x.shape() {
            return Err(EvalError::Shape(format!(
                "`jvp` along a {:?} direction at a {:?} point",
                v.shape(),
                x.shape()
            )));
        }
        let largest = |m: &DMatrix<T>| m.iter().map(|z| z.modulus()).fold(0.0, f64::max);
        let moved = |t: f64| -> Result<DMatrix<T>, EvalError> {
            let mut at = env.clone();
            at.vars.insert(var, x + &v * T::from_real(t));
            self.matrix(e, &at)
        };
        let value = moved(0.0)?;
        let HelperMode::FiniteDifferences(step) = self.mode else {
            return Ok(DMatrix::zeros(value.nrows(), value.ncols()));
        };
        // Every entry of X moves by at most step · max(1, max |X|).
        let h = step * largest(x).max(1.0) / largest(&v).max(1.0);
        let (p1, m1, p2, m2) = (moved(h)?, moved(-h)?, moved(2.0 * h)?, moved(-2.0 * h)?);
        if [&p1, &m1, &p2, &m2]
            .iter()
            .any(|m| m.shape() != value.shape())
        {
            return Err(EvalError::Shape(
                "`jvp` of a value that changes shape along the direction".into(),
            ));
        }
        Ok(((p1 - m1) * T::from_real(8.0) - (p2 - m2)) * T::from_real(1.0 / (12.0 * h)))
    }

    /// `(coef M D)`: the Jacobian of vec(M) with respect to vec(D), size(M) × size(D),
    /// by finite differences along the real parts of D (exact up to rounding for M
    /// linear in D).
    fn coef<T: Entry>(&self, m: Id, d: Id, env: &Env<T>) -> Result<DMatrix<T>, EvalError> {
        let var = self.variable(d, "coef")?;
        let inner = |at: &Env<T>| self.matrix(m, at);
        match self.mode {
            HelperMode::ShapesOnly => {
                let value = inner(env)?;
                let d = env.vars.get(&var).ok_or(EvalError::UnknownVar(var))?;
                Ok(DMatrix::zeros(value.len(), d.len()))
            }
            HelperMode::FiniteDifferences(step) => fd_along(&inner, env, var, step, T::one()),
        }
    }
}

/// `(unb G A)`: G when shaped like A, the sum of G's entries when A is 1×1.
fn unbroadcast<T: Entry>(g: DMatrix<T>, a: &DMatrix<T>) -> Result<DMatrix<T>, EvalError> {
    if g.shape() == a.shape() {
        Ok(g)
    } else if a.shape() == (1, 1) {
        Ok(DMatrix::from_element(1, 1, g.sum()))
    } else {
        Err(EvalError::Shape(format!(
            "`unb` of a {:?} G to a {:?} A",
            g.shape(),
            a.shape()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::{
        random_complex_matrix, random_matrix, rel_err, CEnv, InputFamily, Mat, SplitMix64, FD_STEP,
    };

    fn expr(text: &str) -> RecExpr<Math> {
        text.parse().expect("a well-formed expression")
    }

    fn env_of(vars: &[(&str, usize, usize)], family: InputFamily, seed: u64) -> Env {
        let mut rng = SplitMix64::new(seed);
        Env {
            vars: vars
                .iter()
                .map(|&(n, r, c)| (Symbol::from(n), random_matrix(r, c, family, &mut rng)))
                .collect(),
            dims: BTreeMap::new(),
        }
    }

    const FD: HelperMode = HelperMode::FiniteDifferences(FD_STEP);

    #[test]
    fn vjp_is_the_gradient_of_the_pairing() {
        // (vjp G (A X) X) = Aᵀ G.
        let env = env_of(
            &[("A", 2, 3), ("X", 3, 2), ("G", 2, 2)],
            InputFamily::Gaussian,
            3,
        );
        let var = |n: &str| env.vars[&Symbol::from(n)].clone();
        let got = eval_with_helpers(&expr("(vjp G (* A X) X)"), &env, FD).expect("vjp");
        let want = var("A").transpose() * var("G");
        assert!(rel_err(&got, &want) < 1e-9, "{got} vs {want}");
        // Helpers: unb, the *-like fills and d.
        let h = expr("(+ (unb G (sum A)) (sum (ew (d @σ) (ones-like X))))");
        let got = eval_with_helpers(&h, &env, HelperMode::ShapesOnly).expect("helpers");
        let want = var("G").sum() + 6.0 * (1.0 - 1f64.tanh().powi(2));
        assert!((got[(0, 0)] - want).abs() < 1e-12, "{got} vs {want}");
        let eye = eval_with_helpers(&expr("(eye-like A)"), &env, HelperMode::ShapesOnly)
            .expect("eye-like");
        assert_eq!(eye, Mat::identity(2, 2));
    }

    #[test]
    fn jvp_and_coef_are_directional_derivatives_and_jacobians() {
        let shapes = [
            ("A", 2, 3),
            ("B", 2, 2),
            ("X", 3, 3),
            ("V", 3, 3),
            ("D", 3, 2),
        ];
        let env = env_of(&shapes, InputFamily::WellConditioned, 5);
        let var = |n: &str| env.vars[&Symbol::from(n)].clone();
        let value = |e: &str| eval_with_helpers(&expr(e), &env, FD).expect("the helper");
        // (jvp (A X) X V) = A V.
        let want = var("A") * var("V");
        let got = value("(jvp (* A X) X V)");
        assert!(rel_err(&got, &want) < 1e-9, "{got} vs {want}");
        // (jvp X⁻¹ X V) = -X⁻¹ V X⁻¹, nonlinear.
        let inv = var("X").try_inverse().expect("a well-conditioned X");
        let want = -(&inv * var("V") * &inv);
        let got = value("(jvp (inv X) X V)");
        assert!(rel_err(&got, &want) < 1e-8, "{got} vs {want}");
        // (coef (A D B) D) = Bᵀ ⊗ A, and (coef Dᵀ D) = K.
        let want = var("B").transpose().kronecker(&var("A"));
        let got = value("(coef (* (* A D) B) D)");
        assert!(rel_err(&got, &want) < 1e-9, "{got} vs {want}");
        let got = value("(coef (T D) D)");
        let k = value("(commutation D)");
        assert!(rel_err(&got, &k) < 1e-9, "{got} vs {k}");
        // Shapes only: zeros of the helper's shape.
        let zeros = eval_with_helpers(&expr("(coef (* A D) D)"), &env, HelperMode::ShapesOnly)
            .expect("coef type-checks");
        assert_eq!(zeros, Mat::zeros(4, 6));
    }

    #[test]
    fn complex_helpers_move_along_real_parameters() {
        // t in X + tV is real, so d conj(X) = conj(V).
        let mut rng = SplitMix64::new(6);
        let mut cenv = CEnv::default();
        for n in ["X", "V"] {
            let m = random_complex_matrix(2, 2, InputFamily::Gaussian, &mut rng);
            cenv.vars.insert(Symbol::from(n), m);
        }
        let got = eval_with_helpers(&expr("(jvp (conj X) X V)"), &cenv, FD).expect("jvp");
        let want = cenv.vars[&Symbol::from("V")].conjugate();
        assert!(rel_err(&got, &want) < 1e-9, "{got} vs {want}");
        // (vjp G (A X) X) = Aᴴ G for complex values: the complex gradient convention.
        for n in ["A", "G"] {
            let m = random_complex_matrix(2, 2, InputFamily::Gaussian, &mut rng);
            cenv.vars.insert(Symbol::from(n), m);
        }
        let got = eval_with_helpers(&expr("(vjp G (* A X) X)"), &cenv, FD).expect("vjp");
        let want = cenv.vars[&Symbol::from("A")].adjoint() * &cenv.vars[&Symbol::from("G")];
        assert!(rel_err(&got, &want) < 1e-9, "{got} vs {want}");
    }
}
