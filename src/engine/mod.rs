//! The engine: differentiation rules to saturation, then simplification, then
//! extraction of the cheapest expression that contains no helper operator.

pub mod budget;
pub mod chain;
pub mod explain;
pub mod extract;
pub mod reverse;
pub mod rules;

pub use extract::{left_associate, ResultCost};

use crate::lang::dims::Shape;
use crate::lang::{Math, MathAnalysis, MathEGraph, Number};
use egg::{CostFunction, Id, Language, RecExpr, Runner, SimpleScheduler, StopReason, Symbol};
use rules::Phase;
use std::collections::BTreeMap;
use std::time::Duration;

/// Bounds on the e-graph; node and iteration limits keep runs deterministic, the time
/// limit is only a safety net.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest e-graph, in e-nodes.
    pub node_limit: usize,
    /// Iterations of the differentiation runner; `None` derives it from the depth of f.
    pub iter_limit: Option<usize>,
    /// Iterations of the simplification runner.
    pub simplify_iter_limit: usize,
    /// A wall-clock bound on each runner; hitting it is an error, not a result.
    pub time_limit: Duration,
    /// Record why each gradient equals its result (egg's explanations), for `--explain`.
    /// Off by default: without it the e-graph keeps no proof data at all.
    pub explain: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            node_limit: 500_000,
            iter_limit: None,
            simplify_iter_limit: 12,
            time_limit: Duration::from_secs(120),
            explain: false,
        }
    }
}

/// What one runner did.
#[derive(Debug, Clone)]
pub struct StageReport {
    /// Which runner: `differentiate` or `simplify` (with ` (explained)` added for the
    /// replay that records explanations).
    pub stage: &'static str,
    /// Why it stopped, in words: `saturated`, `iteration limit (N)`, `node limit (N)`, ….
    pub stop_reason: String,
    /// Iterations run.
    pub iterations: usize,
    /// E-nodes in the e-graph when it stopped.
    pub nodes: usize,
    /// E-classes in the e-graph when it stopped.
    pub classes: usize,
    /// Time spent in its iterations, in seconds.
    pub seconds: f64,
}

/// What to compute for one variable (the CLI picks it from the shapes, LANGUAGE.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// ∂f/∂X of a 1×1 f, shaped like X.
    Gradient,
    /// dF/dα for a 1×1 α, shaped like F.
    Derivative,
    /// The m×n Jacobian ∂f/∂x of a column f wrt a column x.
    Jacobian,
    /// The differential dF in terms of dX, and ∂vec(F)/∂vec(X).
    Differential,
    /// The gradient and the Hessian over vec(X) of a 1×1 f (and, for a matrix X, the
    /// second differential).
    Hessian,
}

/// What one computed expression is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// ∂f/∂X of a 1×1 f, shaped like X.
    Gradient,
    /// dF/dα for a 1×1 α, shaped like F.
    Derivative,
    /// The m×n Jacobian ∂f/∂x of an m-vector f wrt an n-vector x.
    Jacobian,
    /// dF, in terms of the direction variable `d<X>`.
    Differential,
    /// ∂vec(F)/∂vec(X), size(F) × size(X).
    VecJacobian,
    /// ∂²f/∂vec(X)∂vec(X)ᵀ.
    Hessian,
    /// d²f, in terms of `d<X>`.
    SecondDifferential,
}

/// egg's record of how a gradient goal became its result (with [`Limits::explain`]): a
/// chain of terms from `(vjp 1 f X)` to its best term once differentiated, each one
/// rewrite away from the one before, the rewrite named by its rule (or, for the
/// analysis' own unions, by their name or their place in the source); and the size of
/// the explanation of that term's equality with the extracted result.
#[derive(Debug, Clone)]
pub struct RawExplanation {
    /// The result it explains: an index into [`Outcome::derivatives`].
    pub index: usize,
    /// egg's explanation of the goal's equality with `derived`, as a chain of terms.
    pub steps: chain::Chain,
    /// The goal's best term once differentiated (before simplification).
    pub derived: RecExpr<Math>,
    /// The top-level steps of egg's explanation of `derived`'s equality with the
    /// result.
    pub simplification_steps: usize,
}

