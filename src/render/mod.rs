//! Printers: text (the input language), NumPy; and the naming of shared sub-terms.

pub mod explain;
pub mod json;
pub mod latex;
pub mod numpy;
pub mod text;

use crate::lang::{BindingTerms, Math};
use egg::{Id, Language, RecExpr};
use std::collections::HashMap;

/// Sub-terms at least this large (in nodes) are named when they occur twice.
pub const SHARE_MIN_SIZE: usize = 6;

/// The tokens a node adds to its printed text beyond its children's, as
/// the public case tools' `textsize.py` counts them: names, numbers and operator symbols, not
/// parentheses or juxtaposition (a product `A B` adds nothing; `f(a)` adds the name of
/// `f`, which is its function leaf). Helpers print nothing.
pub fn own_tokens(node: &Math) -> usize {
    match node {
        // Juxtaposition; the name of a called function is its leaf.
        Math::Mul(_)
        | Math::Elementwise(_)
        | Math::Apply(_)
        | Math::Grad(_)
        | Math::Hess(_)
        // `a²`: the superscript is the exponent's one token.
        | Math::Pow(_) => 0,
        Math::Num(n) if n.value() < 0.0 => 2,
        Math::EPow(_) => 1,
        _ if node.is_helper() => 0,
        _ => 1,
    }
}

/// Which nodes of a DAG get a name of their own (`where t1 = …`), in the order they
/// must be defined (sub-terms before the terms that use them).
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    /// The name of each shared node.
    pub names: HashMap<Id, String>,
    /// The shared nodes, in definition order.
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
/// used at least twice become `t1`, `t2`, … where that shortens the printed text (a name
/// costs one token per use and its definition one more than the sub-term) or where
/// they are at least [`SHARE_MIN_SIZE`] nodes large.
pub fn share(expr: &RecExpr<Math>, bindings: &BindingTerms) -> Sharing {
    match expr.as_ref().len().checked_sub(1) {
        Some(root) => share_roots(
            expr,
            &[Id::from(root)],
            bindings,
            &|_, uses, size, tokens| {
                uses >= 2 && (size >= SHARE_MIN_SIZE || uses * tokens > uses + tokens + 1)
            },
        ),
        None => Sharing::default(),
    }
}

/// Whether a node that is not a binding gets a name: `(index, uses, size in nodes,
/// tokens)`.
pub type Wanted<'a> = &'a dyn Fn(usize, usize, usize, usize) -> bool;

/// [`share`] for several results in one DAG: a sub-term counts its uses across all of
/// them and is named where `wanted` says; the roots themselves are never named.
pub fn share_roots(
    expr: &RecExpr<Math>,
    roots: &[Id],
    bindings: &BindingTerms,
    wanted: Wanted<'_>,
) -> Sharing {
    let nodes = expr.as_ref();
    let mut uses = vec![0usize; nodes.len()];
    let mut size = vec![0usize; nodes.len()];
    let mut tokens = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        size[i] = node
            .children()
            .iter()
            .fold(1usize, |acc, c| acc.saturating_add(size[usize::from(*c)]));
        tokens[i] = node.children().iter().fold(own_tokens(node), |acc, c| {
            acc.saturating_add(tokens[usize::from(*c)])
        });
        for c in node.children() {
            uses[usize::from(*c)] += 1;
        }
    }
    let reachable = reachable_from(expr, roots);
    let is_root = {
        let mut r = vec![false; nodes.len()];
        for id in roots {
            r[usize::from(*id)] = true;
        }
        r
    };
    // Terms are compared by id: the bindings are hash-consed once, and the nodes of
    // `expr` are looked up in that table (no printing of sub-terms).
    let binding_of = bindings.names_in(expr);
    let mut sharing = Sharing::default();
    let mut counter = 0;
    for i in 0..nodes.len() {
        if !reachable[i] || is_root[i] || nodes[i].is_leaf() {
            continue;
        }
        let id = Id::from(i);
        if let Some(name) = binding_of[i] {
            sharing.names.insert(id, name.to_string());
            sharing.order.push(id);
        } else if wanted(i, uses[i], size[i], tokens[i]) && !matches!(nodes[i], Math::Func(_)) {
            counter += 1;
            sharing.names.insert(id, format!("t{counter}"));
            sharing.order.push(id);
        }
    }
    sharing
}

/// The printed size of `expr` with these names, as `textsize.py` counts it: the tokens of
/// the main line, each name one token, and for each name 1 + the tokens of its definition.
pub fn printed_size(expr: &RecExpr<Math>, sharing: &Sharing) -> usize {
    let nodes = expr.as_ref();
    let Some(root) = nodes.len().checked_sub(1) else {
        return 0;
    };
    let mut inner = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        inner[i] = node.children().iter().fold(own_tokens(node), |acc, c| {
            let c = *c;
            acc.saturating_add(if sharing.names.contains_key(&c) {
                1
            } else {
                inner[usize::from(c)]
            })
        });
    }
    sharing.order.iter().fold(inner[root], |acc, id| {
        acc.saturating_add(1 + inner[usize::from(*id)])
    })
}

/// Whether each node is used by one of the roots (extraction can leave unused nodes
/// behind).
fn reachable_from(expr: &RecExpr<Math>, roots: &[Id]) -> Vec<bool> {
    let nodes = expr.as_ref();
    let mut seen = vec![false; nodes.len()];
    for id in roots {
        seen[usize::from(*id)] = true;
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
