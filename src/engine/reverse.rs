//! Reverse-mode differentiation in one pass over the expression DAG: an interpreter of
//! the `vjp` rule table (`rules/derivative.rs`).
//!
//! Equality saturation of `(vjp G E X)` rewrites needs one e-graph iteration per level of
//! f and builds one `vjp` term per path from the root, so its time grows as N² or worse.
//! Here each sub-expression E of f gets one adjoint G, the sum of what its parents
//! contribute, built once in the e-graph (and so shared); sub-expressions are visited
//! parents first. For E with adjoint G, the first `vjp` rule whose left-hand side
//! `(vjp ?g E ?x)` matches E's own node (with `?g := G`) and whose conditions hold (the
//! same [`Cond`](super::rules::Cond) code, on the e-class data) is instantiated: its
//! right-hand side is a signed sum of terms `(vjp Gi child X)`, each a contribution Gi to
//! a child's adjoint, and of finished terms (at the leaf X: the gradient itself). The
//! work is linear in the size of f; the e-graph then only simplifies.
//!
//! When some sub-expression that depends on X matches no rule on its own node (a matrix
//! power, which the rules first unroll; a construct without a rule), [`Interpreter::gradients`] returns
//! `None` and the caller falls back to saturation.

use super::budget::{self, LimitExceeded};
use super::rules::{self, Facts, Rule};
use crate::lang::{Math, MathEGraph, VarSet};
use egg::{ENodeOrVar, Id, Language, PatternAst, RecExpr, Symbol, Var};

/// A rule parsed for interpretation.
struct Compiled {
    rule: Rule,
    lhs: PatternAst<Math>,
    rhs: PatternAst<Math>,
}

fn compile(rule: &Rule) -> Compiled {
    let parse = |s: &str| {
        s.parse::<PatternAst<Math>>()
            .unwrap_or_else(|e| panic!("rule {}: bad pattern: {e}", rule.name))
    };
    Compiled {
        rule: *rule,
        lhs: parse(rule.lhs),
        rhs: parse(rule.rhs),
    }
}

fn root(ast: &PatternAst<Math>) -> Id {
    Id::from(ast.as_ref().len() - 1)
}

/// The reverse-mode rules, and the rules that remove `unb` helpers as they are built.
pub struct Interpreter {
    vjp: Vec<Compiled>,
    helpers: Vec<Compiled>,
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter::new()
    }
}

/// A pattern variable's binding: its e-class, and the node of f it stands for when it
/// is bound to a sub-expression of f.
#[derive(Clone, Copy)]
struct Binding {
    class: Id,
    node: Option<usize>,
}

type Subst = Vec<(Var, Binding)>;

fn lookup(subst: &Subst, v: Var) -> Option<Binding> {
    subst.iter().find(|(w, _)| *w == v).map(|(_, b)| *b)
}

impl Interpreter {
    /// The rule tables, parsed once.
    pub fn new() -> Interpreter {
        let vjp = rules::vjp_rules().iter().map(compile).collect();
        let helpers = rules::helper_rules()
            .iter()
            .map(compile)
            .filter(|c| {
                // Only rules `(op ?a ?b …)` over distinct variables: they match any node
                // of that operator.
                let ast = c.lhs.as_ref();
                match &ast[ast.len() - 1] {
                    ENodeOrVar::ENode(n) => n
                        .children()
                        .iter()
                        .all(|ch| matches!(ast[usize::from(*ch)], ENodeOrVar::Var(_))),
                    ENodeOrVar::Var(_) => false,
                }
            })
            .collect();
        Interpreter { vjp, helpers }
    }

    /// Match the pattern node `p` of `ast` against node `i` of f (its own node, not its
    /// e-class), extending `subst`.
    #[allow(clippy::too_many_arguments)]
    fn match_f(
        &self,
        egraph: &MathEGraph,
        ast: &PatternAst<Math>,
        p: Id,
        f: &[Math],
        classes: &[Id],
        i: usize,
        subst: &mut Subst,
    ) -> bool {
        match &ast[p] {
            ENodeOrVar::Var(v) => {
                let class = egraph.find(classes[i]);
                match lookup(subst, *v) {
                    Some(b) => egraph.find(b.class) == class,
                    None => {
                        subst.push((
                            *v,
                            Binding {
                                class,
                                node: Some(i),
                            },
                        ));
                        true
                    }
                }
            }
            ENodeOrVar::ENode(pn) => {
                let node = &f[i];
                pn.matches(node)
                    && pn.children().iter().zip(node.children()).all(|(pc, c)| {
                        self.match_f(egraph, ast, *pc, f, classes, usize::from(*c), subst)
                    })
            }
        }
    }

