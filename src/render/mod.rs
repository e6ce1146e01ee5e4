//! Printers: text (the input language), NumPy; and the naming of shared sub-terms.

pub mod explain;
pub mod json;
pub mod latex;
pub mod numpy;
pub mod text;

use crate::lang::{subexpr, Math};
use egg::{Id, Language, RecExpr};
use std::collections::HashMap;

/// Sub-terms at least this large (in nodes) are named when they occur twice.
pub const SHARE_MIN_SIZE: usize = 6;

/// Which nodes of a DAG get a name of their own (`where t1 = …`), in the order they
/// must be defined (sub-terms before the terms that use them).
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    pub names: HashMap<Id, String>,
    pub order: Vec<Id>,
    /// Variables by shape, so that a commutation matrix K of an m×n shape prints as
    /// `commutation(X)` for a variable X of that shape.
    pub shape_names: Vec<(crate::lang::dims::Shape, String)>,
}

impl Sharing {
    /// The same, with the variables whose shapes commutation matrices may name.
    pub fn with_variables(
        mut self,
        vars: impl IntoIterator<Item = (crate::lang::dims::Shape, String)>,
    ) -> Sharing {
        self.shape_names.extend(vars);
        self
    }
}

/// Name shared sub-terms of `expr`: those equal to a user binding take its name, others
/// used at least twice and of at least [`SHARE_MIN_SIZE`] nodes become `t1`, `t2`, ….
pub fn share(expr: &RecExpr<Math>, bindings: &[(String, RecExpr<Math>)]) -> Sharing {
    let nodes = expr.as_ref();
    let Some(root) = nodes.len().checked_sub(1) else {
        return Sharing::default();
    };
    let mut uses = vec![0usize; nodes.len()];
    let mut size = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        size[i] = 1 + node
            .children()
            .iter()
            .map(|c| size[usize::from(*c)])
            .sum::<usize>();
        for c in node.children() {
            uses[usize::from(*c)] += 1;
        }
    }
    let reachable = reachable_from_root(expr);
    let binding_of: HashMap<String, &str> = bindings
        .iter()
        .filter(|(_, e)| e.as_ref().len() > 1)
        .map(|(name, e)| (e.to_string(), name.as_str()))
        .collect();
    let mut sharing = Sharing::default();
    let mut counter = 0;
    for i in 0..root {
        if !reachable[i] || nodes[i].is_leaf() {
            continue;
        }
        let id = Id::from(i);
        let sub = subexpr(expr, id);
        if let Some(name) = binding_of.get(&sub.to_string()) {
            sharing.names.insert(id, (*name).to_string());
            sharing.order.push(id);
        } else if uses[i] >= 2 && size[i] >= SHARE_MIN_SIZE && !matches!(nodes[i], Math::Func(_)) {
            counter += 1;
            sharing.names.insert(id, format!("t{counter}"));
            sharing.order.push(id);
        }
    }
    sharing
}

/// Whether each node is used by the root (extraction can leave unused nodes behind).
fn reachable_from_root(expr: &RecExpr<Math>) -> Vec<bool> {
    let nodes = expr.as_ref();
    let mut seen = vec![false; nodes.len()];
    if let Some(last) = seen.last_mut() {
        *last = true;
    }
    for i in (0..nodes.len()).rev() {
        if seen[i] {
            for c in nodes[i].children() {
                seen[usize::from(*c)] = true;
            }
        }
    }
    seen
}