/// One result: the variable, what it is, and the simplified expression.
#[derive(Debug, Clone)]
pub struct Derivative {
    /// The variable it is taken with respect to.
    pub wrt: Symbol,
    /// Which derivative it is.
    pub kind: ResultKind,
    /// The simplified expression, free of helper operators.
    pub expr: RecExpr<Math>,
}

/// Everything one engine run produced, in the order requested.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The results, in the order of the requests (a Hessian request gives several).
    pub derivatives: Vec<Derivative>,
    /// What each runner did, in order.
    pub reports: Vec<StageReport>,
    /// f is real-valued even where variables are complex.
    pub f_real: bool,
    /// Each differentiated variable X paired with its direction variable `d<X>` (declared
    /// with X's shape).
    pub directions: Vec<(Symbol, Symbol)>,
    /// With [`Limits::explain`]: one explanation per gradient result.
    pub explanations: Vec<RawExplanation>,
}

/// Why the engine could not produce a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// `Display` shows the expression as an s-expression; the API prints it in the
    /// language.
    #[error("no derivative rule applies to {construct} (in `{expr}`)")]
    NoRule {
        /// The construct in words.
        construct: String,
        /// The smallest sub-expression no rule differentiates.
        expr: RecExpr<Math>,
    },
    /// A node, iteration or time bound stopped a phase before it finished.
    #[error("{phase} stopped at the {limit} before it finished; raise it with {flag}")]
    Limit {
        /// The limit hit, with its value: `node limit (500000 e-nodes)`, ….
        limit: String,
        /// The phase it stopped: `differentiation`, `simplification`, ….
        phase: &'static str,
        /// The command-line option that raises it: `--node-limit`, ….
        flag: &'static str,
    },
    /// A rewrite made an e-class hold two different shapes: a bug in a rule, never the
    /// user's.
    #[error("internal error: a rewrite produced an ill-shaped term ({0}); please report it")]
    ShapeConflict(String),
    /// A requested variable does not occur in the expression.
    #[error("`{0}` is not a variable of the expression")]
    UnknownVariable(String),
    /// A gradient or Hessian was asked of an expression that may be complex-valued.
    #[error("the expression is complex-valued, so it has no gradient with respect to `{0}`: take real(·), abs(·) or a norm first")]
    NotRealValued(String),
}

impl From<budget::LimitExceeded> for EngineError {
    fn from(e: budget::LimitExceeded) -> EngineError {
        EngineError::Limit {
            limit: e.limit,
            phase: e.phase,
            flag: e.flag,
        }
    }
}

/// Expressions of at most this many distinct nodes are differentiated by saturation
/// (whose e-graph holds more equal forms for extraction); larger ones by the one pass,
/// whose time is linear in their size.
pub const SATURATE_AT_MOST: usize = 64;

/// The depth of an expression, which bounds how many iterations differentiation needs.
pub fn depth(expr: &RecExpr<Math>) -> usize {
    let mut depths: Vec<usize> = Vec::with_capacity(expr.len());
    for node in expr.iter() {
        let d = node
            .children()
            .iter()
            .map(|c| depths[usize::from(*c)])
            .max()
            .unwrap_or(0);
        depths.push(d + 1);
    }
    depths.last().copied().unwrap_or(0)
}

/// The gradients of the 1×1 expression `f` with respect to each variable in `wrt`.
pub fn gradients(
    f: &RecExpr<Math>,
    analysis: &MathAnalysis,
    wrt: &[Symbol],
    limits: &Limits,
) -> Result<Outcome, EngineError> {
    let wants: Vec<(Symbol, Request)> = wrt.iter().map(|&x| (x, Request::Gradient)).collect();
    derive(f, analysis, &wants, limits)
}

/// A name for the direction of a differential, `dX`, not taken by any variable.
fn direction_name(x: Symbol, taken: &BTreeMap<Symbol, Shape>) -> Symbol {
    let mut name = format!("d{x}");
    while taken.contains_key(&Symbol::from(name.as_str())) {
        name.push('_');
    }
    Symbol::from(name.as_str())
}

