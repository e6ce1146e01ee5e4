//! `--explain`: how a gradient was derived, as a chain of equalities, each step naming
//! the identity it applied.
//!
//! The chain is the engine's own record, not a second derivation: egg's explanation of
//! why the goal `(vjp 1 f X)` equals its best term once differentiated, and (shown as one
//! step) why that term equals the extracted result ([`RawExplanation`], recorded only
//! when [`Limits::explain`](crate::engine::Limits) is on; [`chain`] flattens egg's tree
//! explanation). What this module adds is presentation:
//!
//! - Every term is put in a normal form by the bookkeeping identities a reader takes for
//!   granted (`Normalizer`): `1 A = A`, `A + 0 = A`, `(Aᵀ)ᵀ = A`, a conjugate of a
//!   real value, the helpers (`unb`, `zeros-like`, …) resolved, `grad(G, X, X) = G`, and
//!   `grad(E, X, G) = 0` when E does not depend on X. So every term is an expression of
//!   the language (`vjp` prints as the built-in `grad`), equal to the result.
//! - Detours are cut: egg's proof may wander through terms it has already shown.
//! - Steps are grouped into lines: one per identity that matters (a derivative rule),
//!   with the bookkeeping after it folded in; a folded `grad(E, X, G) = 0` is mentioned
//!   as "E does not depend on X".
//! - Once no `grad` is left, the remaining rewrites are one line, "after
//!   simplification", ending with the result exactly as matdiff prints it.
//! - The result's names are used (`where t1 = …`, the user's binding names), and when
//!   lines would otherwise be long, sub-terms of f that recur, then the back-propagated
//!   weights that recur from line to line, are named too.

use crate::engine::{self, Outcome, RawExplanation};
use crate::lang::dims::{Kind, Shape};
use crate::lang::{node_shape, Fill, FillKind, Func, Math, MathAnalysis, Number};
use crate::render::{self, latex, text, Sharing};
use crate::Checked;
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// Lines longer than this (in characters) make the derivation name recurring sub-terms.
pub const NAMING_WIDTH: usize = 100;

/// Justifications start in one column when every line fits in this many characters.
const ALIGN_WIDTH: usize = 150;

/// The derivation of one gradient.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// The variable X.
    pub wrt: Symbol,
    /// `grad(f, X)`, the first term.
    pub goal: RecExpr<Math>,
    /// The steps, each an expression of the language equal to the result; the last
    /// one is the result as matdiff prints it.
    pub lines: Vec<Line>,
    /// Every term (goal first, then the lines), hash-consed into one expression so that
    /// named sub-terms are shared; `roots[i]` is the root of term i.
    pub all: RecExpr<Math>,
    pub roots: Vec<Id>,
    /// The expressions the justifications mention, and where they are in `all`.
    pub mentioned: HashMap<RecExpr<Math>, Id>,
    /// Names of recurring sub-terms of `all`, in definition order.
    pub sharing: Sharing,
}

/// One step: the term it arrives at and why it equals the one before.
#[derive(Debug, Clone)]
pub struct Line {
    pub term: RecExpr<Math>,
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
    Simplification { rewrites: usize },
}

