//! matdiff: symbolic differentiation of matrix expressions.

pub mod dims;
pub mod lang;