/// Derivatives of `f` as requested, per variable; `analysis` knows the variables'
/// shapes and which are complex.
///
/// With [`Limits::explain`] the results are still those of a plain run: an e-graph that
/// records explanations numbers its classes differently, which can break ties between
/// equally cheap forms differently. So a plain run gives the results, and a second run,
/// recording explanations, explains them (its own result stands in for one that its
/// e-graph does not hold, which is never expected).
pub fn derive(
    f: &RecExpr<Math>,
    analysis: &MathAnalysis,
    wants: &[(Symbol, Request)],
    limits: &Limits,
) -> Result<Outcome, EngineError> {
    if !limits.explain {
        return derive_once(f, analysis, wants, limits, None).map(|(outcome, ..)| outcome);
    }
    let plain_limits = Limits {
        explain: false,
        ..limits.clone()
    };
    let (plain, extracted, _) = derive_once(f, analysis, wants, &plain_limits, None)?;
    let (explained, _, held) = derive_once(f, analysis, wants, limits, Some(&extracted))?;
    let mut reports = plain.reports;
    reports.extend(explained.reports.into_iter().map(|r| StageReport {
        stage: match r.stage {
            "differentiate" => "differentiate (explained)",
            _ => "simplify (explained)",
        },
        ..r
    }));
    let derivatives = plain
        .derivatives
        .into_iter()
        .zip(explained.derivatives)
        .zip(held)
        .map(|((p, e), held)| if held { p } else { e })
        .collect();
    Ok(Outcome {
        derivatives,
        reports,
        f_real: plain.f_real,
        directions: plain.directions,
        explanations: explained.explanations,
    })
}

/// The outcome of one run, its results as extracted (before regrouping), and whether
/// each result is the plain run's.
type Run = (Outcome, extract::Extracted, Vec<bool>);

