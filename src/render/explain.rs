//! `--explain`, presented: the derivation of a gradient as a chain of equalities, each
//! step naming the identity it applied, in text or LaTeX.
//!
//! The steps come from the engine ([`crate::engine::explain`]); this module adds:
//!
//! - the last step: once no `grad` is left, the remaining rewrites are one line, "after
//!   simplification", ending with the result exactly as matdiff prints it;
//! - the result's names (`where t1 = …`, the user's binding names), and when lines would
//!   otherwise be long, names for sub-terms of f that recur, then for the
//!   back-propagated weights that recur from line to line;
//! - the words of each identity, and the text and LaTeX renderings.

use super::{latex, text, Sharing};
use crate::engine::explain::{Context, Line, Reason, Steps};
use crate::engine::Outcome;
use crate::lang::dims::Kind;
use crate::lang::{Func, HashCons, Math};
use crate::Checked;
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeSet, HashMap};
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
    /// `roots[i]`: the root in [`all`](Self::all) of term i (0 is the goal).
    pub roots: Vec<Id>,
    /// The expressions the justifications mention, and where they are in `all`.
    pub mentioned: HashMap<RecExpr<Math>, Id>,
    /// Names of recurring sub-terms of `all`, in definition order.
    pub sharing: Sharing,
}

/// The derivations of every explained gradient of an engine run, with the index of
/// each one's result in `outcome.derivatives`.
pub fn derivations(
    f: &RecExpr<Math>,
    outcome: &Outcome,
    ctx: &Context,
) -> Vec<(usize, Derivation)> {
    crate::engine::explain::derivations(f, outcome, ctx)
        .into_iter()
        .filter_map(|(i, steps)| {
            let result = &outcome.derivatives.get(i)?.expr;
            Some((i, Derivation::new(f, steps, result, ctx)))
        })
        .collect()
}

impl Derivation {
    /// The derivation of the gradient `result` of `f` from the engine's steps: the
    /// final simplification step, and names for recurring sub-terms.
    pub fn new(
        f: &RecExpr<Math>,
        steps: Steps,
        result: &RecExpr<Math>,
        ctx: &Context,
    ) -> Derivation {
        let Steps {
            wrt,
            goal,
            mut lines,
            rewrites_after,
        } = steps;
        let printed = |e: &RecExpr<Math>| text::expr_to_string(e);
        let last = lines.last().map(|l| printed(&l.term));
        if last.as_deref() != Some(printed(result).as_str()) {
            lines.push(Line {
                term: result.clone(),
                reason: Reason::Simplification {
                    rewrites: rewrites_after,
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

/// The justification as pieces: words, expressions and function names.
fn pieces(reason: &Reason, wrt: Symbol) -> Vec<Piece<'_>> {
    {
        let Reason::Rule {
            rule,
            subject,
            independent,
            reversed,
        } = reason
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
        "canonical form" => {
            Plain("the canonical form of f (squared norms as sums of squares, standard functions by name)")
        }
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
    crate::lang::builtins::elementwise(name).map_or("its derivative", |b| b.derivative)
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
    let mut terms = HashCons::default();
    let roots: Vec<Id> = std::iter::once(goal)
        .chain(lines.iter().map(|l| &l.term))
        .map(|t| terms.intern(t))
        .collect();
    let mentioned = extras
        .iter()
        .map(|&e| (e.clone(), terms.intern(e)))
        .collect();
    (terms.into_expr(), roots, mentioned)
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
    let mut interner = HashCons::default();
    interner.intern_all(all);
    let in_all = |id: Id| usize::from(id) < nodes.len();
    let mut used: BTreeSet<String> = ctx.taken.clone();
    // The names of the result as printed (the user's bindings among them).
    let printed = super::share(result, ctx.binding_terms);
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
            .map(|l| self.render_text(&pieces(&l.reason, self.wrt)))
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

/// Prints sub-terms of a derivation as LaTeX (`grad` as `\nabla_{X} …`).
struct TexPrinter<'a> {
    all: &'a RecExpr<Math>,
    ctx: &'a latex::Context,
}

impl TexPrinter<'_> {
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
        latex::with_sharing(&prefix(self.all, root), &names_only, self.ctx).0
    }
}

impl Derivation {
    /// The derivation as an amsmath `align*` block: `label &= …`, then one
    /// `&= … && \text{by …}` per line, the named sub-terms, and what
    /// `\nabla_X \langle G, E \rangle` means when a step uses it.
    pub fn to_latex(&self, label: &str, ctx: &latex::Context) -> String {
        let p = TexPrinter {
            all: &self.all,
            ctx,
        };
        let mut out = String::from("\\begin{align*}\n");
        let _ = write!(
            out,
            "  {label} &= {}",
            p.print(self.roots[0], &self.sharing)
        );
        for (line, &root) in self.lines.iter().zip(&self.roots[1..]) {
            let why = self.render_latex(&pieces(&line.reason, self.wrt), &p);
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
            None => latex::expr_to_latex(e, p.ctx),
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
