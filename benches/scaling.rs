//! Time against size for the families of issue 11: a whole run (parse, shapes,
//! differentiation, simplification, extraction, printing as text), in CPU seconds of
//! this thread, per N, and the growth exponent fitted between N = 32 and N = 128.
//! Run with `cargo bench --bench scaling` (`-- quick` stops at N = 128).

use clap::Parser;
use matdiff::cli::{run, Args};
use std::time::Instant;

/// CPU time of this thread in seconds (Linux `schedstat`), or wall time elsewhere.
fn cpu_seconds(start: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(|| start.elapsed().as_secs_f64(), |ns| ns * 1e-9)
}

fn decls(prefix: &str, n: usize, shape: &str) -> String {
    (1..=n)
        .map(|k| format!("{prefix}{k} : {shape}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `tr(A1 X A2 X … AN X)`.
fn trace_chain(n: usize) -> String {
    let body: Vec<String> = (1..=n).map(|k| format!("A{k} X")).collect();
    format!(
        "X : R^(n×n); {}; tr({})",
        decls("A", n, "R^(n×n)"),
        body.join(" ")
    )
}

/// `tr(A1 X⁻¹ … AN X⁻¹)`.
fn inverse_chain(n: usize) -> String {
    let body: Vec<String> = (1..=n).map(|k| format!("A{k} X⁻¹")).collect();
    format!(
        "X : R^(n×n); {}; tr({})",
        decls("A", n, "R^(n×n)"),
        body.join(" ")
    )
}

/// `M_k = X ∘ (A_k M_{k-1})`, `M_0 = X`, `tr(Bᵀ M_N)`.
fn hadamard_mix(n: usize) -> String {
    let mut lines = vec![format!(
        "X : R^(n×n); B : R^(n×n); {}",
        decls("A", n, "R^(n×n)")
    )];
    lines.push("M1 = X ∘ (A1 X)".into());
    lines.extend((2..=n).map(|k| format!("M{k} = X ∘ (A{k} M{})", k - 1)));
    lines.push(format!("tr(Bᵀ M{n})"));
    lines.join("; ")
}

/// `sum(tanh(A1 X) ∘ … ∘ tanh(AN X))`.
fn tanh_products(n: usize) -> String {
    let body: Vec<String> = (1..=n).map(|k| format!("tanh(A{k} X)")).collect();
    format!(
        "X : R^(n×n); {}; sum({})",
        decls("A", n, "R^(n×n)"),
        body.join(" ∘ ")
    )
}

/// `xᵀ A1 x + … + xᵀ AN x`.
fn quadratics(n: usize) -> String {
    let body: Vec<String> = (1..=n).map(|k| format!("xᵀ A{k} x")).collect();
    format!(
        "x : R^n; {}; {}",
        decls("A", n, "R^(n×n)"),
        body.join(" + ")
    )
}

/// `h_k = tanh(W_k h_{k-1})`, `h_0 = x`, with the loss `norm(h_N - y)^2` or
/// `(h_N - y)ᵀ (h_N - y)`.
fn mlp(n: usize, norm: bool) -> String {
    let mut lines = vec![format!("x, y : R^n; {}", decls("W", n, "R^(n×n)"))];
    lines.push("h1 = tanh(W1 x)".into());
    lines.extend((2..=n).map(|k| format!("h{k} = tanh(W{k} h{})", k - 1)));
    lines.push(if norm {
        format!("norm(h{n} - y)^2")
    } else {
        format!("(h{n} - y)ᵀ (h{n} - y)")
    });
    lines.join("; ")
}

/// The CPU time of the fastest of `runs` whole runs.
fn time(program: &str, wrt: &[String], runs: usize) -> f64 {
    let mut argv = vec!["matdiff".to_string()];
    for w in wrt {
        argv.push("--wrt".into());
        argv.push(w.clone());
    }
    let args = Args::parse_from(&argv);
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let start = Instant::now();
        let before = cpu_seconds(start);
        let out = run(&args, program);
        let after = cpu_seconds(start);
        assert_eq!(out.code, 0, "{program}: {}", out.stderr);
        best = best.min(after - before);
    }
    best
}

type Family = (&'static str, fn(usize) -> String, fn(usize) -> Vec<String>);

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let x = |_: usize| vec!["X".to_string()];
    let families: Vec<Family> = vec![
        ("trace chain tr(A1 X … AN X) wrt X", trace_chain, x),
        ("inverse chain tr(A1 X⁻¹ … AN X⁻¹) wrt X", inverse_chain, x),
        ("Hadamard mix M_k = X ∘ (A_k M_k-1) wrt X", hadamard_mix, x),
        ("element-wise sum(tanh(A1 X) ∘ …) wrt X", tanh_products, x),
        ("quadratics xᵀ A1 x + … wrt x", quadratics, |_| {
            vec!["x".into()]
        }),
        (
            "MLP norm(h_N - y)^2 wrt W1",
            |n| mlp(n, true),
            |_| vec!["W1".into()],
        ),
        (
            "MLP (h_N - y)ᵀ (h_N - y) wrt W1",
            |n| mlp(n, false),
            |_| vec!["W1".into()],
        ),
        (
            "MLP norm(h_N - y)^2 wrt every W_k",
            |n| mlp(n, true),
            |n| (1..=n).map(|k| format!("W{k}")).collect(),
        ),
        (
            "MLP (h_N - y)ᵀ (h_N - y) wrt every W_k",
            |n| mlp(n, false),
            |n| (1..=n).map(|k| format!("W{k}")).collect(),
        ),
    ];
    let sizes: &[usize] = if quick {
        &[8, 16, 32, 64, 128]
    } else {
        &[8, 16, 32, 64, 128, 256]
    };
    print!("| family |");
    for n in sizes {
        print!(" N = {n} |");
    }
    println!(" exponent 32→128 |");
    print!("|---|");
    for _ in sizes {
        print!("---|");
    }
    println!("---|");
    for (name, program, wrt) in &families {
        print!("| {name} |");
        let mut at = std::collections::BTreeMap::new();
        for &n in sizes {
            let runs = if n >= 128 { 1 } else { 3 };
            let t = time(&program(n), &wrt(n), runs);
            at.insert(n, t);
            print!(" {:.3} s |", t);
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
        }
        let exponent = (at[&128] / at[&32]).ln() / 4f64.ln();
        println!(" {exponent:.2} |");
    }
}
