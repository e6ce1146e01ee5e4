//! `--explain`, the engine's part: how a gradient was derived, replayed from the
//! engine's own record as typed steps ([`Steps`]: identity, term after it).
//!
//! The chain is not a second derivation: egg's explanation of why the goal `(vjp 1 f X)`
//! equals its best term once differentiated, and (one step) why that term equals the
//! extracted result ([`RawExplanation`], recorded only when
//! [`Limits::explain`](crate::engine::Limits) is on; [`chain`](super::chain) flattens
//! egg's tree explanation). This module:
//!
//! - puts every term in a normal form by the bookkeeping identities a reader takes for
//!   granted (`Normalizer`): `1 A = A`, `A + 0 = A`, `(Aᵀ)ᵀ = A`, a conjugate of a
//!   real value, the helpers (`unb`, `zeros-like`, …) resolved, `grad(G, X, X) = G`, and
//!   `grad(E, X, G) = 0` when E does not depend on X. So every term is an expression of
//!   the language (`vjp` prints as the built-in `grad`), equal to the result;
//! - cuts detours: egg's proof may wander through terms it has already shown;
//! - groups steps into lines: one per identity that matters (a derivative rule), with
//!   the bookkeeping after it folded in; a folded `grad(E, X, G) = 0` is recorded as "E
//!   does not depend on X".
//!
//! Presentation (the final "after simplification" step, names of recurring sub-terms,
//! text and LaTeX) is the renderer's (`render/explain.rs`).

use crate::engine::chain::Rewrite;
use crate::engine::{self, Outcome, RawExplanation};
use crate::lang::dims::Shape;
use crate::lang::{node_shape, subexpr, Fill, FillKind, HashCons, Math, MathAnalysis, Number};
use crate::Checked;
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The steps of one gradient's derivation, as the engine's record gives them.
#[derive(Debug, Clone)]
pub struct Steps {
    /// The variable X.
    pub wrt: Symbol,
    /// `grad(f, X)`, the first term.
    pub goal: RecExpr<Math>,
    /// One line per derivative identity, each term an expression of the language equal
    /// to the result.
    pub lines: Vec<Line>,
    /// The rewrites from the last line's term to the extracted result.
    pub rewrites_after: usize,
}

/// One step: the term it arrives at and why it equals the one before.
#[derive(Debug, Clone)]
pub struct Line {
    /// The term the step arrives at.
    pub term: RecExpr<Math>,
    /// Why it equals the previous term.
    pub reason: Reason,
}

/// Why a step holds.
#[derive(Debug, Clone)]
pub enum Reason {
    /// A rewrite rule (with the bookkeeping folded after it).
    Rule {
        /// The rule's name, as in `src/engine/rules/`.
        rule: String,
        /// What the rule was applied to: E of `grad(E, X, G)` for derivative rules.
        subject: Option<RecExpr<Math>>,
        /// Operands found not to depend on X on the way (their `grad` is 0).
        independent: Vec<RecExpr<Math>>,
        /// The rule was used from right to left.
        reversed: bool,
    },
    /// The rewrites after the last derivative step, and how many there were.
    Simplification {
        /// How many rewrites simplification took.
        rewrites: usize,
    },
}

/// Whether a rule is an identity a derivation line is worth: the derivative rules
/// (except the bookkeeping `grad(G, X, X) = G` and `grad(E, X, G) = 0`).
fn is_derivative_step(rule: &str) -> bool {
    (rule.starts_with("vjp-")
        && rule != "vjp-var"
        && rule != "vjp-var-real"
        && rule != "vjp-var-complex"
        && rule != "vjp-constant")
        || rule == "matrix-power-unroll"
}

// ---------------------------------------------------------------------------------------
// Building the derivation

