//! `--explain`: the derivation of a gradient as a chain of equalities.

use crate::engine::RawExplanation;
use crate::lang::Math;
use egg::FlatTerm;

/// Debug: the raw steps.
pub fn raw(e: &RawExplanation) -> String {
    let mut out = String::new();
    for t in &e.steps {
        out.push_str(&t.get_string());
        out.push('\n');
    }
    out
}

pub fn rules_of(t: &FlatTerm<Math>, out: &mut Vec<String>) {
    if let Some(r) = t.forward_rule {
        out.push(format!("=> {r}"));
    }
    if let Some(r) = t.backward_rule {
        out.push(format!("<= {r}"));
    }
    for c in &t.children {
        rules_of(c, out);
    }
}
