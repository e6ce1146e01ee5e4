//! matdiff: symbolic differentiation of matrix expressions.

pub mod dims;
pub mod engine;
pub mod lang;
pub mod numeric;
pub mod print;
pub mod rules;