/// A piece of a justification, printed in text or LaTeX.
#[derive(Debug, Clone)]
enum Piece<'a> {
    Text(&'static str),
    Owned(String),
    Expr(&'a RecExpr<Math>),
    /// ` for E`, when E is short (as printed).
    Subject(&'a RecExpr<Math>),
    /// A variable.
    Var(Symbol),
    /// A formula, as text and as LaTeX.
    Formula(&'static str, &'static str),
    /// A function's name (`σ`, `L`, `exp`).
    Name(Func),
    /// `σ'`.
    Prime(Func),
    /// `∇L`.
    Nabla(Func),
}

impl Reason {
    /// The justification as pieces: words, expressions and function names.
    fn pieces(&self, wrt: Symbol) -> Vec<Piece<'_>> {
        let Reason::Rule {
            rule,
            subject,
            independent,
            reversed,
        } = self
        else {
            return vec![Piece::Text("after simplification")];
        };
        if rule == "vjp-constant" {
            // The whole expression does not depend on X.
            let mut out = vec![Piece::Text("as ")];
            for e in independent {
                out.push(Piece::Expr(e));
            }
            out.push(Piece::Text(" does not depend on "));
            out.push(Piece::Var(wrt));
            return out;
        }
        let mut out = vec![Piece::Text("by ")];
        let head = subject.as_ref().and_then(|e| e.as_ref().last().cloned());
        let func = match head {
            Some(Math::Elementwise([f, _]) | Math::Apply([f, _])) => {
                subject.as_ref().and_then(|e| match &e[f] {
                    Math::Func(func) => Some(*func),
                    _ => None,
                })
            }
            _ => None,
        };
        match (rule_words(rule), func) {
            (Words::Plain(w), _) => out.push(Piece::Text(w)),
            (Words::Identity(t, l), _) => out.push(Piece::Formula(t, l)),
            (Words::ForSubject(w), _) => {
                out.push(Piece::Text(w));
                if let Some(e) = subject {
                    out.push(Piece::Subject(e));
                }
            }
            (Words::ElementwiseChain, Some(f)) if !f.is_builtin() => {
                out.push(Piece::Text("the element-wise chain rule ("));
                out.push(Piece::Prime(f));
                out.push(Piece::Text(")"));
            }
            (Words::ElementwiseChain, Some(f)) => {
                out.push(Piece::Text("the element-wise chain rule for "));
                out.push(Piece::Name(f));
                out.push(Piece::Text(" ("));
                out.push(Piece::Prime(f));
                out.push(Piece::Text(" = "));
                out.push(Piece::Text(builtin_derivative(f.name.as_str())));
                out.push(Piece::Text(")"));
            }
            (Words::ScalarChain, Some(f)) => {
                out.push(Piece::Text("the chain rule for "));
                out.push(Piece::Name(f));
                out.push(Piece::Text(" ("));
                out.push(Piece::Nabla(f));
                out.push(Piece::Text(")"));
            }
            (Words::ElementwiseChain, None) => out.push(Piece::Text("the element-wise chain rule")),
            (Words::ScalarChain, None) => out.push(Piece::Text("the chain rule")),
            (Words::Other, _) => out.push(Piece::Owned(format!("algebra (the rule {rule})"))),
        }
        if *reversed {
            out.push(Piece::Text(", read from right to left"));
        }
        if !independent.is_empty() {
            out.push(Piece::Text(" ("));
            for (i, e) in independent.iter().enumerate() {
                if i > 0 {
                    out.push(Piece::Text(if i + 1 == independent.len() {
                        " and "
                    } else {
                        ", "
                    }));
                }
                out.push(Piece::Expr(e));
            }
            out.push(Piece::Text(if independent.len() == 1 {
                " does not depend on "
            } else {
                " do not depend on "
            }));
            out.push(Piece::Var(wrt));
            out.push(Piece::Text(")"));
        }
        out
    }
}

/// How a rule is named in words.
enum Words {
    Plain(&'static str),
    /// A formula, as text and as LaTeX.
    Identity(&'static str, &'static str),
    /// Followed by " for E" when E is short.
    ForSubject(&'static str),
    ElementwiseChain,
    ScalarChain,
    Other,
}

/// The identity each derivative rule applies, in words (LaTeX-safe ASCII).
fn rule_words(rule: &str) -> Words {
    use Words::*;
    match rule {
        "vjp-sum-rule" => ForSubject("the sum rule"),
        "vjp-difference" => ForSubject("the difference rule"),
        "vjp-negation" => Plain("the rule for a negation"),
        "vjp-product-rule" => ForSubject("the product rule"),
        "vjp-scaling-left" | "vjp-scaling-right" => ForSubject("the product rule for scaling"),
        "vjp-quotient" => ForSubject("the quotient rule"),
        "vjp-hadamard-rule" => ForSubject("the Hadamard product rule"),
        "vjp-elementwise-quotient" => ForSubject("the element-wise quotient rule"),
        "vjp-transpose" => Plain("the transpose rule"),
        "vjp-adjoint" => Plain("the conjugate transpose rule"),
        "vjp-conj" => Plain("the rule for the complex conjugate"),
        "vjp-real" => Plain("the rule for the real part"),
        "vjp-inverse" => Plain("the derivative of the inverse"),
        "vjp-power" => ForSubject("the power rule"),
        "vjp-elementwise-power" => ForSubject("the element-wise power rule"),
        "vjp-trace" => Plain("the trace rule (the gradient of a trace is I)"),
        "vjp-determinant" => Plain("Jacobi's formula for the determinant"),
        "vjp-log-determinant" => Plain("the derivative of the log-determinant"),
        "vjp-sum" => Plain("the rule for a sum of entries"),
        "vjp-norm" => Plain("the derivative of the norm"),
        "vjp-norm1" => Plain("the derivative of the 1-norm"),
        "vjp-logsumexp" => Plain("the derivative of logsumexp (softmax)"),
        "vjp-softmax" => Plain("the derivative of softmax"),
        "vjp-diag" => Plain("the rule for diag"),
        "vjp-vec" => Plain("the rule for vec"),
        "vjp-chain-scalar-valued" => ScalarChain,
        "vjp-var" => Plain("the gradient of a variable with respect to itself"),
        "vjp-var-complex" => Plain("the gradient of a variable with respect to itself"),
        "vjp-var-real" => Plain("the gradient of a real variable with respect to itself"),
        "matrix-power-unroll" => ForSubject("expanding the matrix power"),
        r if r.starts_with("vjp-") => ElementwiseChain,
        "product-of-transposes" | "transpose-product" => {
            Identity("(A B)ᵀ = Bᵀ Aᵀ", r"(A B)^\top = B^\top A^\top")
        }
        "transpose-scalar" => Identity(
            "sᵀ = s for a 1×1 s",
            r"s^\top = s \text{ for a } 1 \times 1 \ s",
        ),
        "transpose-transpose" => Identity("(Aᵀ)ᵀ = A", r"(A^\top)^\top = A"),
        "sum-of-transposes" | "transpose-sum" => {
            Identity("(A + B)ᵀ = Aᵀ + Bᵀ", r"(A + B)^\top = A^\top + B^\top")
        }
        _ => Other,
    }
}

/// What the derivative of a built-in element-wise function is, in words.
fn builtin_derivative(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "log" => "1/u",
        "sin" => "cos",
        "cos" => "-sin",
        "tan" => "1 + tan^2",
        "tanh" => "1 - tanh^2",
        "sqrt" => "1/(2 sqrt)",
        "abs" => "sign",
        "sign" => "0",
        "sigmoid" => "sigmoid (1 - sigmoid)",
        "relu" => "the unit step",
        "softplus" => "sigmoid",
        _ => "its derivative",
    }
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
    pub var_shapes: &'a BTreeMap<Symbol, Shape>,
    pub complex_vars: &'a BTreeSet<Symbol>,
    /// The user's bindings, whose names are used for equal sub-terms.
    pub bindings: &'a [(String, RecExpr<Math>)],
    /// Names the automatic `t1`, `t2`, … must avoid.
    pub taken: BTreeSet<String>,
    /// Variables by shape, so that a zero matrix prints as `0 X`.
    pub shape_names: Vec<(Shape, String)>,
}

impl<'a> Context<'a> {
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
pub fn derivations(
    f: &RecExpr<Math>,
    outcome: &Outcome,
    ctx: &Context,
) -> Vec<(usize, Derivation)> {
    outcome
        .explanations
        .iter()
        .filter_map(|raw| {
            let d = outcome.derivatives.get(raw.index)?;
            Some((raw.index, derivation(f, raw, &d.expr, d.wrt, ctx)))
        })
        .collect()
}

/// One term of egg's explanation, with the rewrite that produced it.
struct RawStep {
    term: RecExpr<Math>,
    rewrite: Option<Rewrite>,
}

/// egg's explanation as a chain of terms, each one rewrite away from the one before:
/// the flattening of egg's tree explanation (what `Explanation::make_flat_explanation`
/// computes), over one hash-consed store of nodes, and with shared sub-proofs flattened
/// once, so that a step costs the depth of its rewrite rather than the size of the term.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Every node of every term; children come first.
    pub nodes: Vec<Math>,
    pub steps: Vec<ChainStep>,
}

/// One term of a [`Chain`] (an index into [`Chain::nodes`]) and the rewrite that gave it.
#[derive(Debug, Clone)]
pub struct ChainStep {
    pub term: Id,
    pub rewrite: Option<Rewrite>,
}

/// A rewrite: the rule (or the reason of a union), its direction, and where it applied.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub rule: String,
    /// The previous term rewrites to this one (else this one rewrites to the previous).
    pub forward: bool,
    /// Child indices from the root to the rewritten sub-term.
    pub path: Vec<usize>,
}

/// The chain of an egg explanation.
pub fn chain(explanation: &egg::Explanation<Math>) -> Chain {
    let mut b = ChainBuilder {
        nodes: vec![],
        memo: HashMap::new(),
        done: HashMap::new(),
    };
    let steps = b.proof(&explanation.explanation_trees);
    Chain {
        nodes: b.nodes,
        steps,
    }
}

struct ChainBuilder {
    nodes: Vec<Math>,
    memo: HashMap<Math, Id>,
    /// Sub-proofs already flattened (egg shares them).
    done: HashMap<*const egg::TreeTerm<Math>, std::rc::Rc<Vec<ChainStep>>>,
}

impl ChainBuilder {
    fn add(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        self.nodes.push(node.clone());
        let id = Id::from(self.nodes.len() - 1);
        self.memo.insert(node, id);
        id
    }

    /// A sequence of proofs of one term, joined: a proof that starts without a rewrite
    /// continues the previous one (its first term is the previous one's last).
    fn proof(&mut self, trees: &[std::rc::Rc<egg::TreeTerm<Math>>]) -> Vec<ChainStep> {
        let mut flat: Vec<ChainStep> = vec![];
        for t in trees {
            let mut steps = (*self.tree(t)).clone();
            if steps[0].rewrite.is_none() {
                if let Some(last) = flat.pop() {
                    steps[0].rewrite = last.rewrite;
                }
            }
            flat.extend(steps);
        }
        flat
    }

    /// One term whose children change one after the other, each by its own proof.
    fn tree(&mut self, t: &std::rc::Rc<egg::TreeTerm<Math>>) -> std::rc::Rc<Vec<ChainStep>> {
        let key = std::rc::Rc::as_ptr(t);
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        let children: Vec<Vec<ChainStep>> = t.child_proofs.iter().map(|p| self.proof(p)).collect();
        let mut reps: Vec<Id> = children.iter().map(|c| c[0].term).collect();
        let build = |reps: &[Id]| {
            let mut k = 0;
            t.node.clone().map_children(|_| {
                k += 1;
                reps[k - 1]
            })
        };
        let first = self.add(build(&reps));
        let own = match (t.forward_rule, t.backward_rule) {
            (Some(r), _) => Some((r, true)),
            (None, Some(r)) => Some((r, false)),
            _ => None,
        };
        let rewrite = own
            .map(|(rule, forward)| Rewrite {
                rule: rule.to_string(),
                forward,
                path: vec![],
            })
            .or_else(|| {
                children
                    .iter()
                    .enumerate()
                    .find_map(|(i, c)| c[0].rewrite.as_ref().map(|r| prefixed(i, r)))
            });
        let mut out = vec![ChainStep {
            term: first,
            rewrite,
        }];
        for (i, c) in children.iter().enumerate() {
            for step in &c[1..] {
                reps[i] = step.term;
                let term = self.add(build(&reps));
                out.push(ChainStep {
                    term,
                    rewrite: step.rewrite.as_ref().map(|r| prefixed(i, r)),
                });
            }
        }
        let out = std::rc::Rc::new(out);
        self.done.insert(key, out.clone());
        out
    }
}

/// A child's rewrite, seen from its parent.
fn prefixed(i: usize, r: &Rewrite) -> Rewrite {
    let mut path = vec![i];
    path.extend(&r.path);
    Rewrite {
        rule: r.rule.clone(),
        forward: r.forward,
        path,
    }
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

/// Hash-consed nodes: equal expressions get equal ids.
#[derive(Default)]
struct Interner {
    nodes: Vec<Math>,
    memo: HashMap<Math, Id>,
}

impl Interner {
    fn add(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        self.nodes.push(node.clone());
        let id = Id::from(self.nodes.len() - 1);
        self.memo.insert(node, id);
        id
    }

    /// The id of every node of `e` (the root's last).
    fn intern_all(&mut self, e: &RecExpr<Math>) -> Vec<Id> {
        let mut map: Vec<Id> = Vec::with_capacity(e.as_ref().len());
        for node in e.as_ref() {
            let node = node.clone().map_children(|c| map[usize::from(c)]);
            map.push(self.add(node));
        }
        map
    }

    fn intern(&mut self, e: &RecExpr<Math>) -> Id {
        *self.intern_all(e).last().unwrap_or(&Id::from(0))
    }
}

/// The derivation of the gradient `result` of f with respect to `wrt`, from egg's
/// explanation of the goal's equality with the result.
pub fn derivation(
    f: &RecExpr<Math>,
    raw: &RawExplanation,
    result: &RecExpr<Math>,
    wrt: Symbol,
    ctx: &Context,
) -> Derivation {
    let store = RecExpr::from(raw.steps.nodes.clone());
    let steps: Vec<RawStep> = raw
        .steps
        .steps
        .iter()
        .map(|s| RawStep {
            term: render::subexpr(&store, s.term),
            rewrite: s.rewrite.clone(),
        })
        .collect();
    let mut interner = Interner::default();
    if steps.is_empty() {
        // Never expected: egg's explanations start with the goal.
        let lines = vec![Line {
            term: result.clone(),
            reason: Reason::Simplification { rewrites: 0 },
        }];
        let goal = engine::gradient_goal(f, wrt);
        let (all, roots, mentioned) = combine(&goal, &lines, &[]);
        let sharing = name_sub_terms(f, result, &all, &roots, ctx);
        return Derivation {
            wrt,
            goal,
            lines,
            all,
            roots,
            mentioned,
            sharing,
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
                                Some(normalize(&render::subexpr(&lhs, *e), ctx, &mut interner).term)
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
    let printed = |e: &RecExpr<Math>| text::expr_to_string(e);
    let last = lines.last().map(|l| printed(&l.term));
    if last.as_deref() != Some(printed(result).as_str()) {
        lines.push(Line {
            term: result.clone(),
            reason: Reason::Simplification {
                rewrites: steps.len() - 1 - kept[done] + raw.simplification_steps,
            },
        });
    } else if let Some(line) = lines.last_mut() {
        line.term = result.clone();
    }
    let extras: Vec<&RecExpr<Math>> = lines
        .iter()
        .flat_map(|l| match &l.reason {
            Reason::Rule {
                subject,
                independent,
                ..
            } => subject.iter().chain(independent).collect::<Vec<_>>(),
            Reason::Simplification { .. } => vec![],
        })
        .collect();
    let (all, roots, mentioned) = combine(&goal, &lines, &extras);
    let sharing = name_sub_terms(f, result, &all, &roots, ctx);
    Derivation {
        wrt,
        goal,
        lines,
        all,
        roots,
        mentioned,
        sharing,
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
    render::subexpr(e, id)
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

fn normalize(term: &RecExpr<Math>, ctx: &Context, interner: &mut Interner) -> Normal {
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
    let term = engine::left_associate(&render::subexpr(&built, root), ctx.var_shapes);
    let mut independent = vec![];
    let mut independent_exprs = vec![];
    for &e in &n.independent {
        let expr = render::subexpr(&built, e);
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
            OnesLike([a]) => self
                .fill(FillKind::Ones, self.shape(a))
                .unwrap_or_else(|| self.push(node)),
            EyeLike([a]) => {
                let shape = self.shape(a).map(|s| Shape::new(s.rows.clone(), s.rows));
                self.fill(FillKind::Identity, shape)
                    .unwrap_or_else(|| self.push(node))
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

// ---------------------------------------------------------------------------------------
// Naming recurring sub-terms

/// The goal, every line's term and the expressions the justifications mention, in one
/// hash-consed expression: the roots of the terms, and of the mentioned expressions by
/// their s-expression.
fn combine(
    goal: &RecExpr<Math>,
    lines: &[Line],
    extras: &[&RecExpr<Math>],
) -> (RecExpr<Math>, Vec<Id>, HashMap<RecExpr<Math>, Id>) {
    let mut nodes: Vec<Math> = vec![];
    let mut memo: HashMap<Math, Id> = HashMap::new();
    let mut add = |term: &RecExpr<Math>| {
        let mut map: Vec<Id> = vec![];
        for node in term.as_ref() {
            let node = node.clone().map_children(|c| map[usize::from(c)]);
            let id = *memo.entry(node.clone()).or_insert_with(|| {
                nodes.push(node);
                Id::from(nodes.len() - 1)
            });
            map.push(id);
        }
        *map.last().unwrap_or(&Id::from(0))
    };
    let roots: Vec<Id> = std::iter::once(goal)
        .chain(lines.iter().map(|l| &l.term))
        .map(&mut add)
        .collect();
    let mentioned = extras.iter().map(|&e| (e.clone(), add(e))).collect();
    (RecExpr::from(nodes), roots, mentioned)
}

/// Names for recurring sub-terms: the user's bindings and the names of the result as
/// matdiff prints it (`where t1 = …`), always; when some line would still be longer
/// than [`NAMING_WIDTH`], also new `t…` for sub-terms of f that occur more than once,
/// and then for other sub-terms that occur in several lines (the growing weights of a
/// chain of layers), smallest first, so that each definition uses the names before it.
fn name_sub_terms(
    f: &RecExpr<Math>,
    result: &RecExpr<Math>,
    all: &RecExpr<Math>,
    roots: &[Id],
    ctx: &Context,
) -> Sharing {
    let nodes = all.as_ref();
    let mut sharing = Sharing {
        shape_names: ctx.shape_names.clone(),
        ..Sharing::default()
    };
    // `all` is hash-consed: interning other expressions after it finds their nodes.
    let mut interner = Interner::default();
    interner.intern_all(all);
    let in_all = |id: Id| usize::from(id) < nodes.len();
    let mut used: BTreeSet<String> = ctx.taken.clone();
    // The names of the result as printed (the user's bindings among them).
    let printed = render::share(result, ctx.bindings);
    let result_ids = interner.intern_all(result);
    for id in &printed.order {
        let at = result_ids[usize::from(*id)];
        if in_all(at) {
            let name = printed.names[id].clone();
            used.insert(name.clone());
            sharing.names.insert(at, name);
        }
    }
    // The user's bindings anywhere else.
    for (name, e) in ctx.bindings {
        let at = interner.intern(e);
        if e.as_ref().len() > 1 && in_all(at) {
            sharing.names.entry(at).or_insert_with(|| name.clone());
        }
    }
    let widest = |sharing: &Sharing| {
        roots
            .iter()
            .map(|&r| print_root(all, r, sharing).chars().count())
            .max()
            .unwrap_or(0)
    };
    // How often each node occurs in the terms' trees, and in how many terms.
    let mut occurrences = vec![0usize; nodes.len()];
    let mut terms = vec![0usize; nodes.len()];
    for &r in roots {
        let mut paths = vec![0usize; nodes.len()];
        paths[usize::from(r)] = 1;
        for i in (0..nodes.len()).rev() {
            if paths[i] == 0 {
                continue;
            }
            for c in nodes[i].children() {
                paths[usize::from(*c)] = paths[usize::from(*c)].saturating_add(paths[i]);
            }
        }
        for i in 0..nodes.len() {
            occurrences[i] = occurrences[i].saturating_add(paths[i]);
            terms[i] += usize::from(paths[i] > 0);
        }
    }
    let in_f: BTreeSet<Id> = interner.intern_all(f).into_iter().collect();
    // Definitions are values: nothing with a `grad` inside is named.
    let mut has_grad = vec![false; nodes.len()];
    for i in 0..nodes.len() {
        has_grad[i] = matches!(nodes[i], Math::Vjp(_))
            || nodes[i]
                .children()
                .iter()
                .any(|c| has_grad[usize::from(*c)]);
    }
    let mut counter = 0;
    for pass in [0, 1] {
        if widest(&sharing) <= NAMING_WIDTH {
            break;
        }
        // Sizes counting a named sub-term as one node.
        let mut size = vec![0usize; nodes.len()];
        for i in 0..nodes.len() {
            let id = Id::from(i);
            size[i] = 1 + nodes[i]
                .children()
                .iter()
                .map(|c| {
                    if sharing.names.contains_key(c) {
                        1
                    } else {
                        size[usize::from(*c)]
                    }
                })
                .sum::<usize>();
            let recurs = match pass {
                0 => occurrences[i] >= 2 && in_f.contains(&id),
                _ => terms[i] >= 2 && !matches!(nodes[i], Math::Vjp(_)),
            };
            let worth = size[i] >= 5
                && recurs
                && !has_grad[i]
                && !roots.contains(&id)
                && !matches!(nodes[i], Math::Func(_))
                && !sharing.names.contains_key(&id);
            if worth {
                let name = loop {
                    counter += 1;
                    let name = format!("t{counter}");
                    if !used.contains(&name) {
                        break name;
                    }
                };
                used.insert(name.clone());
                sharing.names.insert(id, name);
            }
        }
    }
    // Definitions in the order of the nodes: sub-terms before the terms using them.
    sharing.order = sharing.names.keys().copied().collect();
    sharing.order.sort();
    sharing
}

/// The text of the term rooted at `root` of `all`, with the names of `sharing`.
fn print_root(all: &RecExpr<Math>, root: Id, sharing: &Sharing) -> String {
    let prefix = prefix(all, root);
    let names_only = Sharing {
        names: sharing.names.clone(),
        order: vec![],
        shape_names: sharing.shape_names.clone(),
    };
    let (main, _) = text::with_sharing(&prefix, &names_only);
    if sharing.names.contains_key(&root) {
        // A whole term that is a named sub-term prints as its name.
        return sharing.names[&root].clone();
    }
    main
}

/// The nodes up to `root`, so that `root` is the last one (ids unchanged).
fn prefix(all: &RecExpr<Math>, root: Id) -> RecExpr<Math> {
    RecExpr::from(all.as_ref()[..=usize::from(root)].to_vec())
}

// ---------------------------------------------------------------------------------------
// Text

/// A justification's subject is shown when it prints in at most this many characters.
const SUBJECT_WIDTH: usize = 30;

impl Derivation {
    /// The text of term `i` (0 is the goal), with named sub-terms.
    pub fn term_text(&self, i: usize) -> String {
        print_root(&self.all, self.roots[i], &self.sharing)
    }

    /// The text of an expression a justification mentions, with named sub-terms.
    fn mention_text(&self, e: &RecExpr<Math>) -> String {
        match self.mentioned.get(e) {
            Some(&id) => print_root(&self.all, id, &self.sharing),
            None => text::expr_to_string(e),
        }
    }

    /// The named sub-terms as `(name, definition)`, in definition order.
    pub fn definitions(&self) -> Vec<(String, String)> {
        self.sharing
            .order
            .iter()
            .map(|&id| {
                let mut without = self.sharing.clone();
                without.names.remove(&id);
                (
                    self.sharing.names[&id].clone(),
                    print_root(&self.all, id, &without),
                )
            })
            .collect()
    }

    /// Whether some step writes `grad(E, X, G)` (which the text then explains).
    pub fn uses_weighted_grad(&self) -> bool {
        self.lines.iter().any(|l| {
            l.term
                .as_ref()
                .iter()
                .any(|n| matches!(n, Math::Vjp([g, _, _]) if !matches!(l.term[*g], Math::Num(_))))
        })
    }

    /// The derivation as text: `label = grad(f, X)`, then `= term   by …` per line,
    /// then the named sub-terms.
    pub fn to_text(&self, label: &str) -> String {
        let indent = " ".repeat(label.chars().count());
        let terms: Vec<String> = (1..self.roots.len()).map(|i| self.term_text(i)).collect();
        let reasons: Vec<String> = self
            .lines
            .iter()
            .map(|l| self.render_text(&l.reason.pieces(self.wrt)))
            .collect();
        let width = terms.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        let widest = terms
            .iter()
            .zip(&reasons)
            .map(|(t, r)| width.max(t.chars().count()) + r.chars().count())
            .max()
            .unwrap_or(0);
        let aligned = widest + 3 <= ALIGN_WIDTH;
        let mut out = format!("{label} = {}\n", self.term_text(0));
        for (t, r) in terms.iter().zip(&reasons) {
            if aligned {
                let pad = " ".repeat(width - t.chars().count() + 3);
                let _ = writeln!(out, "{indent} = {t}{pad}{r}");
            } else {
                let _ = writeln!(out, "{indent} = {t}");
                let _ = writeln!(out, "{indent}     {r}");
            }
        }
        for (name, def) in self.definitions() {
            let _ = writeln!(out, "  where {name} = {def}");
        }
        if self.uses_weighted_grad() {
            let _ = writeln!(
                out,
                "  grad(E, {x}, G) is the gradient of sum(G ∘ E) with respect to {x}, G held fixed",
                x = self.wrt
            );
        }
        out
    }

    fn render_text(&self, pieces: &[Piece]) -> String {
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Owned(t) => out.push_str(t),
                Piece::Expr(e) => out.push_str(&self.mention_text(e)),
                Piece::Subject(e) => {
                    let t = self.mention_text(e);
                    if t.chars().count() <= SUBJECT_WIDTH {
                        let _ = write!(out, " for {t}");
                    }
                }
                Piece::Var(v) => out.push_str(v.as_str()),
                Piece::Formula(t, _) => out.push_str(t),
                Piece::Name(f) => out.push_str(f.name.as_str()),
                Piece::Prime(f) => {
                    let _ = write!(out, "{}{}", f.name, "'".repeat(f.order as usize + 1));
                }
                Piece::Nabla(f) => {
                    let _ = write!(out, "∇{}", f.name);
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// LaTeX

/// A variable name for the `i`-th `grad` while LaTeX is printed around it.
fn placeholder(i: usize) -> String {
    format!("QQgradQQ{i}")
}

/// Prints sub-terms of a derivation as LaTeX. `grad` is not a node the LaTeX printer
/// knows, so each one is printed as a placeholder variable that is then replaced:
/// `\nabla_{X} e`, or `\nabla_{X} \langle G, E \rangle`.
struct TexPrinter<'a> {
    /// `all` with every `grad` replaced by its placeholder.
    expr: RecExpr<Math>,
    sharing: &'a Sharing,
    ctx: latex::Context,
    /// Placeholder as printed → its LaTeX, innermost first.
    grads: Vec<(String, String)>,
}

impl<'a> TexPrinter<'a> {
    fn new(d: &'a Derivation, ctx: &latex::Context) -> TexPrinter<'a> {
        let nodes = d.all.as_ref();
        let mut ctx = ctx.clone();
        let mut replaced: Vec<Math> = Vec::with_capacity(nodes.len());
        let mut grads: Vec<[Id; 3]> = vec![];
        for node in nodes {
            match node {
                Math::Vjp(children) => {
                    let name = Symbol::from(placeholder(grads.len()));
                    if let Math::Var(x) = nodes[usize::from(children[2])] {
                        if let Some(s) = ctx.var_shapes.get(&x).cloned() {
                            ctx.var_shapes.insert(name, s);
                        }
                    }
                    grads.push(*children);
                    replaced.push(Math::Var(name));
                }
                other => replaced.push(other.clone()),
            }
        }
        let mut p = TexPrinter {
            expr: RecExpr::from(replaced),
            sharing: &d.sharing,
            ctx,
            grads: vec![],
        };
        for (k, [g, e, x]) in grads.into_iter().enumerate() {
            let xs = p.print(x, p.sharing);
            let es = p.print(e, p.sharing);
            let body = match nodes[usize::from(g)] {
                Math::Num(n) if n.value() == 1.0 => {
                    let plain = p.sharing.names.contains_key(&e)
                        || matches!(
                            nodes[usize::from(e)],
                            Math::Var(_)
                                | Math::Apply(_)
                                | Math::Elementwise(_)
                                | Math::Grad(_)
                                | Math::Trace(_)
                                | Math::Det(_)
                                | Math::LogDet(_)
                                | Math::Sum(_)
                                | Math::Norm(_)
                                | Math::Norm1(_)
                                | Math::LogSumExp(_)
                        );
                    if plain {
                        format!(r"\nabla_{{{xs}}} {es}")
                    } else {
                        format!(r"\nabla_{{{xs}}} \left( {es} \right)")
                    }
                }
                _ => {
                    let gs = p.print(g, p.sharing);
                    format!(r"\nabla_{{{xs}}} \left\langle {gs}, {es} \right\rangle")
                }
            };
            p.grads.push((latex::name(&placeholder(k)), body));
        }
        p
    }

    /// The sub-term at `root` as LaTeX, with the names of `sharing`.
    fn print(&self, root: Id, sharing: &Sharing) -> String {
        if let Some(name) = sharing.names.get(&root) {
            return latex::name(name);
        }
        let names_only = Sharing {
            names: sharing.names.clone(),
            order: vec![],
            shape_names: sharing.shape_names.clone(),
        };
        let text = latex::with_sharing(&prefix(&self.expr, root), &names_only, &self.ctx).0;
        // Later placeholders contain earlier ones: replace the latest first.
        self.grads
            .iter()
            .rev()
            .fold(text, |s, (from, to)| s.replace(from, to))
    }
}

impl Derivation {
    /// The derivation as an amsmath `align*` block: `label &= …`, then one
    /// `&= … && \text{by …}` per line, the named sub-terms, and what
    /// `\nabla_X \langle G, E \rangle` means when a step uses it.
    pub fn to_latex(&self, label: &str, ctx: &latex::Context) -> String {
        let p = TexPrinter::new(self, ctx);
        let mut out = String::from("\\begin{align*}\n");
        let _ = write!(
            out,
            "  {label} &= {}",
            p.print(self.roots[0], &self.sharing)
        );
        for (line, &root) in self.lines.iter().zip(&self.roots[1..]) {
            let why = self.render_latex(&line.reason.pieces(self.wrt), &p);
            let _ = write!(out, " \\\\\n  &= {} && {why}", p.print(root, &self.sharing));
        }
        for (i, &id) in self.sharing.order.iter().enumerate() {
            let mut without = self.sharing.clone();
            without.names.remove(&id);
            let lead = if i == 0 { r"\text{where } " } else { "" };
            let _ = write!(
                out,
                " \\\\\n  {lead}{} &= {}",
                latex::name(&self.sharing.names[&id]),
                p.print(id, &without)
            );
        }
        if self.uses_weighted_grad() {
            let x = latex::name(self.wrt.as_str());
            let h = match ctx.hadamard {
                latex::HadamardSymbol::Odot => r"\odot",
                latex::HadamardSymbol::Circ => r"\circ",
            };
            let _ = write!(
                out,
                " \\\\\n  && \\text{{with }} \\nabla_{{{x}}} \\left\\langle G, E \\right\\rangle \\text{{ the gradient of }} \\operatorname{{sum}}(G {h} E) \\text{{ with respect to }} {x} \\text{{, }} G \\text{{ held fixed}}"
            );
        }
        out.push_str("\n\\end{align*}\n");
        out
    }

    fn render_latex(&self, pieces: &[Piece], p: &TexPrinter) -> String {
        let mention = |e: &RecExpr<Math>| match self.mentioned.get(e) {
            Some(&id) => p.print(id, &self.sharing),
            None => latex::expr_to_latex(e, &p.ctx),
        };
        let mut out = String::new();
        let mut words = String::new();
        let flush = |words: &mut String, out: &mut String| {
            if !words.is_empty() {
                let _ = write!(out, r"\text{{{words}}}");
                words.clear();
            }
        };
        for piece in pieces {
            let math = match piece {
                Piece::Text(t) => {
                    words.push_str(t);
                    continue;
                }
                Piece::Owned(t) => {
                    words.push_str(&t.replace(
                        |c: char| !c.is_ascii_alphanumeric() && !" ()-,.'".contains(c),
                        "-",
                    ));
                    continue;
                }
                Piece::Subject(e) => {
                    if self.mention_text(e).chars().count() > SUBJECT_WIDTH {
                        continue;
                    }
                    words.push_str(" for ");
                    mention(e)
                }
                Piece::Expr(e) => mention(e),
                Piece::Var(v) => latex::name(v.as_str()),
                Piece::Formula(_, l) => l.to_string(),
                Piece::Name(f) => latex::function_name(f.name.as_str()),
                Piece::Prime(f) => format!(
                    "{}{}",
                    latex::function_name(f.name.as_str()),
                    "'".repeat(f.order as usize + 1)
                ),
                Piece::Nabla(f) => format!(r"\nabla {}", latex::function_name(f.name.as_str())),
            };
            flush(&mut words, &mut out);
            let _ = write!(out, "{math}");
        }
        flush(&mut words, &mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Standalone programs

/// Declarations of every variable and generic function of a program, one statement
/// per line, so that a derivation step can be read back as a program of its own.
pub fn declarations(checked: &Checked) -> String {
    let mut out = String::new();
    for v in &checked.variables {
        let field = if v.complex { "C" } else { "R" };
        let ty = match v.kind {
            Kind::Scalar => field.to_string(),
            Kind::Vector => format!("{field}^({})", v.shape.rows),
            Kind::Matrix => format!("{field}^({}×{})", v.shape.rows, v.shape.cols),
        };
        let _ = writeln!(out, "{} : {ty}", v.name);
    }
    for f in &checked.functions {
        let ty = match f.kind {
            crate::FunctionKind::Elementwise => "elementwise",
            crate::FunctionKind::ScalarValued => "scalar-valued",
        };
        let _ = writeln!(out, "{} : {ty}", f.name);
    }
    out
}

impl Derivation {
    /// Each term (goal first) as a complete program: the declarations, the named
    /// sub-terms as bindings, and the term.
    pub fn programs(&self, checked: &Checked) -> Vec<String> {
        let mut head = declarations(checked);
        for (name, def) in self.definitions() {
            let _ = writeln!(head, "{name} = {def}");
        }
        (0..self.roots.len())
            .map(|i| format!("{head}{}\n", self.term_text(i)))
            .collect()
    }
}
