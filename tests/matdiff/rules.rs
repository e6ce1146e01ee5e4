//! Every rewrite rule of [`all_rules`] is numerically true.
//!
//! For each rule the pattern variables are bound to concrete expressions: function
//! variables to a function leaf (`@σ` element-wise, `@L` scalar-valued), the others to
//! expressions of shapes from a small pool. Only assignments where the left-hand side is
//! well typed and every side condition holds (judged on the engine's own analysis data)
//! are kept, a few diverse ones are chosen, and both sides are evaluated on random
//! inputs and compared.
//!
//! Derivative rules mention `(vjp G E X)`: the gradient with respect to the variable X
//! of ⟨G, E⟩ = sum(G ∘ E), G held fixed. There `?x` is the variable `X`, `?g` a random
//! constant and every other operand depends on X (`P + sum(X) Q`) unless chosen
//! constant; `vjp` is evaluated by 4th-order central differences.
//!
//! Forward-mode rules mention `(jvp E X V)`: the derivative of E at X in the direction
//! V, d/dt E(X + tV) at t = 0. There `?x` is `X`, `?v` a random constant shaped like X
//! and the other operands are bound as in derivative rules; `jvp` is evaluated by
//! 4th-order central differences along V.
//!
//! Jacobian rules mention `(coef M D)`: the matrix J with vec(M) = J vec(D) for M linear
//! in D, i.e. the Jacobian of vec(M) with respect to vec(D) (column-major). There `?d`
//! is the variable `D`, every operand that a condition declares independent of D
//! (`Independent("?d", …)`) a random constant, and every other operand the linear form
//! `P D R + sum(D) Q` (random constants P, R, Q; no constant term, so M is linear);
//! `coef` is evaluated by finite differences (exact up to rounding for a linear M).
//!
//! Every rule is checked twice: on real values, and on complex ones (every random
//! variable complex), where ⟨G, E⟩ = Re sum(conj(G) ∘ E) and the gradient is
//! ∂/∂Re X + i ∂/∂Im X, as in `src/engine/rules/derivative.rs`. The cotangent G is complex
//! there even when E is real-valued: the product rule hands a real-valued factor such
//! as ‖A‖ in Re(z ‖A‖) the cotangent conj(z). Along a complex direction V the real
//! parameter t keeps `jvp` meaningful for every operator (conj and ᴴ included), and
//! `coef` is the Jacobian along the real parts of D, which is the coefficient J of
//! vec(M) = J vec(D) for the complex-linear forms bound here.

use egg::{ENodeOrVar, Id, Language, Pattern, PatternAst, RecExpr, Symbol, Var};
use matdiff::engine::rules::{all_rules, Cond, Facts, Rule};
use matdiff::lang::dims::{Dim, Shape};
use matdiff::lang::{node_shape, Math, MathAnalysis, MathEGraph};
use matdiff::numeric::{
    self, random_complex_matrix, random_matrix, rel_err, CMat, Entry, Env, EvalError, HelperMode,
    InputFamily, Mat, SplitMix64, C64, FD_STEP,
};
use nalgebra::DMatrix;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};

/// The shapes (rows, columns) a pattern variable may take.
const SHAPES: [(u64, u64); 9] = [
    (1, 1),
    (2, 2),
    (3, 3),
    (2, 3),
    (3, 2),
    (3, 1),
    (2, 1),
    (1, 3),
    (1, 2),
];

/// Instantiations wanted per rule.
const WANTED: usize = 6;

/// Candidates examined per rule at most (some are found unusable only when evaluated).
const MAX_TRIES: usize = 300;

/// Random points tried per instantiation when a point is unusable (a singular matrix, a
/// non-finite value, or finite differences that disagree with themselves).
const POINTS: u64 = 3;

/// Relative error allowed for rules without a helper at the root.
const EXACT_TOL: f64 = 1e-9;

/// Relative error allowed for rules with a helper evaluated by finite differences
/// (`vjp`, `jvp`, `coef`; on both sides).
const FD_TOL: f64 = 1e-5;

/// At a usable point, finite differences with steps h and h/4 agree this well.
const FD_SELF_TOL: f64 = 1e-6;

/// The generic element-wise function bound to element-wise function variables.
const ELEMENTWISE_FN: &str = "@σ";

/// The generic scalar-valued function bound to `apply`/`grad` function variables.
const SCALAR_FN: &str = "@L";

/// The name of the variable that derivative (`vjp`, `jvp`) rules differentiate by.
const WRT: &str = "X";

/// The name of the variable that Jacobian (`coef`) rules take coefficients by.
const COEF_WRT: &str = "D";

// ---------------------------------------------------------------------------------------
// Rules, their variables and how those may be bound
// ---------------------------------------------------------------------------------------

/// What a pattern variable stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A function in `ew` (or under `d`).
    ElementwiseFn,
    /// A function in `apply`, `grad` or `hess`.
    ScalarFn,
    /// The variable that a root `vjp` or `jvp` (X) or `coef` (D) differentiates by.
    Wrt,
    /// The cotangent (first operand) of the root `vjp`.
    Cotangent,
    /// The direction (last operand) of the root `jvp`.
    Direction,
    /// Any other expression.
    Value,
}

