//! matdiff: symbolic differentiation of matrix expressions.
//!
//! The pipeline, one folder per stage, each depending only on the ones before it:
//! [`lang`] (dimensions, the e-graph language) → [`syntax`] (grammar, AST, diagnostics) →
//! [`check`] (names, shapes, lowering) → [`engine`] (differentiation, simplification,
//! extraction) → [`render`] (text, LaTeX, NumPy, JSON) → [`numeric`] (evaluation, finite
//! differences, checks) → [`cli`].

#![deny(missing_docs)]

pub mod api;
pub mod check;
pub mod cli;
pub mod engine;
pub mod lang;
pub mod numeric;
pub mod render;
pub mod syntax;

pub use check::shape::{Function, FunctionKind, Variable};
pub use check::{check_program, Checked};
pub use syntax::diagnostic::Diagnostic;
