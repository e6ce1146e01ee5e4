//! Numeric evaluation of expressions and the finite-difference check of derivatives.
//!
//! - [`eval`] gives the value of a [`RecExpr<Math>`](egg::RecExpr) on concrete matrices
//!   (scalars are 1×1), with the concrete stand-ins of `../shared/cases/casehelpers.py`
//!   for generic functions (`σ` = tanh, `φ` = sin, `g` = arctan, `ψ` = u + u³/4,
//!   `L` = logsumexp + ¼‖u‖², …).
//! - [`random_env`] draws seeded inputs from an [`InputFamily`].
//! - [`fd_gradient`] and [`fd_jacobian`] are 4th-order central differences.
//! - [`check_gradients`] and [`check_jacobians`] compare derivative expressions with
//!   finite differences over several random points.
//!
//! Everything works on real `f64` matrices; shape mistakes and the like are
//! [`EvalError`]s, never panics.

mod check;
mod evaluate;
mod fd;
mod funcs;
mod random;

pub use check::{
    check_gradients, check_jacobians, derivative_shape, CheckInput, CheckReport, TOLERANCE,
};
pub use evaluate::{eval, eval_node_values, Env, EvalError, Mat, MAX_ENTRIES};
pub use fd::{
    fd_gradient, fd_gradient_with_step, fd_jacobian, fd_jacobian_with_step, rel_err, FD_STEP,
};
pub use funcs::{
    elementwise, logsumexp, scalar_valued, softmax, ScalarFn, ScalarValued, MAX_ORDER,
};
pub use random::{
    concrete_dims, random_env, random_matrix, InputFamily, SplitMix64, FALLBACK_FAMILIES,
};