/// How a variable is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// A function leaf.
    Function(&'static str),
    /// The variable `X` (`D` in Jacobian rules).
    Wrt,
    /// A random constant matrix.
    Random,
    /// `P + sum(X) Q` with random constants P and Q.
    Dependent,
    /// `P D R + sum(D) Q` with random constants P, R and Q: linear in D.
    Linear,
    /// `zeros[r,c]`.
    Zero,
    /// `I[n,n]`.
    Identity,
    /// `ones[r,c]`.
    Ones,
    /// An integer literal.
    Int(i64),
}

/// A variable's binding: how, and of which shape (none for functions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Binding {
    kind: Kind,
    shape: Option<Shape>,
}

/// A rule with its patterns parsed and its variables classified.
struct Parsed {
    rule: Rule,
    lhs: Pattern<Math>,
    rhs: Pattern<Math>,
    /// Every variable of the left-hand side, with its role.
    vars: Vec<(Var, Role)>,
    /// The helper at the root of the left-hand side, if any.
    helper: Option<Helper>,
    family: InputFamily,
}

/// The helpers whose rules are checked by finite differences, at the root of a
/// left-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    /// `(vjp G E X)`: reverse mode.
    Vjp,
    /// `(jvp E X V)`: forward mode.
    Jvp,
    /// `(coef M D)`: Jacobian identification.
    Coef,
}

impl Helper {
    /// The helper at the root of a pattern.
    fn at_root(ast: &PatternAst<Math>) -> Option<Helper> {
        match root(ast) {
            ENodeOrVar::ENode(Math::Vjp(_)) => Some(Helper::Vjp),
            ENodeOrVar::ENode(Math::Jvp(_)) => Some(Helper::Jvp),
            ENodeOrVar::ENode(Math::Coef(_)) => Some(Helper::Coef),
            _ => None,
        }
    }

    /// The name of the variable that [`Kind::Wrt`] binds.
    fn wrt(self) -> &'static str {
        match self {
            Helper::Vjp | Helper::Jvp => WRT,
            Helper::Coef => COEF_WRT,
        }
    }
}

impl Parsed {
    /// Parses both sides; a malformed pattern panics with the rule's name.
    fn new(rule: Rule) -> Parsed {
        let lhs: Pattern<Math> = rule
            .lhs
            .parse()
            .unwrap_or_else(|e| panic!("rule {}: bad lhs: {e}", rule.name));
        let rhs: Pattern<Math> = rule
            .rhs
            .parse()
            .unwrap_or_else(|e| panic!("rule {}: bad rhs: {e}", rule.name));
        let helper = Helper::at_root(&lhs.ast);
        let vars = roles(&lhs, &rhs);
        let derivative = matches!(helper, Some(Helper::Vjp | Helper::Jvp));
        let family = input_family(&rule, derivative);
        Parsed {
            rule,
            lhs,
            rhs,
            vars,
            helper,
            family,
        }
    }

    /// The name of the variable that the root helper differentiates by.
    fn wrt(&self) -> &'static str {
        self.helper.map_or(WRT, Helper::wrt)
    }

    /// The pattern variable (`?x`, `?d`) that is bound to [`Parsed::wrt`], if any.
    fn root_var(&self) -> Option<String> {
        self.vars
            .iter()
            .find(|(_, role)| *role == Role::Wrt)
            .map(|(v, _)| v.to_string())
    }

    /// Rules with a root helper are checked against finite differences.
    fn tolerance(&self) -> f64 {
        if self.helper.is_some() {
            FD_TOL
        } else {
            EXACT_TOL
        }
    }
}

/// The root node of a pattern.
fn root(ast: &PatternAst<Math>) -> &ENodeOrVar<Math> {
    ast.as_ref()
        .last()
        .expect("a parsed pattern has at least one node")
}

/// The variable at `id` of a pattern, if that node is a variable.
fn var_at(ast: &PatternAst<Math>, id: Id) -> Option<Var> {
    match &ast[id] {
        ENodeOrVar::Var(v) => Some(*v),
        ENodeOrVar::ENode(_) => None,
    }
}

/// Classifies the left-hand side's variables: function positions on either side, then
/// the operands of a root `vjp`, `jvp` or `coef`, the rest values.
fn roles(lhs: &Pattern<Math>, rhs: &Pattern<Math>) -> Vec<(Var, Role)> {
    let mut roles: Vec<(Var, Role)> = lhs.vars().into_iter().map(|v| (v, Role::Value)).collect();
    let mut set = |v: Option<Var>, role: Role| {
        if let Some(entry) = roles.iter_mut().find(|(w, _)| Some(*w) == v) {
            entry.1 = role;
        }
    };
    for ast in [&lhs.ast, &rhs.ast] {
        for node in ast.as_ref() {
            match node {
                ENodeOrVar::ENode(Math::Elementwise([f, _]) | Math::Derive([f])) => {
                    set(var_at(ast, *f), Role::ElementwiseFn)
                }
                ENodeOrVar::ENode(
                    Math::Apply([f, _]) | Math::Grad([f, _]) | Math::Hess([f, _]),
                ) => set(var_at(ast, *f), Role::ScalarFn),
                _ => {}
            }
        }
    }
    match root(&lhs.ast) {
        ENodeOrVar::ENode(Math::Vjp([g, _, x])) => {
            set(var_at(&lhs.ast, *x), Role::Wrt);
            set(var_at(&lhs.ast, *g), Role::Cotangent);
        }
        ENodeOrVar::ENode(Math::Jvp([_, x, v])) => {
            set(var_at(&lhs.ast, *x), Role::Wrt);
            set(var_at(&lhs.ast, *v), Role::Direction);
        }
        ENodeOrVar::ENode(Math::Coef([_, d])) => set(var_at(&lhs.ast, *d), Role::Wrt),
        _ => {}
    }
    roles
}

