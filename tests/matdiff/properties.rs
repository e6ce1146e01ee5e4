//! Properties over generated expressions: every derivative of a random well-typed
//! program passes the numeric check, and every printed result parses back (with the
//! program's declarations and its `where` bindings) to an expression of the same value.

use clap::Parser;
use matdiff::cli::{run, Args};
use matdiff::engine::{derive, Limits, Request};
use matdiff::lang::MathAnalysis;
use matdiff::numeric::{self, InputFamily, SplitMix64};
use matdiff::{check_program, render};
use std::collections::BTreeMap;

const DECLARATIONS: &str =
    "x, y : R^n; A, B : R^(n×n); α : scalar; σ : elementwise; L : scalar-valued";
const PROGRAMS: u64 = 60;
const MAX_DEPTH: u32 = 3;

/// A random pick among `n` choices.
fn pick(rng: &mut SplitMix64, n: u64) -> u64 {
    rng.next_u64() % n
}

/// A random n×n matrix expression.
fn matrix(rng: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return ["A", "B"][pick(rng, 2) as usize].into();
    }
    let d = depth - 1;
    match pick(rng, 11) {
        0 => format!("{} + {}", matrix(rng, d), matrix(rng, d)),
        1 => format!("({} - {})", matrix(rng, d), matrix(rng, d)),
        2 => format!("({}) ({})", matrix(rng, d), matrix(rng, d)),
        3 => format!("({})ᵀ", matrix(rng, d)),
        4 => format!("({}) ∘ ({})", matrix(rng, d), matrix(rng, d)),
        5 => format!("α ({})", matrix(rng, d)),
        6 => format!("tanh({})", matrix(rng, d)),
        7 => format!("σ({})", matrix(rng, d)),
        8 => format!("diag({})", vector(rng, d)),
        9 => format!("({}) ({})ᵀ", vector(rng, d), vector(rng, d)),
        _ => format!("sin({})", matrix(rng, d)),
    }
}

/// A random n-vector expression.
fn vector(rng: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return ["x", "y"][pick(rng, 2) as usize].into();
    }
    let d = depth - 1;
    match pick(rng, 9) {
        0 => format!("({}) ({})", matrix(rng, d), vector(rng, d)),
        1 => format!("{} + {}", vector(rng, d), vector(rng, d)),
        2 => format!("({}) ∘ ({})", vector(rng, d), vector(rng, d)),
        3 => format!("tanh({})", vector(rng, d)),
        4 => format!("σ({})", vector(rng, d)),
        5 => format!("softmax({})", vector(rng, d)),
        6 => format!("({}) ({})", scalar(rng, d), vector(rng, d)),
        7 => format!("exp({})", vector(rng, d)),
        _ => format!("({} - {})", vector(rng, d), vector(rng, d)),
    }
}

/// A random scalar expression.
fn scalar(rng: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return "α".into();
    }
    let d = depth - 1;
    match pick(rng, 10) {
        0 => format!("tr({})", matrix(rng, d)),
        1 => format!("sum({})", matrix(rng, d)),
        2 => format!("({})ᵀ ({})", vector(rng, d), vector(rng, d)),
        3 => format!("norm({})^2", vector(rng, d)),
        4 => format!("norm({})", matrix(rng, d)),
        5 => format!("logsumexp({})", vector(rng, d)),
        6 => format!("({}) ({})", scalar(rng, d), scalar(rng, d)),
        7 => format!("L({})", vector(rng, d)),
        8 => format!("sin({})", scalar(rng, d)),
        _ => format!("{} + {}", scalar(rng, d), scalar(rng, d)),
    }
}

/// The random programs, each with its expression.
fn programs() -> Vec<String> {
    let mut rng = SplitMix64::new(20261128);
    (0..PROGRAMS)
        .map(|_| format!("{DECLARATIONS}; {}", scalar(&mut rng, MAX_DEPTH)))
        .collect()
}

#[test]
fn random_gradients_pass_the_numeric_check() {
    let mut failures = vec![];
    for program in programs() {
        let args = Args::parse_from([
            "matdiff", "--wrt", "x", "--wrt", "A", "--wrt", "α", "--check", &program,
        ]);
        let out = run(&args, &program);
        if out.code != 0 || !out.stderr.contains("check: passed") {
            failures.push(format!(
                "{program}\n  exit {}: {}",
                out.code,
                out.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {PROGRAMS} random programs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn printed_results_parse_back_to_the_same_value() {
    let mut failures = vec![];
    let mut compared = 0;
    let mut unsized_constants = 0;
    for program in programs() {
        let checked = check_program(&program).expect("generated programs are well typed");
        let shapes: BTreeMap<_, _> = checked
            .variables
            .iter()
            .map(|v| (egg::Symbol::from(v.name.as_str()), v.shape.clone()))
            .collect();
        let analysis = MathAnalysis::new(shapes.clone());
        let wants: Vec<_> = ["x", "A"]
            .iter()
            .map(|w| (egg::Symbol::from(*w), Request::Gradient))
            .collect();
        let outcome = derive(&checked.expr, &analysis, &wants, &Limits::default())
            .expect("generated programs differentiate");
        for d in &outcome.derivatives {
            let sharing = render::share(&d.expr, &checked.binding_terms).with_variables(
                checked
                    .variables
                    .iter()
                    .map(|v| (v.shape.clone(), v.name.clone())),
            );
            let (main, defs) = render::text::with_sharing(&d.expr, &sharing);
            let bindings: String = defs.iter().map(|(n, e)| format!("{n} = {e}; ")).collect();
            let reparsed_source = format!("{DECLARATIONS}; {bindings}{main}");
            let reparsed = match check_program(&reparsed_source) {
                Ok(r) => r,
                // `I` and `ones` carry no size in the language: where only a scaling
                // surrounds them (`s (I + ones)`), nothing fixes it when read back.
                Err(e) if e.message.contains("is not fixed") => {
                    unsized_constants += 1;
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{reparsed_source}\n{}", e.render(&reparsed_source)));
                    continue;
                }
            };
            let vars: Vec<_> = shapes.iter().map(|(k, v)| (*k, v.clone())).collect();
            let dims = numeric::concrete_dims(&checked.dims);
            let env = numeric::random_env(&vars, &dims, 7, InputFamily::WellConditioned)
                .expect("random inputs");
            match (
                numeric::eval(&d.expr, &env),
                numeric::eval(&reparsed.expr, &env),
            ) {
                // The same limit when the front end's default size for `ones` (a
                // column) differs from the result's.
                (Ok(a), Ok(b)) if a.shape() != b.shape() && main.contains("ones") => {
                    unsized_constants += 1;
                }
                (Ok(a), Ok(b)) => {
                    compared += 1;
                    // A zero result prints as `0`, whatever its shape.
                    let b = if main == "0" { a.map(|_| 0.0) } else { b };
                    let err = numeric::rel_err(&a, &b);
                    if err > 1e-9 {
                        failures.push(format!("{reparsed_source}: relative difference {err:.1e}"));
                    }
                }
                (a, b) => failures.push(format!("{reparsed_source}: {a:?} / {b:?}")),
            }
        }
    }
    assert!(compared > 0, "nothing was compared");
    assert!(
        unsized_constants * 10 <= compared,
        "{unsized_constants} results have an `I` or `ones` whose size nothing fixes ({compared} compared)"
    );
    assert!(
        failures.is_empty(),
        "{} results did not round-trip:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
