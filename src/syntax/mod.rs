//! Source text to syntax tree: the pest grammar with one Pratt parser, the AST with
//! spans, and diagnostics rendered with the source line and a caret.

pub mod ast;
pub mod diagnostic;
pub mod parse;