/// One run of the engine; with `plain`, the results of a plain run, which explanations
/// end with where the e-graph holds them. Also returns the extracted results before
/// regrouping.
fn derive_once(
    f: &RecExpr<Math>,
    analysis: &MathAnalysis,
    wants: &[(Symbol, Request)],
    limits: &Limits,
    plain: Option<&extract::Extracted>,
) -> Result<Run, EngineError> {
    let mut analysis = analysis.clone();
    let mut directions = vec![];
    for &(x, _) in wants {
        let Some(shape) = analysis.var_shapes.get(&x).cloned() else {
            return Err(EngineError::UnknownVariable(x.to_string()));
        };
        let dx = direction_name(x, &analysis.var_shapes);
        if analysis.complex_vars.contains(&x) {
            analysis.complex_vars.insert(dx);
        }
        analysis.var_shapes.insert(dx, shape);
        directions.push((x, dx));
    }
    let var_shapes = analysis.var_shapes.clone();
    let mut egraph = MathEGraph::new(analysis);
    if limits.explain {
        egraph = egraph.with_explanations_enabled();
    }
    // The function in canonical form (`‖e‖² = eᵀe`, standard functions recognised) is
    // what is differentiated; with explanations the written f is there too, one with it.
    let canonical = canonical_input(f, &egraph.analysis);
    // Added hash-consed, node by node, so that the one-pass differentiation knows each
    // node's e-class.
    let f_nodes = reverse::hash_cons(&canonical);
    let mut f_classes: Vec<Id> = Vec::with_capacity(f_nodes.as_ref().len());
    let root = if limits.explain || f_nodes.as_ref().len() <= SATURATE_AT_MOST {
        // The saturating path adds f as it always did (e-class numbering breaks ties).
        egraph.add_expr(&canonical)
    } else {
        for node in f_nodes.as_ref() {
            let node = node.clone().map_children(|c| f_classes[usize::from(c)]);
            f_classes.push(egraph.add(node));
        }
        *f_classes.last().expect("a non-empty expression")
    };
    if limits.explain {
        let written = egraph.add_expr(f);
        egraph.union_trusted(written, root, "canonical form");
    }
    egraph.rebuild();
    let f_real = egraph[root].data.real;
    if let Some((x, _)) = wants.iter().find(|(x, r)| {
        !f_real && (*r != Request::Derivative || egraph.analysis.complex_vars.contains(x))
    }) {
        return Err(EngineError::NotRealValued(x.to_string()));
    }
    let one = egraph.add(Math::Num(Number::new(1.0)));
    let mut goals: Vec<(Symbol, ResultKind, Id)> = vec![];
    // Gradients in one pass (reverse.rs); `--explain` reads egg's explanations of the
    // saturation, so it keeps the saturating path, as does a gradient the one pass cannot
    // finish (the `vjp` goal is then left to the rules).
    let interpreter = (!limits.explain && f_nodes.as_ref().len() > SATURATE_AT_MOST)
        .then(reverse::Interpreter::new);
    let one_pass_start = std::time::Instant::now();
    let reverse_wants: Vec<(Symbol, Id)> = wants
        .iter()
        .filter(|(_, r)| matches!(r, Request::Gradient | Request::Hessian))
        .map(|&(x, _)| (x, egraph.add(Math::Var(x))))
        .collect();
    let mut one_pass: Option<Vec<Id>> = None;
    if let (Some(interp), false) = (&interpreter, reverse_wants.is_empty()) {
        one_pass = interp
            .gradients(
                &mut egraph,
                f_nodes.as_ref(),
                &f_classes,
                &reverse_wants,
                one,
                limits.node_limit,
            )
            .map_err(EngineError::from)?;
    }
    let mut saturate = one_pass.is_none() && !reverse_wants.is_empty();
    let mut gradient_of = |egraph: &mut MathEGraph, x: Symbol, var: Id| -> Id {
        let found = one_pass.as_ref().and_then(|gs| {
            reverse_wants
                .iter()
                .position(|(y, _)| *y == x)
                .map(|k| gs[k])
        });
        match found {
            Some(g) => g,
            None => {
                saturate = true;
                egraph.add(Math::Vjp([one, root, var]))
            }
        }
    };
    for (&(x, request), &(_, dx)) in wants.iter().zip(&directions) {
        let var = egraph.add(Math::Var(x));
        let dvar = egraph.add(Math::Var(dx));
        let goal = match request {
            Request::Gradient | Request::Hessian => Some(gradient_of(&mut egraph, x, var)),
            _ => None,
        };
        let mut push = |kind, id| goals.push((x, kind, id));
        match request {
            Request::Gradient => push(ResultKind::Gradient, goal.expect("a gradient goal")),
            Request::Derivative => push(
                ResultKind::Derivative,
                egraph.add(Math::Jvp([root, var, one])),
            ),
            Request::Jacobian => {
                let d = egraph.add(Math::Jvp([root, var, dvar]));
                push(ResultKind::Jacobian, egraph.add(Math::Coef([d, dvar])));
            }
            Request::Differential => {
                let d = egraph.add(Math::Jvp([root, var, dvar]));
                push(ResultKind::Differential, d);
                push(ResultKind::VecJacobian, egraph.add(Math::Coef([d, dvar])));
            }
            Request::Hessian => {
                let g = goal.expect("a gradient goal");
                push(ResultKind::Gradient, g);
                let dg = egraph.add(Math::Jvp([g, var, dvar]));
                if !egraph[var]
                    .data
                    .shape
                    .as_ref()
                    .is_some_and(|s| s.cols.is_one())
                {
                    let h = egraph.add(Math::Hadamard([dvar, dg]));
                    push(ResultKind::SecondDifferential, egraph.add(Math::Sum([h])));
                }
                push(ResultKind::Hessian, egraph.add(Math::Coef([dg, dvar])));
            }
        }
    }
    let hessian = wants.iter().any(|(_, r)| *r == Request::Hessian);
    let per_level = if hessian { 10 } else { 4 };
    let iterations = limits.iter_limit.unwrap_or(per_level * depth(f) + 16);
    let forward = wants.iter().any(|(_, r)| *r != Request::Gradient);
    egraph.rebuild();
    let mut reports = vec![];
    if interpreter.is_some() {
        reports.push(StageReport {
            stage: "differentiate in one pass",
            stop_reason: if saturate {
                "a construct without a one-pass rule (saturation follows)".into()
            } else {
                "finished".into()
            },
            iterations: 1,
            nodes: egraph.total_number_of_nodes(),
            classes: egraph.number_of_classes(),
            seconds: one_pass_start.elapsed().as_secs_f64(),
        });
    }
    let mut stop = None;
    if saturate || forward {
        let derive_rules = rules::rewrites(
            &if forward {
                Phase::DeriveForward
            } else {
                Phase::Derive
            }
            .rules(),
        );
        let runner = Runner::default()
            .with_egraph(egraph)
            .with_node_limit(limits.node_limit)
            .with_iter_limit(iterations)
            .with_time_limit(budget::remaining_or(limits.time_limit))
            .with_scheduler(SimpleScheduler)
            .run(&derive_rules);
        reports.push(report("differentiate", &runner));
        stop = runner.stop_reason.clone();
        egraph = runner.egraph;
    }
    let mut egraph = egraph;
    // With explanations: each gradient's best term once differentiated, and egg's
    // explanation of the goal's equality with it, taken now, before simplification
    // merges more classes (and so gives the proof shortcuts through them).
    let mut derived: Vec<Option<(RecExpr<Math>, chain::Chain)>> = vec![];
    check_conflicts(&egraph)?;
    if stop.is_some() {
        let extractor = extract::Best::new(&egraph, ResultCost::new(&egraph));
        if let Some(&(_, _, goal)) = goals
            .iter()
            .find(|(_, _, g)| extractor.find_best_cost(*g).is_infinite())
        {
            return Err(match stop {
                Some(StopReason::Saturated) | None => diagnose(&egraph, &extractor, goal),
                Some(other) => limit_error(&other, limits, "differentiation"),
            });
        }
        if limits.explain {
            derived = goals
                .iter()
                .map(|&(_, kind, goal)| {
                    (kind == ResultKind::Gradient)
                        .then(|| (extractor.find_best(goal).1, chain::Chain::default()))
                })
                .collect();
        }
    }
    for (slot, &(wrt, _, _)) in derived.iter_mut().zip(&goals) {
        if let Some((middle, steps)) = slot {
            let goal = gradient_goal(f, wrt);
            *steps = chain::chain(&egraph.explain_equivalence(&goal, middle));
        }
    }
    let simplify = rules::rewrites(&Phase::Simplify.rules());
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(limits.simplify_iter_limit)
        .with_time_limit(budget::remaining_or(limits.time_limit))
        .run(&simplify);
    reports.push(report("simplify", &runner));
    let simplify_stop = runner.stop_reason.clone();
    let mut egraph = runner.egraph;
    check_conflicts(&egraph)?;
    if let Some(StopReason::TimeLimit(_)) = simplify_stop {
        return Err(limit_error(
            &StopReason::TimeLimit(0.0),
            limits,
            "simplification",
        ));
    }
    let best: extract::Extracted = {
        let extractor = extract::Best::new(&egraph, ResultCost::new(&egraph));
        budget::check("extraction")?;
        if let Some(&(_, _, goal)) = goals
            .iter()
            .find(|(_, _, g)| extractor.find_best_cost(*g).is_infinite())
        {
            return Err(match simplify_stop {
                Some(StopReason::NodeLimit(n)) => {
                    limit_error(&StopReason::NodeLimit(n), limits, "simplification")
                }
                _ => diagnose(&egraph, &extractor, goal),
            });
        }
        let classes: Vec<Id> = goals.iter().map(|&(_, _, goal)| goal).collect();
        let best = extractor.find_best_all(&classes);
        budget::check("extraction")?;
        best.with_names(&egraph, &classes)
    };
    let derivatives = goals
        .iter()
        .zip(best.left_associated(&var_shapes))
        .map(|(&(wrt, kind, _), expr)| Derivative { wrt, kind, expr })
        .collect();
    let mut explanations = vec![];
    // Whether each result may be the plain run's: false for a gradient whose plain
    // result this e-graph does not hold in the goal's class (then its own is printed).
    let mut explanations_of_plain = vec![true; goals.len()];
    for (index, slot) in derived.into_iter().enumerate() {
        if let Some((derived, steps)) = slot {
            let goal = goals[index].2;
            let target = match plain.and_then(|p| p.get(index)) {
                Some(p)
                    if egraph.lookup_expr(&p).map(|c| egraph.find(c))
                        == Some(egraph.find(goal)) =>
                {
                    p
                }
                _ => {
                    explanations_of_plain[index] = false;
                    best.term(index)
                }
            };
            // The rest is simplification, shown as one step: its explanation is not
            // flattened, only measured.
            let simplification = egraph.explain_equivalence(&derived, &target);
            explanations.push(RawExplanation {
                index,
                steps,
                derived,
                simplification_steps: simplification.explanation_trees.len().saturating_sub(1),
            });
        }
    }
    Ok((
        Outcome {
            derivatives,
            reports,
            f_real,
            directions,
            explanations,
        },
        best,
        explanations_of_plain,
    ))
}