/// The input family a rule's random values come from, decided from the operators it
/// contains: positive entries for logarithms, square roots and powers, well-conditioned
/// square matrices for inverses, determinants and matrix powers. Derivative rules use
/// positive well-conditioned inputs when they need conditioning, so that `P + sum(X) Q`
/// stays diagonally dominant.
fn input_family(rule: &Rule, derivative: bool) -> InputFamily {
    let text = format!("{} {}", rule.lhs, rule.rhs);
    let tokens: BTreeSet<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
        .collect();
    let has = |ops: &[&str]| ops.iter().any(|op| tokens.contains(op));
    let positive = has(&["log", "sqrt", "pow", "epow", "@log", "@sqrt"]);
    let conditioned = has(&["inv", "det", "logdet", "pow"]);
    match (positive, conditioned) {
        (true, true) => InputFamily::PositiveWellConditioned,
        (false, true) if derivative => InputFamily::PositiveWellConditioned,
        (false, true) => InputFamily::WellConditioned,
        (true, false) => InputFamily::Positive,
        (false, false) => InputFamily::Gaussian,
    }
}

/// A concrete shape.
fn shape(rows: u64, cols: u64) -> Shape {
    Shape::new(Dim::lit(rows), Dim::lit(cols))
}

/// The concrete size of a literal dimension.
fn size(d: &Dim) -> usize {
    assert!(
        d.syms.is_empty(),
        "only literal dimensions are used here, not {d}"
    );
    usize::try_from(d.coef).expect("a small dimension")
}

/// The shape pool.
fn pool() -> Vec<Shape> {
    SHAPES.iter().map(|&(r, c)| shape(r, c)).collect()
}

/// Whether `var` is the exponent of a `pow` on the left-hand side.
fn is_exponent(p: &Parsed, var: Var) -> bool {
    p.lhs.ast.as_ref().iter().any(|node| {
        matches!(node, ENodeOrVar::ENode(Math::Pow([_, k])) if var_at(&p.lhs.ast, *k) == Some(var))
    })
}

/// Whether a condition of the rule declares `var` independent of the root helper's
/// variable.
fn declared_independent(p: &Parsed, var: Var) -> bool {
    let (name, wrt) = (var.to_string(), p.root_var());
    p.rule.conds.iter().any(|c| {
        matches!(*c, Cond::Independent(x, on) if Some(x) == wrt.as_deref() && on.contains(&name.as_str()))
    })
}

/// How a value variable may be bound, from the rule's conditions: zeros for `Zero`, an
/// identity for `Identity`, ones for `Ones`, integers for `IntAtLeast`/`IntAtMost` and
/// `Constant`, else random values (depending on X or not, in derivative rules; also
/// small integers for an exponent). In Jacobian rules an operand is linear in D unless
/// declared independent of D, then a random constant.
fn value_kinds(p: &Parsed, var: Var) -> Vec<Kind> {
    let name = var.to_string();
    let mut ints = vec![];
    for cond in p.rule.conds {
        match *cond {
            Cond::Zero(v) if v == name => return vec![Kind::Zero],
            Cond::Identity(v) if v == name => return vec![Kind::Identity],
            Cond::Ones(v) if v == name => return vec![Kind::Ones],
            Cond::Constant(v) if v == name => ints.extend([2, -3]),
            Cond::IntAtLeast(v, n) if v == name => ints.extend([n, n + 1]),
            Cond::IntAtMost(v, n) if v == name => ints.extend([n, n - 1]),
            _ => {}
        }
    }
    if !ints.is_empty() {
        return ints.into_iter().map(Kind::Int).collect();
    }
    let mut kinds = match p.helper {
        Some(Helper::Vjp | Helper::Jvp) => vec![Kind::Dependent, Kind::Random],
        Some(Helper::Coef) if declared_independent(p, var) => vec![Kind::Random],
        Some(Helper::Coef) => vec![Kind::Linear],
        None => vec![Kind::Random],
    };
    if is_exponent(p, var) {
        kinds.extend([Kind::Int(2), Kind::Int(-1), Kind::Int(3)]);
    }
    kinds
}