/// Everything the derivation needs to know beside the explanation.
pub struct Context<'a> {
    /// The shape of every variable, directions included.
    pub var_shapes: &'a BTreeMap<Symbol, Shape>,
    /// The variables declared complex.
    pub complex_vars: &'a BTreeSet<Symbol>,
    /// The user's bindings, whose names are used for equal sub-terms.
    pub bindings: &'a [(String, RecExpr<Math>)],
    /// The same bindings hash-consed (see [`crate::lang::BindingTerms`]).
    pub binding_terms: &'a crate::lang::BindingTerms,
    /// Names the automatic `t1`, `t2`, … must avoid.
    pub taken: BTreeSet<String>,
    /// Variables by shape, so that a zero matrix prints as `0 X`.
    pub shape_names: Vec<(Shape, String)>,
}

impl<'a> Context<'a> {
    /// The context of a checked program, with the shapes and complex variables of the engine's analysis.
    pub fn new(checked: &'a Checked, analysis: &'a MathAnalysis) -> Context<'a> {
        let taken = checked
            .variables
            .iter()
            .map(|v| v.name.clone())
            .chain(checked.functions.iter().map(|f| f.name.clone()))
            .chain(checked.bindings.iter().map(|(n, _)| n.clone()))
            .collect();
        Context {
            var_shapes: &analysis.var_shapes,
            complex_vars: &analysis.complex_vars,
            bindings: &checked.bindings,
            binding_terms: &checked.binding_terms,
            taken,
            shape_names: checked
                .variables
                .iter()
                .map(|v| (v.shape.clone(), v.name.clone()))
                .collect(),
        }
    }
}

/// The derivations of every explained gradient of an engine run.
pub fn derivations(f: &RecExpr<Math>, outcome: &Outcome, ctx: &Context) -> Vec<(usize, Steps)> {
    outcome
        .explanations
        .iter()
        .filter_map(|raw| {
            let d = outcome.derivatives.get(raw.index)?;
            Some((raw.index, derivation(f, raw, d.wrt, ctx)))
        })
        .collect()
}

/// One term of egg's explanation, with the rewrite that produced it.
struct RawStep {
    term: RecExpr<Math>,
    rewrite: Option<Rewrite>,
}

/// A term in normal form, with the operands whose `grad` the normal form dropped.
struct Normal {
    term: RecExpr<Math>,
    /// The term, interned: equal terms have equal keys.
    key: Id,
    /// The operands, interned.
    independent: Vec<Id>,
    independent_exprs: Vec<RecExpr<Math>>,
    has_grad: bool,
}

