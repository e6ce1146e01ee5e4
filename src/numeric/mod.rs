//! Numeric evaluation of expressions and the finite-difference check of derivatives.
//!
//! - [`eval`] gives the value of a [`RecExpr<Math>`](egg::RecExpr) on concrete matrices
//!   (scalars are 1×1), with the concrete stand-ins of the public case helpers (`casehelpers.py`)
//!   for generic functions (`σ` = tanh, `φ` = sin, `g` = arctan, `ψ` = u + u³/4,
//!   `L` = logsumexp + ¼‖u‖², …).
//! - [`random_env`] draws seeded inputs from an [`InputFamily`].
//! - [`fd_gradient`] and [`fd_jacobian`] are 4th-order central differences.
//! - [`eval_with_helpers`] also evaluates the engine's helper nodes (`vjp`, `jvp`,
//!   `coef`, …) by their definitions, as the rule soundness test needs.
//! - [`check_gradients`] and [`check_jacobians`] compare derivative expressions with
//!   finite differences over several random points.
//!
//! Values are real (`f64`, [`Mat`], [`Env`]) or complex ([`C64`], [`CMat`], [`CEnv`]):
//! [`eval`] is generic over the [`Entry`] type. Complex variables (`X : C^(m×n)`) get
//! complex random values, and the derivative of a real-valued f with respect to one is
//! the complex gradient ∂f/∂Re X + i ∂f/∂Im X ([`fd_complex_jacobian`]). Shape mistakes
//! and the like are [`EvalError`]s, never panics.

mod check;
mod entry;
mod evaluate;
mod fd;
mod funcs;
mod helpers;
mod random;
pub mod verify;

pub use check::{
    check_gradients, check_jacobians, derivative_shape, CheckInput, CheckReport, TOLERANCE,
};
pub use entry::Entry;
pub use evaluate::{
    as_real, eval, eval_node_values, eval_real, imag_part, imag_ratio, real_part, to_complex, CEnv,
    CMat, Env, EvalError, Mat, C64, MAX_ENTRIES, REAL_TOLERANCE,
};
pub use fd::{
    fd_complex_gradient, fd_complex_jacobian, fd_gradient, fd_gradient_with_step, fd_jacobian,
    fd_jacobian_along, fd_jacobian_with_step, fd_real_gradient, fd_real_gradient_with_step,
    rel_err, Part, FD_STEP,
};
pub use funcs::{
    elementwise, elementwise_complex, logsumexp, logsumexp_complex, scalar_valued,
    scalar_valued_complex, softmax, softmax_complex, ComplexFn, ComplexScalarValued, ScalarFn,
    ScalarValued, MAX_ORDER,
};
pub use helpers::{eval_with_helpers, HelperMode};
pub use random::{
    concrete_dims, random_complex_env, random_complex_matrix, random_env, random_matrix,
    InputFamily, SplitMix64, FALLBACK_FAMILIES,
};