/// Every binding a variable may get.
fn options(p: &Parsed, var: Var, role: Role) -> Vec<Binding> {
    let with_shapes = |kind: Kind, keep: &dyn Fn(&Shape) -> bool| -> Vec<Binding> {
        pool()
            .into_iter()
            .filter(|s| keep(s))
            .map(|s| Binding {
                kind,
                shape: Some(s),
            })
            .collect()
    };
    let function = |name: &'static str| {
        vec![Binding {
            kind: Kind::Function(name),
            shape: None,
        }]
    };
    match role {
        Role::ElementwiseFn => function(ELEMENTWISE_FN),
        Role::ScalarFn => function(SCALAR_FN),
        Role::Wrt => with_shapes(Kind::Wrt, &|_| true),
        // Shaped like E (a cotangent) or X (a direction): left to the left-hand side's
        // typing.
        Role::Cotangent | Role::Direction => with_shapes(Kind::Random, &|_| true),
        Role::Value => value_kinds(p, var)
            .into_iter()
            .flat_map(|kind| match kind {
                Kind::Int(_) => with_shapes(kind, &Shape::is_scalar),
                Kind::Identity => with_shapes(kind, &|s| s.rows == s.cols),
                _ => with_shapes(kind, &|_| true),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Binding expressions and instantiation
// ---------------------------------------------------------------------------------------

/// A parsed expression; the text is built here, so a failure is a bug of this test.
fn expr(text: &str) -> RecExpr<Math> {
    text.parse()
        .unwrap_or_else(|e| panic!("the test built a bad expression `{text}`: {e}"))
}

/// What bindings refer to besides their own variables: the variable that the root
/// helper differentiates by, and its shape in the assignment.
struct Scope {
    wrt: &'static str,
    wrt_shape: Option<Shape>,
}

impl Scope {
    fn of(p: &Parsed, assignment: &[Binding]) -> Scope {
        let wrt_shape = assignment
            .iter()
            .find(|b| b.kind == Kind::Wrt)
            .and_then(|b| b.shape.clone());
        Scope {
            wrt: p.wrt(),
            wrt_shape,
        }
    }
}

/// The expression a variable is bound to, and the random variables it uses.
fn bound_expr(var: Var, b: &Binding, scope: &Scope) -> (RecExpr<Math>, Vec<(Symbol, Shape)>) {
    let name = var.to_string().trim_start_matches('?').to_string();
    let shape = b.shape.clone();
    let dims = || {
        let s = shape.clone().expect("a value binding has a shape");
        (s.rows.coef, s.cols.coef)
    };
    let random = |n: &str| {
        (
            Symbol::from(n),
            shape.clone().expect("a value binding has a shape"),
        )
    };
    match b.kind {
        Kind::Function(f) => (expr(f), vec![]),
        Kind::Wrt => (expr(scope.wrt), vec![random(scope.wrt)]),
        Kind::Random => (expr(&name), vec![random(&name)]),
        Kind::Dependent => {
            let (p, q, x) = (format!("P_{name}"), format!("Q_{name}"), scope.wrt);
            let e = expr(&format!("(+ {p} (* (sum {x}) {q}))"));
            (e, vec![random(&p), random(&q)])
        }
        Kind::Linear => {
            // P D R is r×c for P r×rows(D) and R cols(D)×c, whatever the shapes.
            let s = shape.clone().expect("a value binding has a shape");
            let d = scope.wrt_shape.clone().unwrap_or_else(|| {
                panic!(
                    "{var} is linear in {} but that is not a variable",
                    scope.wrt
                )
            });
            let (p, r, q, x) = (
                format!("P_{name}"),
                format!("R_{name}"),
                format!("Q_{name}"),
                scope.wrt,
            );
            let e = expr(&format!("(+ (* (* {p} {x}) {r}) (* (sum {x}) {q}))"));
            let vars = vec![
                (Symbol::from(p.as_str()), Shape::new(s.rows.clone(), d.rows)),
                (Symbol::from(r.as_str()), Shape::new(d.cols, s.cols)),
                random(&q),
            ];
            (e, vars)
        }
        Kind::Zero => {
            let (r, c) = dims();
            (expr(&format!("zeros[{r},{c}]")), vec![])
        }
        Kind::Identity => {
            let (r, _) = dims();
            (expr(&format!("I[{r},{r}]")), vec![])
        }
        Kind::Ones => {
            let (r, c) = dims();
            (expr(&format!("ones[{r},{c}]")), vec![])
        }
        Kind::Int(k) => (expr(&k.to_string()), vec![]),
    }
}

/// The variables of a rule with their bindings, in a map for instantiation.
fn bound_exprs(p: &Parsed, assignment: &[Binding]) -> HashMap<Var, RecExpr<Math>> {
    let scope = Scope::of(p, assignment);
    p.vars
        .iter()
        .zip(assignment)
        .map(|((v, _), b)| (*v, bound_expr(*v, b, &scope).0))
        .collect()
}

/// Every random variable of an assignment with its shape.
fn random_vars(p: &Parsed, assignment: &[Binding]) -> BTreeMap<Symbol, Shape> {
    let scope = Scope::of(p, assignment);
    p.vars
        .iter()
        .zip(assignment)
        .flat_map(|((v, _), b)| bound_expr(*v, b, &scope).1)
        .collect()
}

/// Appends `e` to `out`; returns the id of its root.
fn append(out: &mut RecExpr<Math>, e: &RecExpr<Math>) -> Id {
    let mut ids: Vec<Id> = Vec::with_capacity(e.as_ref().len());
    for node in e.as_ref() {
        let node = node.clone().map_children(|c| ids[usize::from(c)]);
        ids.push(out.add(node));
    }
    *ids.last().expect("a bound expression is not empty")
}

/// The pattern with its variables replaced by their bound expressions.
fn instantiate(ast: &PatternAst<Math>, bound: &HashMap<Var, RecExpr<Math>>) -> RecExpr<Math> {
    let mut out = RecExpr::default();
    let mut ids: Vec<Id> = Vec::with_capacity(ast.as_ref().len());
    for node in ast.as_ref() {
        let id = match node {
            ENodeOrVar::ENode(n) => {
                let n = n.clone().map_children(|c| ids[usize::from(c)]);
                out.add(n)
            }
            ENodeOrVar::Var(v) => append(&mut out, &bound[v]),
        };
        ids.push(id);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Typing and side conditions
// ---------------------------------------------------------------------------------------

/// What the evaluator needs beyond [`node_shape`]: helper operands that fit (`vjp`: G
/// shaped like E; `jvp`: V shaped like X; `unb`: G shaped like A or A 1×1), square
/// operands of `tr`, `det`, `logdet`, `inv` and of a matrix `pow`, 1×1 exponents, `diag`
/// of a column or square.
fn evaluator_constraints(node: &Math, child: &dyn Fn(Id) -> Option<Shape>) -> Result<(), String> {
    let square = |s: &Shape| s.rows == s.cols;
    let fail = |what: &str| Err(format!("{what} in `{node}`"));
    match node {
        Math::Vjp([g, e, _]) if child(*g) != child(*e) => {
            fail("the cotangent is not shaped like E")
        }
        Math::Jvp([_, x, v]) if child(*x) != child(*v) => {
            fail("the direction is not shaped like X")
        }
        Math::Unbroadcast([g, a]) => match (child(*g), child(*a)) {
            (Some(sg), Some(sa)) if sg == sa || sa.is_scalar() => Ok(()),
            _ => fail("G cannot be summed down to A"),
        },
        Math::Pow([a, k]) => match (child(*a), child(*k)) {
            (_, Some(sk)) if !sk.is_scalar() => fail("a non-scalar exponent"),
            (Some(sa), _) if !square(&sa) => fail("a power of a non-square matrix"),
            _ => Ok(()),
        },
        Math::EPow([_, k]) if child(*k).is_some_and(|s| !s.is_scalar()) => {
            fail("a non-scalar exponent")
        }
        Math::Trace([a]) | Math::Det([a]) | Math::LogDet([a]) | Math::Inv([a])
            if child(*a).is_some_and(|s| !square(&s)) =>
        {
            fail("a non-square operand")
        }
        Math::Diag([a]) if child(*a).is_some_and(|s| !square(&s) && !s.cols.is_one()) => {
            fail("`diag` of neither a column nor a square matrix")
        }
        _ => Ok(()),
    }
}

/// The shape of a pattern's root given the shapes of its variables; `Err` says why the
/// pattern is ill-typed.
fn pattern_shape(
    ast: &PatternAst<Math>,
    var_shape: &dyn Fn(Var) -> Option<Shape>,
) -> Result<Option<Shape>, String> {
    let mut shapes: Vec<Option<Shape>> = Vec::with_capacity(ast.as_ref().len());
    for node in ast.as_ref() {
        let s = match node {
            ENodeOrVar::Var(v) => var_shape(*v),
            ENodeOrVar::ENode(n) => {
                let child = |id: Id| shapes[usize::from(id)].clone();
                evaluator_constraints(n, &child)?;
                node_shape(n, &child, &|_| None).map_err(|why| format!("`{n}`: {why}"))?
            }
        };
        shapes.push(s);
    }
    Ok(shapes.pop().flatten())
}

/// The shape of a pattern under an assignment.
fn side_shape(
    p: &Parsed,
    ast: &PatternAst<Math>,
    assignment: &[Binding],
) -> Result<Option<Shape>, String> {
    let by_var = |v: Var| {
        p.vars
            .iter()
            .position(|(w, _)| *w == v)
            .and_then(|i| assignment[i].shape.clone())
    };
    pattern_shape(ast, &by_var)
}

/// What the engine's analysis knows about an expression (its e-class data), with every
/// variable complex when `complex`.
fn facts_of(e: &RecExpr<Math>, var_shapes: &BTreeMap<Symbol, Shape>, complex: bool) -> Facts {
    let mut analysis = MathAnalysis::new(var_shapes.clone());
    if complex {
        analysis = analysis.with_complex(var_shapes.keys().copied());
    }
    let mut egraph = MathEGraph::new(analysis);
    let id = egraph.add_expr(e);
    egraph.rebuild();
    Facts::of(&egraph[id].data)
}

/// Facts of bindings, remembered per (variable, binding, shape of X or D).
type FactsMemo = HashMap<(Var, Binding, Option<Shape>), Facts>;

/// Whether every condition of the rule holds for an assignment.
fn conditions_hold(
    p: &Parsed,
    assignment: &[Binding],
    memo: &mut FactsMemo,
    complex: bool,
) -> bool {
    let var_shapes = random_vars(p, assignment);
    let scope = Scope::of(p, assignment);
    let mut facts: HashMap<String, Facts> = HashMap::new();
    for ((v, _), b) in p.vars.iter().zip(assignment) {
        let key = (*v, b.clone(), scope.wrt_shape.clone());
        let f = memo
            .entry(key)
            .or_insert_with(|| facts_of(&bound_expr(*v, b, &scope).0, &var_shapes, complex));
        facts.insert(v.to_string(), f.clone());
    }
    p.rule
        .conds
        .iter()
        .all(|c| c.holds(&|name: &str| facts.get(name)))
}

/// Every assignment (from the shape pool) under which the left-hand side is well typed
/// and every condition holds (every variable complex when `complex`).
fn candidates(p: &Parsed, complex: bool) -> Vec<Vec<Binding>> {
    let options: Vec<Vec<Binding>> = p.vars.iter().map(|(v, r)| options(p, *v, *r)).collect();
    let total: usize = options.iter().map(Vec::len).product();
    assert!(
        total <= 2_000_000,
        "rule {}: {total} assignments are too many to search",
        p.rule.name
    );
    let mut memo = FactsMemo::new();
    let mut out = vec![];
    let mut index = vec![0usize; options.len()];
    for _ in 0..total {
        let assignment: Vec<Binding> = index
            .iter()
            .zip(&options)
            .map(|(&i, o)| o[i].clone())
            .collect();
        if side_shape(p, &p.lhs.ast, &assignment).is_ok()
            && conditions_hold(p, &assignment, &mut memo, complex)
        {
            out.push(assignment);
        }
        // The next assignment (an odometer over the options).
        for (i, o) in index.iter_mut().zip(&options) {
            *i += 1;
            if *i < o.len() {
                break;
            }
            *i = 0;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Evaluation, helpers included
// ---------------------------------------------------------------------------------------

/// The entries values are checked with: real (`f64`) or complex ([`C64`]).
trait Field: Entry + fmt::Display {
    /// "real" or "complex", for messages.
    const NAME: &'static str;

    /// A random matrix of the family.
    fn random(rows: usize, cols: usize, family: InputFamily, rng: &mut SplitMix64)
        -> DMatrix<Self>;
}

impl Field for f64 {
    const NAME: &'static str = "real";

    fn random(rows: usize, cols: usize, family: InputFamily, rng: &mut SplitMix64) -> Mat {
        random_matrix(rows, cols, family, rng)
    }
}

impl Field for C64 {
    const NAME: &'static str = "complex";

    fn random(rows: usize, cols: usize, family: InputFamily, rng: &mut SplitMix64) -> CMat {
        random_complex_matrix(rows, cols, family, rng)
    }
}

/// Evaluates an instantiated side by the library (helpers by their definitions):
/// `fd_step` `None` only checks shapes, `Some(h)` takes derivative helpers by finite
/// differences with relative step h.
fn evaluate<T: Field>(
    e: &RecExpr<Math>,
    env: &Env<T>,
    fd_step: Option<f64>,
) -> Result<DMatrix<T>, EvalError> {
    let mode = fd_step.map_or(HelperMode::ShapesOnly, HelperMode::FiniteDifferences);
    numeric::eval_with_helpers(e, env, mode)
}

// ---------------------------------------------------------------------------------------
// Checking instantiations
// ---------------------------------------------------------------------------------------

/// The outcome of one instantiation.
enum Verdict {
    /// Not an instance after all (the left-hand side has no value), or no usable point.
    Unusable,
    /// Both sides agree.
    Pass,
    /// The rule is wrong here; the text says how.
    Fail(String),
}

/// A stable hash of a rule name, to seed its random inputs.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Random values for the variables (drawn in name order, so reproducible).
fn random_env<T: Field>(vars: &BTreeMap<Symbol, Shape>, family: InputFamily, seed: u64) -> Env<T> {
    let mut rng = SplitMix64::new(seed);
    let vars = vars
        .iter()
        .map(|(name, s)| {
            (
                *name,
                T::random(size(&s.rows), size(&s.cols), family, &mut rng),
            )
        })
        .collect();
    Env {
        vars,
        dims: BTreeMap::new(),
    }
}

/// A matrix on one line.
fn fmt_mat<T: Field>(m: &DMatrix<T>) -> String {
    let rows: Vec<String> = (0..m.nrows())
        .map(|i| {
            let row: Vec<String> = (0..m.ncols())
                .map(|j| format!("{:.6}", m[(i, j)]))
                .collect();
            row.join(" ")
        })
        .collect();
    format!("[{}]", rows.join("; "))
}

/// The bindings of an assignment, for messages.
fn describe(p: &Parsed, assignment: &[Binding]) -> String {
    let scope = Scope::of(p, assignment);
    let parts: Vec<String> = p
        .vars
        .iter()
        .zip(assignment)
        .map(|((v, _), b)| {
            let e = bound_expr(*v, b, &scope).0;
            match &b.shape {
                Some(s) => format!("{v} = {e} : {s}"),
                None => format!("{v} = {e}"),
            }
        })
        .collect();
    parts.join(", ")
}

/// The values of the random variables, for messages.
fn describe_env<T: Field>(env: &Env<T>) -> String {
    let parts: Vec<String> = env
        .vars
        .iter()
        .map(|(n, m)| format!("{n} = {}", fmt_mat(m)))
        .collect();
    parts.join(", ")
}

/// Checks one instantiation at up to [`POINTS`] random points: the first usable point
/// decides.
fn check_instance<T: Field>(p: &Parsed, assignment: &[Binding], index: u64) -> Verdict {
    let bound = bound_exprs(p, assignment);
    let lhs = instantiate(&p.lhs.ast, &bound);
    let rhs = instantiate(&p.rhs.ast, &bound);
    let vars = random_vars(p, assignment);
    let context = |env: &Env<T>| {
        format!(
            "rule {} ({} values): {} ⇒ {}\n  with {}\n  lhs {lhs}\n  rhs {rhs}\n  at {}",
            p.rule.name,
            T::NAME,
            p.rule.lhs,
            p.rule.rhs,
            describe(p, assignment),
            describe_env(env)
        )
    };
    for point in 0..POINTS {
        let seed = fnv1a(p.rule.name) ^ (index << 16) ^ (point << 40);
        let env: Env<T> = random_env(&vars, p.family, seed);
        match evaluate(&lhs, &env, None) {
            Ok(_) => {}
            Err(e) if e.depends_on_point() => continue,
            Err(_) => return Verdict::Unusable,
        }
        // The left-hand side is an instance: the right-hand side must have its shape.
        let lhs_shape = side_shape(p, &p.lhs.ast, assignment);
        match side_shape(p, &p.rhs.ast, assignment) {
            Err(why) => return Verdict::Fail(format!("{}\n  rhs ill-typed: {why}", context(&env))),
            Ok(s) if Ok(s.clone()) != lhs_shape => {
                return Verdict::Fail(format!(
                    "{}\n  shapes differ: lhs {lhs_shape:?}, rhs {s:?}",
                    context(&env)
                ))
            }
            Ok(_) => {}
        }
        let want = match evaluate(&lhs, &env, Some(FD_STEP)) {
            Ok(v) if v.iter().all(|x| x.is_finite()) => v,
            Ok(_) => continue,
            Err(e) if e.depends_on_point() => continue,
            Err(_) => return Verdict::Unusable,
        };
        if p.helper.is_some() {
            // Skip points where finite differences disagree with themselves (a kink or a
            // pole nearby).
            match evaluate(&lhs, &env, Some(FD_STEP / 4.0)) {
                Ok(fine) if rel_err(&want, &fine) <= FD_SELF_TOL => {}
                _ => continue,
            }
        }
        let got = match evaluate(&rhs, &env, Some(FD_STEP)) {
            Ok(v) => v,
            Err(e) if e.depends_on_point() => continue,
            Err(e) => return Verdict::Fail(format!("{}\n  rhs has no value: {e}", context(&env))),
        };
        let err = rel_err(&got, &want);
        return if err <= p.tolerance() {
            Verdict::Pass
        } else {
            Verdict::Fail(format!(
                "{}\n  lhs = {}\n  rhs = {}\n  relative error {err:e}",
                context(&env),
                fmt_mat(&want),
                fmt_mat(&got)
            ))
        };
    }
    Verdict::Unusable
}

// ---------------------------------------------------------------------------------------
// Choosing diverse instantiations
// ---------------------------------------------------------------------------------------

/// What an assignment exercises: each variable's shape and kind, and whether a value
/// operand is 1×1 (counted twice, so that both kinds of assignment come early).
fn features(p: &Parsed, assignment: &[Binding]) -> Vec<String> {
    let mut out = vec![];
    let mut any_scalar = false;
    for ((v, _), b) in p.vars.iter().zip(assignment) {
        if let Some(s) = &b.shape {
            out.push(format!("{v}:{s}"));
            any_scalar |= s.is_scalar();
        }
        out.push(format!("{v}:{:?}", b.kind));
    }
    let scalars = if any_scalar {
        "with-scalar"
    } else {
        "no-scalar"
    };
    out.push(scalars.to_string());
    out.push(format!("{scalars}#2"));
    out
}

/// Shuffles deterministically (Fisher–Yates).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The index of the candidate with the most features not seen yet (the first on ties).
fn most_novel(p: &Parsed, pool: &[Vec<Binding>], seen: &BTreeSet<String>) -> Option<usize> {
    let novelty = |a: &Vec<Binding>| features(p, a).iter().filter(|f| !seen.contains(*f)).count();
    let best = pool.iter().map(novelty).max()?;
    pool.iter().position(|a| novelty(a) == best)
}

/// What checking one rule found.
struct RuleReport {
    name: &'static str,
    /// Instantiations checked (passed or failed).
    checked: usize,
    failures: Vec<String>,
}

/// Checks a rule on up to [`WANTED`] diverse instantiations, with values of type `T`.
fn check_rule<T: Field>(rule: Rule) -> RuleReport {
    let p = Parsed::new(rule);
    let mut pool = candidates(&p, T::NAME == "complex");
    shuffle(&mut pool, fnv1a(rule.name));
    let mut seen = BTreeSet::new();
    let mut report = RuleReport {
        name: rule.name,
        checked: 0,
        failures: vec![],
    };
    for tries in 0..MAX_TRIES {
        if report.checked >= WANTED {
            break;
        }
        let Some(i) = most_novel(&p, &pool, &seen) else {
            break;
        };
        let assignment = pool.swap_remove(i);
        let verdict = check_instance::<T>(&p, &assignment, tries as u64);
        match verdict {
            Verdict::Unusable => continue,
            Verdict::Pass => {}
            Verdict::Fail(why) => report.failures.push(why),
        }
        report.checked += 1;
        seen.extend(features(&p, &assignment));
    }
    report
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// Checks every rule with values of type `T`; panics listing every rule that is wrong
/// or was never instantiated.
fn assert_every_rule_holds<T: Field>() {
    let rules: Vec<Rule> = all_rules()
        .into_iter()
        .filter(|r| {
            let wanted = |c: &Cond| match c {
                Cond::Real(_) => T::NAME == "real",
                Cond::Complex(_) => T::NAME == "complex",
                _ => true,
            };
            // A rule that writes ⅈ claims nothing of real values.
            let imaginary = r.lhs.contains('ⅈ') || r.rhs.contains('ⅈ');
            r.conds.iter().all(wanted) && !(imaginary && T::NAME == "real")
        })
        .collect();
    assert!(!rules.is_empty(), "there are no rules");
    let reports: Vec<RuleReport> = rules.iter().map(|r| check_rule::<T>(*r)).collect();
    let mut table = String::new();
    for r in &reports {
        let verdict = if r.failures.is_empty() { "ok" } else { "WRONG" };
        let _ = writeln!(table, "{:>3} {:<32} {verdict}", r.checked, r.name);
    }
    let total: usize = reports.iter().map(|r| r.checked).sum();
    let min = reports.iter().map(|r| r.checked).min().unwrap_or(0);
    let summary = format!(
        "{} values: {} rules, {total} instantiations, at least {min} per rule",
        T::NAME,
        reports.len()
    );
    println!("{table}{summary}");

    let mut problems = vec![];
    for r in &reports {
        if r.checked == 0 {
            problems.push(format!("rule {}: no valid instantiation was found", r.name));
        }
        problems.extend(r.failures.iter().cloned());
    }
    let wrong: Vec<&str> = reports
        .iter()
        .filter(|r| r.checked == 0 || !r.failures.is_empty())
        .map(|r| r.name)
        .collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) with {} values in the rules {}:\n\n{}\n\ninstantiations per rule:\n{table}{summary}",
        problems.len(),
        T::NAME,
        wrong.join(", "),
        problems.join("\n\n")
    );
}

#[test]
fn every_rule_is_numerically_true() {
    assert_every_rule_holds::<f64>();
}

#[test]
/// Complex values: every rule except those conditioned on real operands (`Cond::Real`),
/// which claim nothing for complex ones.
fn every_rule_is_numerically_true_for_complex_values() {
    assert_every_rule_holds::<C64>();
}

#[test]
fn every_rule_parses_and_has_a_unique_name() {
    let rules = all_rules();
    let mut problems = vec![];
    let mut names = BTreeSet::new();
    for rule in &rules {
        if !names.insert(rule.name) {
            problems.push(format!("rule name {} is used twice", rule.name));
        }
        for (side, text) in [("lhs", rule.lhs), ("rhs", rule.rhs)] {
            if let Err(e) = text.parse::<Pattern<Math>>() {
                problems.push(format!(
                    "rule {}: {side} `{text}` does not parse: {e}",
                    rule.name
                ));
            }
        }
        let rewrite = std::panic::catch_unwind(|| rule.to_rewrite());
        match rewrite {
            Ok(rw) => assert_eq!(rw.name.as_str(), rule.name),
            Err(_) => problems.push(format!("rule {}: to_rewrite failed", rule.name)),
        }
    }
    assert!(rules.len() > 50, "only {} rules", rules.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Rules that are wrong in various ways: the check must find each of them wrong.
const WRONG_RULES: &[Rule] = &[
    // Product rule missing the derivative of B.
    Rule {
        name: "wrong-product-rule",
        lhs: "(vjp ?g (* ?a ?b) ?x)",
        rhs: "(vjp (* ?g (T ?b)) ?a ?x)",
        conds: &[Cond::MatMul("?a", "?b"), Cond::Depends("?x", &["?a", "?b"])],
    },
    // sin' = sin.
    Rule {
        name: "wrong-sin",
        lhs: "(vjp ?g (ew @sin ?a) ?x)",
        rhs: "(vjp (∘ ?g (ew @sin ?a)) ?a ?x)",
        conds: &[Cond::Depends("?x", &["?a"])],
    },
    // (A B)ᵀ = Aᵀ Bᵀ.
    Rule {
        name: "wrong-transpose-product",
        lhs: "(T (* ?a ?b))",
        rhs: "(* (T ?a) (T ?b))",
        conds: &[Cond::MatMul("?a", "?b"), Cond::Square("?a")],
    },
    // Forgets to sum a broadcast cotangent.
    Rule {
        name: "wrong-unbroadcast",
        lhs: "(unb ?g ?a)",
        rhs: "?g",
        conds: &[Cond::Scalar("?a"), Cond::NotScalar("?g")],
    },
    // d(A⁻¹) = -A⁻² dA: the factors in the wrong order.
    Rule {
        name: "wrong-jvp-inverse",
        lhs: "(jvp (inv ?a) ?x ?v)",
        rhs: "(neg (* (* (inv ?a) (inv ?a)) (jvp ?a ?x ?v)))",
        conds: &[Cond::Depends("?x", &["?a"])],
    },
    // vec(Mᵀ) = vec(M): the commutation matrix forgotten.
    Rule {
        name: "wrong-coef-transpose",
        lhs: "(coef (T ?m) ?d)",
        rhs: "(coef ?m ?d)",
        conds: &[],
    },
    // vec(M B) = (B ⊗ I) vec(M): B not transposed.
    Rule {
        name: "wrong-coef-right-factor",
        lhs: "(coef (* ?m ?b) ?d)",
        rhs: "(* (⊗ ?b (eye-like ?m)) (coef ?m ?d))",
        conds: &[Cond::MatMul("?m", "?b"), Cond::Independent("?d", &["?b"])],
    },
];

#[test]
fn the_rules_check_catches_wrong_rules() {
    for rule in WRONG_RULES {
        let report = check_rule::<f64>(*rule);
        assert!(report.checked > 0, "rule {}: never instantiated", rule.name);
        assert!(
            !report.failures.is_empty(),
            "the wrong rule {} passed",
            rule.name
        );
    }
    // Their correct versions pass.
    let right = Rule {
        name: "right-sin",
        lhs: "(vjp ?g (ew @sin ?a) ?x)",
        rhs: "(vjp (∘ ?g (ew @cos ?a)) ?a ?x)",
        conds: &[Cond::Depends("?x", &["?a"])],
    };
    let report = check_rule::<f64>(right);
    assert!(
        report.checked > 0 && report.failures.is_empty(),
        "{}",
        report.failures.join("\n")
    );
}
