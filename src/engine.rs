//! The engine: differentiation rules to saturation, then simplification, then
//! extraction of the cheapest expression that contains no helper operator.

use crate::dims::Shape;
use crate::lang::{Math, MathAnalysis, MathEGraph, Number};
use crate::rules;
use egg::{CostFunction, Extractor, Id, Language, RecExpr, Runner, SimpleScheduler, StopReason, Symbol};
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
    pub time_limit: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            node_limit: 500_000,
            iter_limit: None,
            simplify_iter_limit: 8,
            time_limit: Duration::from_secs(120),
        }
    }
}

/// What one runner did.
#[derive(Debug, Clone)]
pub struct StageReport {
    pub stage: &'static str,
    pub stop_reason: String,
    pub iterations: usize,
    pub nodes: usize,
    pub classes: usize,
    pub seconds: f64,
}

/// One derivative: the variable and the simplified expression.
#[derive(Debug, Clone)]
pub struct Derivative {
    pub wrt: Symbol,
    pub expr: RecExpr<Math>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub derivatives: Vec<Derivative>,
    pub reports: Vec<StageReport>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("no derivative rule applies to {construct} (in `{expr}`)")]
    NoRule { construct: String, expr: String },
    #[error("differentiation stopped at the {limit} before it finished; raise it with {flag}")]
    Limit { limit: String, flag: &'static str },
    #[error("internal error: a rewrite produced an ill-shaped term ({0}); please report it")]
    ShapeConflict(String),
    #[error("`{0}` is not a variable of the expression")]
    UnknownVariable(String),
}

/// The extraction cost: tree size, with helper operators infinitely expensive.
pub struct ResultCost;

impl CostFunction<Math> for ResultCost {
    type Cost = f64;
    fn cost<C>(&mut self, enode: &Math, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        if enode.is_helper() {
            return f64::INFINITY;
        }
        let own = match enode {
            // Decorations weigh less than operations: numbers, exponents, transposes.
            Math::Num(_) | Math::Pow(_) => 0.5,
            Math::Transpose(_) => 0.9,
            Math::Neg(_) => 1.1,
            _ => 1.0,
        };
        enode.fold(own, |sum, id| sum + costs(id))
    }
}

/// The depth of an expression, which bounds how many iterations differentiation needs.
pub fn depth(expr: &RecExpr<Math>) -> usize {
    let mut depths: Vec<usize> = Vec::with_capacity(expr.len());
    for node in expr.iter() {
        let d = node.children().iter().map(|c| depths[usize::from(*c)]).max().unwrap_or(0);
        depths.push(d + 1);
    }
    depths.last().copied().unwrap_or(0)
}

/// The gradients of the 1×1 expression `f` with respect to each variable in `wrt`.
pub fn gradients(
    f: &RecExpr<Math>,
    var_shapes: &BTreeMap<Symbol, Shape>,
    wrt: &[Symbol],
    limits: &Limits,
) -> Result<Outcome, EngineError> {
    let mut egraph = MathEGraph::new(MathAnalysis::new(var_shapes.clone()));
    let root = egraph.add_expr(f);
    let one = egraph.add(Math::Num(Number::new(1.0)));
    let mut goals = vec![];
    for &x in wrt {
        if !var_shapes.contains_key(&x) {
            return Err(EngineError::UnknownVariable(x.to_string()));
        }
        let var = egraph.add(Math::Var(x));
        goals.push((x, egraph.add(Math::Vjp([one, root, var]))));
    }
    let iterations = limits.iter_limit.unwrap_or(4 * depth(f) + 16);
    let derive_rules = rules::rewrites(&rules::derivative_rules());
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(iterations)
        .with_time_limit(limits.time_limit)
        .with_scheduler(SimpleScheduler)
        .run(&derive_rules);
    let mut reports = vec![report("differentiate", &runner)];
    let stop = runner.stop_reason.clone();
    let egraph = runner.egraph;
    check_conflicts(&egraph)?;
    {
        let extractor = Extractor::new(&egraph, ResultCost);
        if let Some(&(_, goal)) = goals.iter().find(|(_, g)| extractor.find_best_cost(*g).is_infinite()) {
            return Err(match stop {
                Some(StopReason::Saturated) | None => diagnose(&egraph, &extractor, goal),
                Some(other) => limit_error(&other, limits),
            });
        }
    }
    let simplify = rules::rewrites(&rules::simplify_rules());
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(limits.simplify_iter_limit)
        .with_time_limit(limits.time_limit)
        .run(&simplify);
    reports.push(report("simplify", &runner));
    check_conflicts(&runner.egraph)?;
    let extractor = Extractor::new(&runner.egraph, ResultCost);
    let derivatives = goals
        .iter()
        .map(|&(wrt, goal)| Derivative {
            wrt,
            expr: extractor.find_best(goal).1,
        })
        .collect();
    Ok(Outcome {
        derivatives,
        reports,
    })
}

/// Simplify an expression on its own (used for inputs and tests).
pub fn simplify(expr: &RecExpr<Math>, var_shapes: &BTreeMap<Symbol, Shape>, limits: &Limits) -> Result<RecExpr<Math>, EngineError> {
    let simplify = rules::rewrites(&rules::simplify_rules());
    let runner = Runner::default()
        .with_egraph(MathEGraph::new(MathAnalysis::new(var_shapes.clone())))
        .with_expr(expr)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(limits.simplify_iter_limit)
        .with_time_limit(limits.time_limit)
        .run(&simplify);
    check_conflicts(&runner.egraph)?;
    let extractor = Extractor::new(&runner.egraph, ResultCost);
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

fn limit_error(stop: &StopReason, limits: &Limits) -> EngineError {
    match stop {
        StopReason::NodeLimit(n) => EngineError::Limit {
            limit: format!("node limit ({n} e-nodes)"),
            flag: "--node-limit",
        },
        StopReason::IterationLimit(n) => EngineError::Limit {
            limit: format!("iteration limit ({n})"),
            flag: "--iter-limit",
        },
        StopReason::TimeLimit(_) => EngineError::Limit {
            limit: format!("time limit ({} s)", limits.time_limit.as_secs()),
            flag: "--time-limit",
        },
        StopReason::Saturated | StopReason::Other(_) => EngineError::Limit {
            limit: "stop".into(),
            flag: "--node-limit",
        },
    }
}

/// Why a derivative could not be produced: the smallest sub-expression whose `vjp`
/// stayed unresolved is the construct no rule handles.
fn diagnose(egraph: &MathEGraph, extractor: &Extractor<ResultCost, Math, MathAnalysis>, goal: Id) -> EngineError {
    let mut worst: Option<(f64, Id)> = None;
    for class in egraph.classes() {
        if !extractor.find_best_cost(class.id).is_infinite() {
            continue;
        }
        for node in &class.nodes {
            if let Math::Vjp([_, e, _]) = node {
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
            expr: format!("{}", extractor.find_best(goal).1),
        };
    };
    let expr = extractor.find_best(e).1;
    let construct = expr
        .as_ref()
        .last()
        .map(describe)
        .unwrap_or_else(|| "this expression".into());
    EngineError::NoRule {
        construct,
        expr: crate::print::text::expr_to_string(&expr),
    }
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
        Math::Elementwise(_) => "this element-wise function (a derivative of a built-in beyond the first)",
        _ => return format!("`{}`", node),
    };
    what.to_string()
}
