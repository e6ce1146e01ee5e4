//! Shared terms outside the e-graph: the one hash-cons builder ([`HashCons`]) and the
//! table of the user's bindings the printers look results up in ([`BindingTerms`]).

use super::Math;
use egg::{Id, Language, RecExpr};
use std::collections::HashMap;

/// The sub-expression rooted at `id`, as an expression of its own.
pub fn subexpr(expr: &RecExpr<Math>, id: Id) -> RecExpr<Math> {
    expr[id].build_recexpr(|c| expr[c].clone())
}

/// Hash-consed nodes: equal expressions get equal ids. The one builder of shared terms.
#[derive(Debug, Clone, Default)]
pub struct HashCons {
    nodes: Vec<Math>,
    memo: HashMap<Math, Id>,
}

impl HashCons {
    /// The id of `node`, whose children are ids of this builder; added if new.
    pub fn add(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        self.nodes.push(node.clone());
        let id = Id::from(self.nodes.len() - 1);
        self.memo.insert(node, id);
        id
    }

    /// The id of `node` (children ids of this builder), if it was added.
    pub fn lookup(&self, node: &Math) -> Option<Id> {
        self.memo.get(node).copied()
    }

    /// The id of every node of `e` (the root's last).
    pub fn intern_all(&mut self, e: &RecExpr<Math>) -> Vec<Id> {
        let mut map: Vec<Id> = Vec::with_capacity(e.as_ref().len());
        for node in e.as_ref() {
            let node = node.clone().map_children(|c| map[usize::from(c)]);
            map.push(self.add(node));
        }
        map
    }

    /// The id of the root of `e`.
    pub fn intern(&mut self, e: &RecExpr<Math>) -> Id {
        *self.intern_all(e).last().unwrap_or(&Id::from(0))
    }

    /// Every node so far, children before parents.
    pub fn nodes(&self) -> &[Math] {
        &self.nodes
    }

    /// Every node so far, as one expression.
    pub fn into_expr(self) -> RecExpr<Math> {
        RecExpr::from(self.nodes)
    }
}

/// The user's bindings, hash-consed once, so that the printers find which sub-terms of
/// each result are a binding by looking their nodes up (linear in the result, however
/// many results a run prints).
#[derive(Debug, Clone, Default)]
pub struct BindingTerms {
    terms: HashCons,
    names: HashMap<Id, String>,
}

impl BindingTerms {
    /// The table of `bindings` (name, expression), the first name kept for equal terms.
    pub fn new(bindings: &[(String, RecExpr<Math>)]) -> BindingTerms {
        let mut table = BindingTerms::default();
        for (name, e) in bindings {
            if e.as_ref().len() > 1 {
                if let Some(&root) = table.terms.intern_all(e).last() {
                    table.names.entry(root).or_insert_with(|| name.clone());
                }
            }
        }
        table
    }

    /// For each node of `expr`, the name of the binding it equals, if any.
    pub fn names_in<'a>(&'a self, expr: &RecExpr<Math>) -> Vec<Option<&'a str>> {
        let mut ids: Vec<Option<Id>> = Vec::with_capacity(expr.as_ref().len());
        for node in expr.as_ref() {
            let mut known = true;
            let node = node.clone().map_children(|c| {
                ids[usize::from(c)].unwrap_or_else(|| {
                    known = false;
                    c
                })
            });
            ids.push(if known {
                self.terms.lookup(&node)
            } else {
                None
            });
        }
        ids.iter()
            .map(|id| id.and_then(|id| self.names.get(&id)).map(String::as_str))
            .collect()
    }
}
