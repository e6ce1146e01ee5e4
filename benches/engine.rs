//! Time against size: the design example, and the gradient of an MLP loss
//! `L(σ(W_N σ(… σ(W_1 x))))` wrt W_1 for N = 1, 2, 4, …, 64; and what `--explain` costs
//! for the depth-8 MLP. Every run goes through the library API (parse, check, derive).
//! Run with `cargo bench`.

use matdiff::api::{derive, Options};
use std::time::{Duration, Instant};

/// The median wall time of `runs` derivations of `source` wrt `wrt`, and the size of the
/// first result (its nodes) or, with `explain`, the lines of its derivation.
fn median_time(source: &str, wrt: &str, runs: usize, explain: bool) -> (Duration, usize) {
    let options = Options {
        explain,
        ..Options::wrt([wrt])
    };
    let mut times = vec![];
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let d = derive(source, &options).expect("the benchmark expressions differentiate");
        size = if explain {
            d.explanation(None).lines().count()
        } else {
            d.outcome.derivatives[0].expr.as_ref().len()
        };
        times.push(start.elapsed());
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
    let (t, size) = median_time("L(σ(W1 x) ∘ W2)", "W1", 21, false);
    println!(
        "design example  L(σ(W1 x) ∘ W2) wrt W1: {:>9.3} ms  ({size} result nodes)",
        t.as_secs_f64() * 1e3
    );
    println!();
    println!("MLP gradient wrt W_1");
    println!("{:>4}  {:>10}  {:>12}", "N", "time (ms)", "result nodes");
    for n in [1, 2, 4, 8, 16, 32, 64] {
        let runs = if n >= 32 { 3 } else { 11 };
        let (t, size) = median_time(&mlp(n), "W_1", runs, false);
        println!("{n:>4}  {:>10.3}  {size:>12}", t.as_secs_f64() * 1e3);
    }
    println!();
    let (plain, _) = median_time(&mlp(8), "W_1", 21, false);
    let (explained, lines) = median_time(&mlp(8), "W_1", 21, true);
    println!(
        "--explain, MLP N = 8 wrt W_1: {:>9.3} ms against {:.3} ms plain, ratio {:.1} ({lines} lines of derivation)",
        explained.as_secs_f64() * 1e3,
        plain.as_secs_f64() * 1e3,
        explained.as_secs_f64() / plain.as_secs_f64()
    );
}