/// The derivation of the gradient `result` of f with respect to `wrt`, from egg's
/// explanation of the goal's equality with the result.
pub fn derivation(f: &RecExpr<Math>, raw: &RawExplanation, wrt: Symbol, ctx: &Context) -> Steps {
    let store = RecExpr::from(raw.steps.nodes.clone());
    let steps: Vec<RawStep> = raw
        .steps
        .steps
        .iter()
        .map(|s| RawStep {
            term: subexpr(&store, s.term),
            rewrite: s.rewrite.clone(),
        })
        .collect();
    let mut interner = HashCons::default();
    if steps.is_empty() {
        // Never expected: egg's explanations start with the goal.
        return Steps {
            wrt,
            goal: engine::gradient_goal(f, wrt),
            lines: vec![],
            rewrites_after: 0,
        };
    }
    let normals: Vec<Normal> = steps
        .iter()
        .map(|s| normalize(&s.term, ctx, &mut interner))
        .collect();
    // Cut detours: a term seen before takes the chain back to where it was.
    let mut kept: Vec<usize> = vec![];
    let mut seen: HashMap<Id, usize> = HashMap::new();
    for (i, n) in normals.iter().enumerate() {
        if let Some(&at) = seen.get(&n.key) {
            for dropped in kept.drain(at + 1..) {
                seen.remove(&normals[dropped].key);
            }
        } else {
            seen.insert(n.key, kept.len());
            kept.push(i);
        }
    }
    let goal = engine::gradient_goal(f, wrt);
    let mut lines: Vec<Line> = vec![];
    // The derivation proper: up to the first term without `grad`.
    let done = kept
        .iter()
        .position(|&i| !normals[i].has_grad)
        .unwrap_or(kept.len() - 1);
    if done == 0 {
        // f does not depend on X at all, or is X.
        let constant = !f
            .as_ref()
            .iter()
            .any(|n| matches!(n, Math::Var(v) if *v == wrt));
        lines.push(Line {
            term: normals[kept[0]].term.clone(),
            reason: Reason::Rule {
                rule: if constant { "vjp-constant" } else { "vjp-var" }.into(),
                subject: None,
                independent: if constant { vec![f.clone()] } else { vec![] },
                reversed: false,
            },
        });
    }
    let mut mentioned: BTreeSet<Id> = BTreeSet::new();
    for w in 1..=done {
        let (prev, i) = (kept[w - 1], kept[w]);
        let n = &normals[i];
        let fresh: Vec<RecExpr<Math>> = n
            .independent
            .iter()
            .zip(&n.independent_exprs)
            .filter(|(k, _)| !normals[prev].independent.contains(k) && !mentioned.contains(k))
            .map(|(_, e)| e.clone())
            .collect();
        let rewrite = steps[i].rewrite.as_ref();
        let important = rewrite.is_some_and(|r| is_derivative_step(&r.rule));
        match (important, lines.last_mut()) {
            (false, Some(line)) => {
                line.term = n.term.clone();
                if let Reason::Rule { independent, .. } = &mut line.reason {
                    independent.extend(fresh.iter().cloned());
                }
            }
            _ => {
                let (rule, forward, subject) = match rewrite {
                    Some(r) => {
                        // The rule's left-hand side matched the term before (forward)
                        // or after (backward).
                        let source = if r.forward {
                            &steps[i - 1].term
                        } else {
                            &steps[i].term
                        };
                        let lhs = subterm(source, &r.path);
                        let subject = match lhs.as_ref().last() {
                            Some(Math::Vjp([_, e, _])) => {
                                Some(normalize(&subexpr(&lhs, *e), ctx, &mut interner).term)
                            }
                            Some(Math::Pow(_)) => Some(normalize(&lhs, ctx, &mut interner).term),
                            _ => None,
                        };
                        // These identities read the same both ways.
                        let symmetric = matches!(
                            r.rule.as_str(),
                            "vjp-transpose" | "vjp-adjoint" | "vjp-conj" | "vjp-real"
                        );
                        (r.rule.clone(), r.forward || symmetric, subject)
                    }
                    None => (String::new(), true, None),
                };
                lines.push(Line {
                    term: n.term.clone(),
                    reason: Reason::Rule {
                        rule,
                        subject,
                        independent: fresh.clone(),
                        reversed: !forward,
                    },
                });
            }
        }
        for e in &fresh {
            mentioned.insert(interner.intern(e));
        }
    }
    Steps {
        wrt,
        goal,
        lines,
        rewrites_after: steps.len() - 1 - kept[done] + raw.simplification_steps,
    }
}

/// The sub-term at a path of child indices.
fn subterm(e: &RecExpr<Math>, path: &[usize]) -> RecExpr<Math> {
    let mut id = Id::from(e.as_ref().len() - 1);
    for &i in path {
        match e[id].children().get(i) {
            Some(&c) => id = c,
            None => break,
        }
    }
    subexpr(e, id)
}

// ---------------------------------------------------------------------------------------
// The normal form

/// What the normal form tracks for each node.
#[derive(Debug, Clone)]
struct Info {
    shape: Option<Shape>,
    free: BTreeSet<Symbol>,
    real: bool,
    zero: bool,
    number: Option<f64>,
    fill: Option<FillKind>,
}