/// `f` with the rewrites of [`Phase::CanonicalInput`] applied where their
/// conditions hold: a small e-graph of f saturated with them, and each class where one
/// applied read back without the operator it rewrote away (`‖e‖²` becomes `sum(e ∘ e)`
/// and never reaches the derivative rules, which keeps differentiation to one form).
pub fn canonical_input(f: &RecExpr<Math>, analysis: &MathAnalysis) -> RecExpr<Math> {
    let table = Phase::CanonicalInput.rules();
    let rewrites = rules::rewrites(&table);
    let runner = Runner::default()
        .with_egraph(MathEGraph::new(analysis.clone()))
        .with_expr(f)
        .with_iter_limit(8)
        .with_time_limit(budget::remaining_or(Duration::from_secs(120)))
        .with_node_limit(20_000)
        .run(&rewrites);
    let egraph = &runner.egraph;
    let mut replaced: Vec<(Id, std::mem::Discriminant<Math>)> = vec![];
    for (rule, rewrite) in table.iter().zip(&rewrites) {
        let lhs: egg::Pattern<Math> = rule.lhs.parse().expect("rule patterns parse");
        let Some(egg::ENodeOrVar::ENode(head)) = lhs.ast.as_ref().last() else {
            continue;
        };
        for m in rewrite.search(egraph) {
            // Only where the rewrite applied: the class has another form.
            if egraph[m.eclass].nodes.len() > 1 {
                replaced.push((egraph.find(m.eclass), std::mem::discriminant(head)));
            }
        }
    }
    struct AvoidRewritten<'a> {
        egraph: &'a MathEGraph,
        replaced: Vec<(Id, std::mem::Discriminant<Math>)>,
    }
    impl CostFunction<Math> for AvoidRewritten<'_> {
        type Cost = f64;
        fn cost<C: FnMut(Id) -> f64>(&mut self, enode: &Math, mut costs: C) -> f64 {
            let class = self.egraph.lookup(enode.clone());
            let avoid = class.is_some_and(|c| {
                self.replaced
                    .contains(&(self.egraph.find(c), std::mem::discriminant(enode)))
            });
            let own = if avoid { 1e6 } else { 1.0 };
            enode.fold(own, |sum, id| sum + costs(id))
        }
    }
    let cost = AvoidRewritten { egraph, replaced };
    let best = extract::Best::new(egraph, cost)
        .find_best(runner.roots[0])
        .1;
    best
}