    /// Add the pattern node `p` of `ast` to the e-graph under `subst`, removing helpers
    /// (`unb`) as they are built.
    fn instantiate(
        &self,
        egraph: &mut MathEGraph,
        ast: &PatternAst<Math>,
        p: Id,
        subst: &Subst,
    ) -> Id {
        match &ast[p] {
            ENodeOrVar::Var(v) => {
                lookup(subst, *v)
                    .unwrap_or_else(|| panic!("pattern variable {v} is unbound"))
                    .class
            }
            ENodeOrVar::ENode(n) => {
                let node = n
                    .clone()
                    .map_children(|c| self.instantiate(egraph, ast, c, subst));
                self.add(egraph, node)
            }
        }
    }

    /// Add a node; a helper node that a helper rule removes is replaced by that rule's
    /// right-hand side.
    fn add(&self, egraph: &mut MathEGraph, node: Math) -> Id {
        if node.is_helper() {
            for c in &self.helpers {
                let ast = c.lhs.as_ref();
                let ENodeOrVar::ENode(pn) = &ast[ast.len() - 1] else {
                    continue;
                };
                if !pn.matches(&node) {
                    continue;
                }
                let subst: Subst = pn
                    .children()
                    .iter()
                    .zip(node.children())
                    .filter_map(|(pc, class)| match &ast[usize::from(*pc)] {
                        ENodeOrVar::Var(v) => Some((
                            *v,
                            Binding {
                                class: *class,
                                node: None,
                            },
                        )),
                        ENodeOrVar::ENode(_) => None,
                    })
                    .collect();
                if conditions_hold(egraph, &c.rule, &subst) {
                    return self.instantiate(egraph, &c.rhs, root(&c.rhs), &subst);
                }
            }
        }
        egraph.add(node)
    }

    /// Read a right-hand side as a signed sum: `vjp` terms become contributions to a
    /// child's adjoint, anything else (but zeros) a finished term.
    #[allow(clippy::too_many_arguments)]
    fn linear(
        &self,
        egraph: &mut MathEGraph,
        ast: &PatternAst<Math>,
        p: Id,
        negative: bool,
        subst: &Subst,
        x: &VarSet,
        out: &mut Vec<(usize, bool, Id)>,
        done: &mut Vec<(bool, Id)>,
    ) -> bool {
        let node = match &ast[p] {
            ENodeOrVar::ENode(n) => n,
            ENodeOrVar::Var(_) => {
                done.push((negative, self.instantiate(egraph, ast, p, subst)));
                return true;
            }
        };
        match node {
            Math::Add([a, b]) => {
                self.linear(egraph, ast, *a, negative, subst, x, out, done)
                    && self.linear(egraph, ast, *b, negative, subst, x, out, done)
            }
            Math::Sub([a, b]) => {
                self.linear(egraph, ast, *a, negative, subst, x, out, done)
                    && self.linear(egraph, ast, *b, !negative, subst, x, out, done)
            }
            Math::Neg([a]) => self.linear(egraph, ast, *a, !negative, subst, x, out, done),
            Math::ZerosLike(_) => true,
            Math::Vjp([g, e, _]) => {
                let ENodeOrVar::Var(v) = &ast[*e] else {
                    return false;
                };
                let Some(Binding {
                    class,
                    node: Some(child),
                }) = lookup(subst, *v)
                else {
                    return false;
                };
                // A child that depends on no X receives nothing (vjp-constant).
                if egraph[class].data.free.intersects(x) {
                    let gi = self.instantiate(egraph, ast, *g, subst);
                    out.push((child, negative, gi));
                }
                true
            }
            _ => {
                done.push((negative, self.instantiate(egraph, ast, p, subst)));
                true
            }
        }
    }