/// Rebuilds a term bottom-up, applying the bookkeeping identities at every node.
struct Normalizer<'a> {
    nodes: Vec<Math>,
    info: Vec<Info>,
    memo: HashMap<Math, Id>,
    ctx: &'a Context<'a>,
    /// The operands E of `grad(E, X, G)` dropped as independent of X.
    independent: Vec<Id>,
}

fn normalize(term: &RecExpr<Math>, ctx: &Context, interner: &mut HashCons) -> Normal {
    let mut n = Normalizer {
        nodes: vec![],
        info: vec![],
        memo: HashMap::new(),
        ctx,
        independent: vec![],
    };
    let mut map: Vec<Id> = Vec::with_capacity(term.as_ref().len());
    for node in term.as_ref() {
        let node = node.clone().map_children(|c| map[usize::from(c)]);
        let id = n.add(node);
        map.push(id);
    }
    let root = *map.last().unwrap_or(&Id::from(0));
    let built = RecExpr::from(n.nodes.clone());
    let term = engine::left_associate(&subexpr(&built, root), ctx.var_shapes);
    let mut independent = vec![];
    let mut independent_exprs = vec![];
    for &e in &n.independent {
        let expr = subexpr(&built, e);
        let key = interner.intern(&expr);
        if !independent.contains(&key) && !matches!(built[e], Math::Num(_)) {
            independent.push(key);
            independent_exprs.push(expr);
        }
    }
    let has_grad = term.as_ref().iter().any(|n| matches!(n, Math::Vjp(_)));
    Normal {
        key: interner.intern(&term),
        term,
        independent,
        independent_exprs,
        has_grad,
    }
}

