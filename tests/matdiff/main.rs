//! matdiff's one test binary: the data-driven case and failure harnesses and the rule
//! checks, as modules.

mod cases;
mod explain;
mod fail;
mod generated;
mod latex;
mod properties;
mod rules;
mod textbook;
mod usability;
