//! Rewrite rules as data: one file per family, each rule a named identity with the
//! side conditions (shapes, zeros, dependence) under which it holds.

mod algebra;
mod canonical;
mod derivative;
mod forward;
mod jacobian;
mod kron;
mod neutral;
mod transpose;

use crate::lang::dims::Shape;
use crate::lang::{Data, Math, MathAnalysis, MathEGraph};
use egg::{ConditionalApplier, Id, Pattern, Rewrite, Subst, Var};

/// A side condition on the pattern variables of a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cond {
    /// The variable is 1×1.
    Scalar(&'static str),
    /// The variable is not 1×1.
    NotScalar(&'static str),
    /// Both have the same shape.
    SameShape(&'static str, &'static str),
    /// The first can be broadcast to the second: same shape, or the first is 1×1.
    FitsIn(&'static str, &'static str),
    /// `a b` is a matrix product: cols(a) = rows(b).
    MatMul(&'static str, &'static str),
    /// `a b` is a scaling: one operand 1×1 and cols(a) ≠ rows(b).
    NotMatMul(&'static str, &'static str),
    /// The variable is a column (n×1, n ≠ 1).
    Column(&'static str),
    /// The variable has more than one column.
    Wide(&'static str),
    /// Both have the same number of rows.
    SameRows(&'static str, &'static str),
    /// Both have the same number of columns.
    SameCols(&'static str, &'static str),
    /// The variable is a square matrix (not 1×1).
    Square(&'static str),
    /// Every entry is zero.
    Zero(&'static str),
    /// The identity matrix.
    Identity(&'static str),
    /// Every entry is one.
    Ones(&'static str),
    /// A number.
    Constant(&'static str),
    /// The first (a variable) occurs in one of the others.
    Depends(&'static str, &'static [&'static str]),
    /// The first (a variable) occurs in none of the others.
    Independent(&'static str, &'static [&'static str]),
    /// Real-valued whatever the complex variables are.
    Real(&'static str),
    /// Possibly complex-valued (not known to be real).
    Complex(&'static str),
    /// A generic (not built-in) function leaf.
    Generic(&'static str),
    /// A constant integer ≥ the bound.
    IntAtLeast(&'static str, i64),
    /// A constant integer ≤ the bound.
    IntAtMost(&'static str, i64),
}

/// What a condition may ask of a pattern variable: class-invariant facts only, the
/// e-class analysis data itself (conditions borrow it, never copy it).
pub type Facts = Data;

impl Data {
    /// The facts of an e-class: its analysis data (a copy, for callers that keep it).
    pub fn of(data: &Data) -> Facts {
        data.clone()
    }
}

fn is_scalar(f: &Facts) -> bool {
    f.shape.as_ref().is_some_and(Shape::is_scalar)
}

fn int_of(f: &Facts) -> Option<i64> {
    f.constant
        .filter(|c| c.fract() == 0.0 && c.abs() < 1e6)
        .map(|c| c as i64)
}

impl Cond {
    /// The pattern variables the condition reads.
    pub fn vars(&self) -> Vec<&'static str> {
        match *self {
            Cond::Scalar(v)
            | Cond::NotScalar(v)
            | Cond::Column(v)
            | Cond::Wide(v)
            | Cond::Square(v)
            | Cond::Zero(v)
            | Cond::Identity(v)
            | Cond::Ones(v)
            | Cond::Constant(v)
            | Cond::Real(v)
            | Cond::Complex(v)
            | Cond::Generic(v)
            | Cond::IntAtLeast(v, _)
            | Cond::IntAtMost(v, _) => vec![v],
            Cond::SameShape(a, b)
            | Cond::FitsIn(a, b)
            | Cond::MatMul(a, b)
            | Cond::NotMatMul(a, b)
            | Cond::SameRows(a, b)
            | Cond::SameCols(a, b) => vec![a, b],
            Cond::Depends(x, on) | Cond::Independent(x, on) => {
                std::iter::once(x).chain(on.iter().copied()).collect()
            }
        }
    }

    /// Whether the condition holds, given the facts of each pattern variable.
    pub fn holds<'a>(&self, facts: &dyn Fn(&str) -> Option<&'a Facts>) -> bool {
        let f = |v: &str| facts(v);
        let shape = |v: &str| f(v).and_then(|x| x.shape.as_ref());
        let matmul = |a: &str, b: &str| match (shape(a), shape(b)) {
            (Some(sa), Some(sb)) => sa.cols == sb.rows,
            _ => false,
        };
        let mentions = |x: &str, on: &[&str]| {
            let Some(fx) = f(x) else { return false };
            on.iter()
                .any(|v| f(v).is_some_and(|fv| fv.free.intersects(&fx.free)))
        };
        match *self {
            Cond::Scalar(v) => f(v).is_some_and(is_scalar),
            Cond::NotScalar(v) => f(v).is_some_and(|x| x.shape.is_some() && !is_scalar(x)),
            Cond::SameShape(a, b) => shape(a).is_some() && shape(a) == shape(b),
            Cond::FitsIn(a, b) => {
                shape(a).is_some()
                    && (shape(a) == shape(b) || shape(a).is_some_and(|s| s.is_scalar()))
            }
            Cond::MatMul(a, b) => matmul(a, b),
            Cond::NotMatMul(a, b) => {
                !matmul(a, b)
                    && (shape(a).is_some_and(|s| s.is_scalar())
                        || shape(b).is_some_and(|s| s.is_scalar()))
            }
            Cond::SameRows(a, b) => match (shape(a), shape(b)) {
                (Some(sa), Some(sb)) => sa.rows == sb.rows,
                _ => false,
            },
            Cond::SameCols(a, b) => match (shape(a), shape(b)) {
                (Some(sa), Some(sb)) => sa.cols == sb.cols,
                _ => false,
            },
            Cond::Column(v) => shape(v).is_some_and(|s| s.cols.is_one() && !s.is_scalar()),
            Cond::Wide(v) => shape(v).is_some_and(|s| !s.cols.is_one()),
            Cond::Square(v) => shape(v).is_some_and(|s| s.rows == s.cols && !s.is_scalar()),
            Cond::Zero(v) => f(v).is_some_and(|x| x.zero),
            Cond::Identity(v) => f(v).is_some_and(|x| x.identity),
            Cond::Ones(v) => f(v).is_some_and(|x| x.ones),
            Cond::Constant(v) => f(v).is_some_and(|x| x.constant.is_some()),
            Cond::Depends(x, on) => mentions(x, on),
            Cond::Independent(x, on) => !mentions(x, on),
            Cond::Real(v) => f(v).is_some_and(|x| x.real),
            Cond::Complex(v) => f(v).is_some_and(|x| !x.real),
            Cond::Generic(v) => f(v)
                .and_then(|x| x.func)
                .is_some_and(|func| !func.is_builtin()),
            Cond::IntAtLeast(v, n) => f(v).and_then(int_of).is_some_and(|k| k >= n),
            Cond::IntAtMost(v, n) => f(v).and_then(int_of).is_some_and(|k| k <= n),
        }
    }
}

/// One rewrite rule: a name stating the law, both sides, and its side conditions.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The rule's name (`neg-neg`, `mul-neg-left`, …), by which explanations cite it.
    pub name: &'static str,
    /// The left-hand side, an egg pattern over [`Math`] with `?`-variables.
    pub lhs: &'static str,
    /// The right-hand side, over the same pattern variables.
    pub rhs: &'static str,
    /// Conditions on the pattern variables that must all hold for the rule to fire.
    pub conds: &'static [Cond],
}

/// A rule that always holds.
pub const fn rule(name: &'static str, lhs: &'static str, rhs: &'static str) -> Rule {
    Rule {
        name,
        lhs,
        rhs,
        conds: &[],
    }
}

/// A rule that holds under side conditions.
pub const fn rule_if(
    name: &'static str,
    lhs: &'static str,
    rhs: &'static str,
    conds: &'static [Cond],
) -> Rule {
    Rule {
        name,
        lhs,
        rhs,
        conds,
    }
}

/// All conditions of a rule, checked on the e-class data of the match; the pattern
/// variables they read are parsed once, when the rule is built.
struct Conditions {
    conds: &'static [Cond],
    vars: Vec<(&'static str, Var)>,
}

impl Conditions {
    fn new(conds: &'static [Cond]) -> Conditions {
        let mut vars: Vec<(&'static str, Var)> = vec![];
        for c in conds {
            for name in c.vars() {
                if !vars.iter().any(|(n, _)| *n == name) {
                    if let Ok(var) = name.parse::<Var>() {
                        vars.push((name, var));
                    }
                }
            }
        }
        Conditions { conds, vars }
    }
}

impl egg::Condition<Math, MathAnalysis> for Conditions {
    fn check(&self, egraph: &mut MathEGraph, _eclass: Id, subst: &Subst) -> bool {
        if crate::engine::budget::expired() {
            // Past the time limit: apply nothing more, so the runner stops at its next
            // check instead of finishing a long iteration.
            return false;
        }
        let egraph: &MathEGraph = egraph;
        let facts = |name: &str| -> Option<&Facts> {
            let (_, var) = self.vars.iter().find(|(n, _)| *n == name)?;
            subst.get(*var).map(|id| &egraph[*id].data)
        };
        self.conds.iter().all(|c| c.holds(&facts))
    }
}

impl Rule {
    /// The egg rewrite. Rule tables are fixed data, so a malformed pattern is a bug that
    /// the rule tests catch.
    pub fn to_rewrite(&self) -> Rewrite<Math, MathAnalysis> {
        let lhs: Pattern<Math> = self
            .lhs
            .parse()
            .unwrap_or_else(|e| panic!("rule {}: bad lhs: {e}", self.name));
        let rhs: Pattern<Math> = self
            .rhs
            .parse()
            .unwrap_or_else(|e| panic!("rule {}: bad rhs: {e}", self.name));
        let applier = ConditionalApplier {
            condition: Conditions::new(self.conds),
            applier: rhs,
        };
        Rewrite::new(self.name, lhs, applier).unwrap_or_else(|e| panic!("rule {}: {e}", self.name))
    }
}

/// A stage of the engine that applies rewrite rules; [`Phase::families`] is the one
/// list of which rule families each applies, and [`all_rules`] is their union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Rewrites of the function before it is differentiated
    /// ([`crate::engine::canonical_input`]): `‖e‖² = eᵀe`, `log(softmax(a)) = a -
    /// logsumexp(a)` and standard functions recognised.
    CanonicalInput,
    /// Reverse-mode differentiation: the rules on `vjp`, what they need to finish, and
    /// the cheap normalisations that expose `vec` forms and drop zeros.
    Derive,
    /// [`Phase::Derive`] plus the forward-mode (`jvp`) and Jacobian (`coef`) families,
    /// for Jacobians, differentials and Hessians.
    DeriveForward,
    /// Simplification of results (with the support rules, which also simplify).
    Simplify,
}

impl Phase {
    /// Every phase, in pipeline order.
    pub const ALL: [Phase; 4] = [
        Phase::CanonicalInput,
        Phase::Derive,
        Phase::DeriveForward,
        Phase::Simplify,
    ];

    /// The rule families this phase applies, in order.
    pub fn families(self) -> &'static [&'static [Rule]] {
        match self {
            Phase::CanonicalInput => &[canonical::PRE, canonical::RECOGNISE],
            Phase::Derive => &[
                derivative::RULES,
                derivative::SUPPORT,
                neutral::RULES,
                transpose::RULES,
                kron::RULES,
            ],
            Phase::DeriveForward => &[
                derivative::RULES,
                derivative::SUPPORT,
                forward::RULES,
                jacobian::RULES,
                jacobian::SIMPLIFY,
                neutral::RULES,
                transpose::RULES,
                kron::RULES,
            ],
            Phase::Simplify => &[
                jacobian::SIMPLIFY,
                neutral::RULES,
                algebra::RULES,
                canonical::RULES,
                canonical::RECOGNISE,
                transpose::RULES,
                kron::RULES,
                derivative::SUPPORT,
            ],
        }
    }

    /// The rules of this phase, in order.
    pub fn rules(self) -> Vec<Rule> {
        self.families().concat()
    }
}

/// The reverse-mode rules, for the one-pass interpreter (`engine::reverse`).
pub fn vjp_rules() -> &'static [Rule] {
    derivative::RULES
}

/// The support rules that remove helper nodes (`unb`), applied as adjoints are built.
pub fn helper_rules() -> Vec<Rule> {
    derivative::SUPPORT
        .iter()
        .filter(|r| r.lhs.starts_with("(unb "))
        .copied()
        .collect()
}

/// Every rule the engine applies, each once (the union of [`Phase::families`] over
/// [`Phase::ALL`]), for the rule tests.
pub fn all_rules() -> Vec<Rule> {
    let mut families: Vec<&'static [Rule]> = Vec::new();
    for family in Phase::ALL.iter().flat_map(|p| p.families()) {
        if !families.iter().any(|f| std::ptr::eq(*f, *family)) {
            families.push(family);
        }
    }
    families.concat()
}

/// The egg rewrites of these rules, in order.
pub fn rewrites(rules: &[Rule]) -> Vec<Rewrite<Math, MathAnalysis>> {
    rules.iter().map(Rule::to_rewrite).collect()
}