/// The term `(vjp 1 f X)` that a gradient starts from, as [`derive()`] adds it.
pub fn gradient_goal(f: &RecExpr<Math>, x: Symbol) -> RecExpr<Math> {
    let mut goal = f.clone();
    let root = Id::from(goal.as_ref().len() - 1);
    let one = goal.add(Math::Num(Number::new(1.0)));
    let var = goal.add(Math::Var(x));
    goal.add(Math::Vjp([one, root, var]));
    goal
}

/// Simplify an expression on its own (used for inputs and tests).
pub fn simplify(
    expr: &RecExpr<Math>,
    var_shapes: &BTreeMap<Symbol, Shape>,
    limits: &Limits,
) -> Result<RecExpr<Math>, EngineError> {
    let simplify = rules::rewrites(&Phase::Simplify.rules());
    let runner = Runner::default()
        .with_egraph(MathEGraph::new(MathAnalysis::new(var_shapes.clone())))
        .with_expr(expr)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(limits.simplify_iter_limit)
        .with_time_limit(limits.time_limit)
        .run(&simplify);
    check_conflicts(&runner.egraph)?;
    let extractor = extract::Best::new(&runner.egraph, ResultCost::new(&runner.egraph));
    Ok(extractor.find_best(runner.roots[0]).1)
}