impl Normalizer<'_> {
    fn info(&self, id: Id) -> &Info {
        &self.info[usize::from(id)]
    }

    fn shape(&self, id: Id) -> Option<Shape> {
        self.info(id).shape.clone()
    }

    fn is_scalar(&self, id: Id) -> bool {
        self.info(id).shape.as_ref().is_some_and(Shape::is_scalar)
    }

    fn number(&self, id: Id) -> Option<f64> {
        self.info(id).number
    }

    fn num(&mut self, v: f64) -> Id {
        self.push(Math::Num(Number::new(v)))
    }

    /// A zero of this shape: the number 0 for 1×1.
    fn zero(&mut self, shape: Option<Shape>) -> Id {
        match shape {
            Some(s) if !s.is_scalar() => self.push(Math::Fill(Fill {
                kind: FillKind::Zeros,
                shape: s,
            })),
            _ => self.num(0.0),
        }
    }

    fn fill(&mut self, kind: FillKind, shape: Option<Shape>) -> Option<Id> {
        let shape = shape?;
        Some(if shape.is_scalar() && kind != FillKind::Commutation {
            self.num(1.0)
        } else {
            self.push(Math::Fill(Fill { kind, shape }))
        })
    }

    /// Adds a node whose children are in normal form, applying the identities.
    fn add(&mut self, node: Math) -> Id {
        use Math::*;
        let shape_of_node = |n: &Normalizer, node: &Math| {
            node_shape(node, &|c| n.shape(c), &|v| {
                n.ctx.var_shapes.get(&v).cloned()
            })
            .ok()
            .flatten()
        };
        match node {
            Unbroadcast([g, a]) => {
                if self.shape(g) == self.shape(a) || !self.is_scalar(a) {
                    g
                } else {
                    self.add(Sum([g]))
                }
            }
            ZerosLike([a]) => self.zero(self.shape(a)),
            OnesLike([a]) | EyeLike([a]) | NCols([a]) => {
                match self
                    .shape(a)
                    .and_then(|s| crate::lang::Fill::of_helper(&node, &s))
                {
                    Some(f) => self
                        .fill(f.kind, Some(f.shape))
                        .unwrap_or_else(|| self.push(node)),
                    None => self.push(node),
                }
            }
            Derive([f]) => match self.nodes[usize::from(f)] {
                Func(func) => self.push(Func(func.derivative())),
                _ => self.push(node),
            },
            Conj([a]) | Real([a]) if self.info(a).real => a,
            Imag([a]) if self.info(a).real => self.zero(self.shape(a)),
            Adjoint([a]) if self.info(a).real => self.add(Transpose([a])),
            // conj(conj(A)) = A, conj(Aᵀ) = Aᴴ, conj(Aᴴ) = Aᵀ
            Conj([a]) => match self.nodes[usize::from(a)] {
                Conj([b]) => b,
                Transpose([b]) => self.add(Adjoint([b])),
                Adjoint([b]) => self.add(Transpose([b])),
                _ => self.push(node),
            },
            // (Aᴴ)ᴴ = A, (Aᵀ)ᴴ = conj(A), conj(A)ᴴ = Aᵀ, sᴴ = conj(s)
            Adjoint([a]) => match self.nodes[usize::from(a)] {
                Adjoint([b]) => b,
                Transpose([b]) => self.add(Conj([b])),
                Conj([b]) => self.add(Transpose([b])),
                _ if self.is_scalar(a) => self.add(Conj([a])),
                _ => self.push(node),
            },
            Transpose([a]) => match self.nodes[usize::from(a)] {
                Transpose([b]) => b,
                Adjoint([b]) => self.add(Conj([b])),
                Conj([b]) => self.add(Adjoint([b])),
                _ if self.is_scalar(a) => a,
                _ if self.info(a).zero => self.zero(self.shape(a).map(|s| s.transposed())),
                _ if self.info(a).fill == Some(FillKind::Identity) => a,
                _ => self.push(node),
            },
            Neg([a]) => match (self.number(a), &self.nodes[usize::from(a)]) {
                (Some(v), _) => self.num(-v),
                (_, Neg([b])) => *b,
                _ if self.info(a).zero => a,
                _ => self.push(node),
            },
            Add([a, b]) | Sub([a, b]) => {
                let subtract = matches!(node, Sub(_));
                let fits = |n: &Normalizer, z: Id, other: Id| {
                    n.info(z).zero && (n.is_scalar(z) || n.shape(z) == n.shape(other))
                };
                if let (Some(x), Some(y)) = (self.number(a), self.number(b)) {
                    self.num(if subtract { x - y } else { x + y })
                } else if fits(self, b, a) {
                    a
                } else if fits(self, a, b) {
                    if subtract {
                        self.add(Neg([b]))
                    } else {
                        b
                    }
                } else if subtract && a == b {
                    self.zero(self.shape(a))
                } else if let Neg([c]) = self.nodes[usize::from(b)] {
                    // A + (-B) = A - B, A - (-B) = A + B
                    if subtract {
                        self.add(Add([a, c]))
                    } else {
                        self.add(Sub([a, c]))
                    }
                } else if let (false, Neg([c])) = (subtract, &self.nodes[usize::from(a)]) {
                    // (-A) + B = B - A
                    let c = *c;
                    self.add(Sub([b, c]))
                } else {
                    self.push(node)
                }
            }
            Mul([a, b]) => {
                let matmul = match (self.shape(a), self.shape(b)) {
                    (Some(sa), Some(sb)) => sa.cols == sb.rows,
                    _ => false,
                };
                if let (Some(x), Some(y)) = (self.number(a), self.number(b)) {
                    self.num(x * y)
                } else if self.info(a).zero || self.info(b).zero {
                    let s = shape_of_node(self, &node);
                    self.zero(s)
                } else if self.number(a) == Some(1.0) {
                    b
                } else if self.number(b) == Some(1.0) {
                    a
                } else if matmul && self.info(a).fill == Some(FillKind::Identity) {
                    b
                } else if matmul && self.info(b).fill == Some(FillKind::Identity) {
                    a
                } else {
                    self.push(node)
                }
            }
            EDiv([a, b]) if self.is_scalar(b) => self.add(Div([a, b])),
            Div([a, b]) => match (self.number(a), self.number(b)) {
                (Some(x), Some(y)) if y != 0.0 => self.num(x / y),
                (_, Some(1.0)) => a,
                _ if self.info(a).zero => a,
                _ => self.push(node),
            },
            Hadamard([a, b]) => {
                if let (Some(x), Some(y)) = (self.number(a), self.number(b)) {
                    self.num(x * y)
                } else if self.info(a).zero || self.info(b).zero {
                    let s = shape_of_node(self, &node);
                    self.zero(s)
                } else if self.number(a) == Some(1.0)
                    || (self.info(a).fill == Some(FillKind::Ones) && self.shape(a) == self.shape(b))
                {
                    b
                } else if self.number(b) == Some(1.0)
                    || (self.info(b).fill == Some(FillKind::Ones) && self.shape(a) == self.shape(b))
                {
                    a
                } else {
                    self.push(node)
                }
            }
            Pow([a, k]) => match (self.number(a), self.number(k)) {
                (Some(x), Some(y)) if x.powf(y).is_finite() => self.num(x.powf(y)),
                (_, Some(1.0)) => a,
                // A⁰ = I (1 for a scalar)
                (_, Some(0.0)) => {
                    let shape = self.shape(a);
                    self.fill(FillKind::Identity, shape)
                        .unwrap_or_else(|| self.push(node))
                }
                _ => self.push(node),
            },
            Sum([a]) | Trace([a]) if self.is_scalar(a) => a,
            Sum([a]) | Trace([a]) if self.info(a).zero => self.num(0.0),
            Vjp([g, e, x]) => {
                let var = match self.nodes[usize::from(x)] {
                    Var(v) => Some(v),
                    _ => None,
                };
                if e == x {
                    // grad(E, X, G) with E = X is G.
                    g
                } else if var.is_some_and(|v| !self.info(e).free.contains(&v)) || self.info(g).zero
                {
                    self.independent.push(e);
                    self.zero(self.shape(x))
                } else if self.is_scalar(e) && self.number(g) != Some(1.0) {
                    // For a 1×1 E: G grad(E, X).
                    let one = self.num(1.0);
                    let inner = self.add(Vjp([one, e, x]));
                    self.add(Mul([g, inner]))
                } else if !self.is_scalar(e) && self.number(g) == Some(1.0) {
                    let ones = self.fill(FillKind::Ones, self.shape(e)).unwrap_or(g);
                    self.push(Vjp([ones, e, x]))
                } else {
                    self.push(node)
                }
            }
            Num(n) => self.num(n.value()),
            other => self.push(other),
        }
    }

    /// Adds a node as it is (hash-consed) and computes what is known about it.
    fn push(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        let shape = node_shape(&node, &|c| self.shape(c), &|v| {
            self.ctx.var_shapes.get(&v).cloned()
        })
        .ok()
        .flatten();
        let mut free = BTreeSet::new();
        if let Math::Var(v) = &node {
            free.insert(*v);
        }
        for c in node.children() {
            free.extend(self.info(*c).free.iter().copied());
        }
        let real = match &node {
            Math::Var(v) => !self.ctx.complex_vars.contains(v),
            Math::Real(_) | Math::Imag(_) | Math::Norm(_) | Math::Norm1(_) => true,
            other => other.children().iter().all(|c| self.info(*c).real),
        };
        let (number, fill) = match &node {
            Math::Num(n) => (Some(n.value()), None),
            Math::Fill(f) => (None, Some(f.kind)),
            _ => (None, None),
        };
        let zero = number == Some(0.0) || fill == Some(FillKind::Zeros);
        self.info.push(Info {
            shape,
            free,
            real,
            zero,
            number,
            fill,
        });
        self.nodes.push(node.clone());
        let id = Id::from(self.nodes.len() - 1);
        self.memo.insert(node, id);
        id
    }
}
