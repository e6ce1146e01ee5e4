//! Time against size: the design example, and the gradient of an MLP loss
//! `L(σ(W_N σ(… σ(W_1 x))))` wrt W_1 for N = 1, 2, 4, …, 64; and what `--explain` costs
//! for the depth-8 MLP. Run with `cargo bench`.

use matdiff::engine::explain;
use matdiff::engine::{derive, gradients, Limits, Request};
use matdiff::lang::MathAnalysis;
use matdiff::{check_program, Checked};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The median wall time of `runs` gradient computations.
fn median_time(checked: &Checked, wrt: &str, runs: usize) -> (Duration, usize) {
    let shapes: BTreeMap<_, _> = checked
        .variables
        .iter()
        .map(|v| (egg::Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let mut times = vec![];
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let analysis = MathAnalysis::new(shapes.clone());
        let outcome = gradients(&checked.expr, &analysis, &[wrt.into()], &Limits::default())
            .expect("the benchmark expressions differentiate");
        times.push(start.elapsed());
        size = outcome.derivatives[0].expr.as_ref().len();
    }
    times.sort();
    (times[times.len() / 2], size)
}

/// `L(σ(W_n σ(… σ(W_1 x))))`.
fn mlp(n: usize) -> String {
    let mut e = "x".to_string();
    for k in 1..=n {
        e = format!("σ(W_{k} {e})");
    }
    format!("L({e})")
}

fn main() {
    let design = check_program("L(σ(W1 x) ∘ W2)").expect("the design example parses");
    let (t, size) = median_time(&design, "W1", 21);
    println!(
        "design example  L(σ(W1 x) ∘ W2) wrt W1: {:>9.3} ms  ({size} result nodes)",
        t.as_secs_f64() * 1e3
    );
    println!();
    println!("MLP gradient wrt W_1");
    println!("{:>4}  {:>10}  {:>12}", "N", "time (ms)", "result nodes");
    for n in [1, 2, 4, 8, 16, 32, 64] {
        let checked = check_program(&mlp(n)).expect("the MLP parses");
        let runs = if n >= 32 { 3 } else { 11 };
        let (t, size) = median_time(&checked, "W_1", runs);
        println!("{n:>4}  {:>10.3}  {size:>12}", t.as_secs_f64() * 1e3);
    }
    println!();
    let checked = check_program(&mlp(8)).expect("the MLP parses");
    let (plain, _) = median_time(&checked, "W_1", 21);
    let (explained, lines) = median_explain_time(&checked, "W_1", 21);
    println!(
        "--explain, MLP N = 8 wrt W_1: {:>9.3} ms against {:.3} ms plain, ratio {:.1} ({lines} lines of derivation)",
        explained.as_secs_f64() * 1e3,
        plain.as_secs_f64() * 1e3,
        explained.as_secs_f64() / plain.as_secs_f64()
    );
}

/// The median wall time of `runs` explained gradient computations (the engine with
/// explanations, the derivation and its text), and the derivation's length in lines.
fn median_explain_time(checked: &Checked, wrt: &str, runs: usize) -> (Duration, usize) {
    let shapes: BTreeMap<_, _> = checked
        .variables
        .iter()
        .map(|v| (egg::Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let limits = Limits {
        explain: true,
        ..Limits::default()
    };
    let mut times = vec![];
    let mut lines = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let analysis = MathAnalysis::new(shapes.clone());
        let outcome = derive(
            &checked.expr,
            &analysis,
            &[(wrt.into(), Request::Gradient)],
            &limits,
        )
        .expect("the benchmark expressions differentiate");
        let ctx = explain::Context::new(checked, &analysis);
        let derivations = explain::derivations(&checked.expr, &outcome, &ctx);
        let text = derivations
            .first()
            .map(|(_, d)| d.to_text("∂f/∂W_1"))
            .unwrap_or_default();
        times.push(start.elapsed());
        lines = text.lines().count();
    }
    times.sort();
    (times[times.len() / 2], lines)
}
