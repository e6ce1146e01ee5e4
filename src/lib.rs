//! matdiff: symbolic differentiation of matrix expressions.

pub mod ast;
pub mod cli;
pub mod dims;
pub mod engine;
pub mod error;
pub mod explain;
pub mod front;
pub mod lang;
pub mod lower;
pub mod numeric;
pub mod parse;
pub mod print;
pub mod rules;
pub mod shape;
pub mod verify;

pub use error::Diagnostic;
pub use front::{check_program, Checked};
pub use shape::{Function, FunctionKind, Variable};