    /// The gradients of the 1×1 expression f wrt each variable of `xs` (its name and
    /// e-class), in one pass, seeded with `seed`: f's nodes are `f` (their e-classes
    /// `classes`, f's root last). The rules' `?x` stands for all of them at once: it
    /// depends on what any of them depends on, and at a leaf it is that leaf's variable.
    /// `None` when a sub-expression depending on some X matches no rule on its own node.
    #[allow(clippy::too_many_arguments)]
    pub fn gradients(
        &self,
        egraph: &mut MathEGraph,
        f: &[Math],
        classes: &[Id],
        xs: &[(Symbol, Id)],
        seed: Id,
        node_limit: usize,
    ) -> Result<Option<Vec<Id>>, LimitExceeded> {
        let n = f.len();
        let wanted = egraph.analysis.var_set(xs.iter().map(|(x, _)| *x));
        // What `?x` is when it is not a leaf: a value depending on every wanted variable.
        let mut any_x = egraph[xs[0].1].data.clone();
        any_x.free = wanted.clone();
        any_x.real = xs.iter().all(|(_, c)| egraph[*c].data.real);
        // Each contribution: (the contributing parent's index in f, sign, term); summed
        // in the order of the parents in f, left operands first, as a tree walk meets them.
        let mut contributions: Vec<Vec<(usize, bool, Id)>> = vec![vec![]; n];
        contributions[n - 1].push((n, false, seed));
        let mut done: Vec<Vec<(bool, Id)>> = vec![vec![]; xs.len()];
        let g_var: Var = "?g".parse().expect("a pattern variable");
        let x_var: Var = "?x".parse().expect("a pattern variable");
        for i in (0..n).rev() {
            let mut parts = std::mem::take(&mut contributions[i]);
            if parts.is_empty() {
                continue;
            }
            budget::check("differentiation")?;
            if egraph.total_number_of_nodes() > node_limit {
                return Err(budget::node_limit_exceeded("differentiation", node_limit));
            }
            parts.sort_by_key(|(parent, ..)| *parent);
            let parts: Vec<(bool, Id)> = parts.into_iter().map(|(_, neg, t)| (neg, t)).collect();
            let g = sum(egraph, &parts);
            let mut applied = false;
            for c in &self.vjp {
                let ast = &c.lhs;
                let ENodeOrVar::ENode(Math::Vjp([pg, pe, px])) = &ast[root(ast)] else {
                    continue;
                };
                let mut subst: Subst = vec![];
                if !self.match_f(egraph, ast, *pe, f, classes, i, &mut subst) {
                    continue;
                }
                if !matches!(&ast[*pg], ENodeOrVar::Var(w) if *w == g_var)
                    || lookup(&subst, g_var).is_some()
                    || !matches!(&ast[*px], ENodeOrVar::Var(w) if *w == x_var)
                {
                    continue;
                }
                subst.push((
                    g_var,
                    Binding {
                        class: g,
                        node: None,
                    },
                ));
                // `?x` bound by the match is a leaf: it must be one of the variables.
                let leaf = match lookup(&subst, x_var) {
                    Some(b) => {
                        let class = egraph.find(b.class);
                        match xs.iter().position(|(_, c)| egraph.find(*c) == class) {
                            Some(k) => Some(k),
                            None => continue,
                        }
                    }
                    None => None,
                };
                let holds = {
                    let facts = |name: &str| -> Option<&Facts> {
                        let v: Var = name.parse().ok()?;
                        if v == x_var && leaf.is_none() {
                            return Some(&any_x);
                        }
                        lookup(&subst, v).map(|b| &egraph[b.class].data)
                    };
                    c.rule.conds.iter().all(|cond| cond.holds(&facts))
                };
                if !holds {
                    continue;
                }
                let mut out = vec![];
                let mut finished = vec![];
                if !self.linear(
                    egraph,
                    &c.rhs,
                    root(&c.rhs),
                    false,
                    &subst,
                    &wanted,
                    &mut out,
                    &mut finished,
                ) {
                    continue;
                }
                if !finished.is_empty() {
                    // Finished terms come from leaves only.
                    let Some(k) = leaf else { return Ok(None) };
                    done[k].extend(finished);
                }
                for (child, negative, gi) in out {
                    contributions[child].push((i, negative, gi));
                }
                applied = true;
                break;
            }
            if !applied {
                return Ok(None);
            }
        }
        Ok(Some(
            done.iter()
                .zip(xs)
                .map(|(terms, &(_, var))| {
                    if terms.is_empty() {
                        egraph.add(Math::ZerosLike([var]))
                    } else {
                        sum(egraph, terms)
                    }
                })
                .collect(),
        ))
    }
}

/// Whether every condition of `rule` holds under `subst`, on the e-class data.
fn conditions_hold(egraph: &MathEGraph, rule: &Rule, subst: &Subst) -> bool {
    let facts = |name: &str| -> Option<&Facts> {
        let v: Var = name.parse().ok()?;
        lookup(subst, v).map(|b| &egraph[b.class].data)
    };
    rule.conds.iter().all(|c| c.holds(&facts))
}

/// The signed sum of terms: `a + b - c`, `-a` for a lone negative term.
fn sum(egraph: &mut MathEGraph, parts: &[(bool, Id)]) -> Id {
    let mut acc: Option<Id> = None;
    // Positive terms first, so that a sum starts without a negation where it can.
    let ordered = parts
        .iter()
        .filter(|(neg, _)| !neg)
        .chain(parts.iter().filter(|(neg, _)| *neg));
    for &(negative, term) in ordered {
        acc = Some(match (acc, negative) {
            (None, false) => term,
            (None, true) => egraph.add(Math::Neg([term])),
            (Some(a), false) => egraph.add(Math::Add([a, term])),
            (Some(a), true) => egraph.add(Math::Sub([a, term])),
        });
    }
    acc.expect("a sum of at least one term")
}

/// f with repeated sub-expressions merged (each node once), so that each gets one
/// adjoint; f's root stays last.
pub fn hash_cons(f: &RecExpr<Math>) -> RecExpr<Math> {
    let mut terms = crate::lang::HashCons::default();
    let root = terms.intern(f);
    let out = terms.into_expr();
    if usize::from(root) + 1 != out.as_ref().len() {
        return crate::lang::subexpr(&out, root);
    }
    out
}