fn report(stage: &'static str, runner: &Runner<Math, MathAnalysis>) -> StageReport {
    StageReport {
        stage,
        stop_reason: match &runner.stop_reason {
            Some(StopReason::Saturated) => "saturated".into(),
            Some(StopReason::IterationLimit(n)) => format!("iteration limit ({n})"),
            Some(StopReason::NodeLimit(n)) => format!("node limit ({n})"),
            Some(StopReason::TimeLimit(t)) => format!("time limit ({t:.1} s)"),
            Some(StopReason::Other(s)) => s.clone(),
            None => "not run".into(),
        },
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        seconds: runner.iterations.iter().map(|i| i.total_time).sum(),
    }
}

fn check_conflicts(egraph: &MathEGraph) -> Result<(), EngineError> {
    match egraph.analysis.conflicts.first() {
        None => Ok(()),
        Some(c) => Err(EngineError::ShapeConflict(match (&c.first, &c.second) {
            (Some(a), Some(b)) => format!("{}: {a} vs {b}", c.node),
            _ => c.node.clone(),
        })),
    }
}

fn limit_error(stop: &StopReason, limits: &Limits, phase: &'static str) -> EngineError {
    match stop {
        StopReason::NodeLimit(n) => EngineError::Limit {
            limit: format!("node limit ({n} e-nodes)"),
            phase,
            flag: "--node-limit",
        },
        StopReason::IterationLimit(n) => EngineError::Limit {
            limit: format!("iteration limit ({n})"),
            phase,
            flag: "--iter-limit",
        },
        StopReason::TimeLimit(_) => EngineError::Limit {
            limit: format!("time limit ({} s)", limits.time_limit.as_secs()),
            phase,
            flag: "--time-limit",
        },
        StopReason::Saturated | StopReason::Other(_) => EngineError::Limit {
            limit: "stop".into(),
            phase,
            flag: "--node-limit",
        },
    }
}

/// Why a derivative could not be produced: the smallest sub-expression whose `vjp`
/// stayed unresolved is the construct no rule handles.
fn diagnose(egraph: &MathEGraph, extractor: &extract::Best<'_>, goal: Id) -> EngineError {
    let mut worst: Option<(f64, Id)> = None;
    for class in egraph.classes() {
        if !extractor.find_best_cost(class.id).is_infinite() {
            continue;
        }
        for node in &class.nodes {
            if let Math::Vjp([_, e, _]) | Math::Jvp([e, _, _]) | Math::Coef([e, _]) = node {
                let cost = extractor.find_best_cost(*e);
                if cost.is_finite() && worst.is_none_or(|(c, _)| cost < c) {
                    worst = Some((cost, *e));
                }
            }
        }
    }
    let Some((_, e)) = worst else {
        return EngineError::NoRule {
            construct: "this expression".into(),
            expr: extractor.find_best(goal).1,
        };
    };
    let expr = extractor.find_best(e).1;
    let construct = expr
        .as_ref()
        .last()
        .map(describe)
        .unwrap_or_else(|| "this expression".into());
    EngineError::NoRule { construct, expr }
}

/// A construct in words, for error messages.
pub fn describe(node: &Math) -> String {
    let what = match node {
        Math::Kron(_) => "the Kronecker product `⊗`",
        Math::Vec(_) => "`vec`",
        Math::Pow(_) => "a matrix power with a non-constant or non-integer exponent",
        Math::Conj(_) => "`conj`",
        Math::Real(_) => "`real`",
        Math::Imag(_) => "`imag`",
        Math::Adjoint(_) => "the conjugate transpose `ᴴ`",
        Math::Grad(_) => "a gradient call `∇L(·)` (second derivatives of generic functions)",
        Math::Elementwise(_) => {
            "this element-wise function (a derivative of a built-in beyond the first)"
        }
        _ => return format!("`{}`", node),
    };
    what.to_string()
}
