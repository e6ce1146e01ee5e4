//! Seeded random inputs: a small PRNG, input families and concrete dimensions.

use super::funcs::fnv1a;
use super::{to_complex, CEnv, CMat, Env, EvalError, Mat, C64};
use crate::lang::dims::Shape;
use egg::Symbol;
use std::collections::BTreeMap;

/// The splitmix64 generator, with uniform and Box–Muller normal draws.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator started from `seed`; the same seed gives the same draws.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1], so the log is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// −1 or 1.
    pub fn sign(&mut self) -> f64 {
        if self.next_u64() & 1 == 0 {
            1.0
        } else {
            -1.0
        }
    }
}

/// A distribution of inputs. 1×1 values are scalars: ±U[0.5, 1.5] (as in casehelpers.py),
/// U[0.5, 1.5] in the positive families. [`random_complex_matrix`] has a complex version
/// of each family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFamily {
    /// N(0, 1) entries.
    Gaussian,
    /// Entries in U[0.5, 1.5].
    Positive,
    /// Square matrices M/√n + 2I with M Gaussian, redrawn until det > 0 (tame inverses);
    /// others Gaussian.
    WellConditioned,
    /// Square matrices U[0.5, 1.5]/n + 2I: positive entries, strictly diagonally dominant
    /// (so det > 0); others positive.
    PositiveWellConditioned,
    /// Square matrices M Mᵀ/n + I (symmetric positive definite); others Gaussian.
    Spd,
    /// Values that keep deep compositions finite and their derivatives measurable:
    /// square matrices orthogonal (the Q of a Gaussian matrix), other matrices
    /// Gaussian / √(larger side), vectors of norm about 0.1; so that `tanh(W_k …)`
    /// layers neither blow up nor saturate.
    Tame,
}

/// The families [`check_gradients`](super::check_gradients) tries, in order, until the
/// function is finite at the point.
pub const FALLBACK_FAMILIES: [InputFamily; 6] = [
    InputFamily::Gaussian,
    InputFamily::WellConditioned,
    InputFamily::Positive,
    InputFamily::PositiveWellConditioned,
    InputFamily::Spd,
    InputFamily::Tame,
];

/// Distinct sizes 2, 3, 4, … for the dimensions, in the order given (repeats ignored), so
/// that a transposition mistake shows as a shape or value mismatch.
pub fn concrete_dims(dims: &[Symbol]) -> BTreeMap<Symbol, usize> {
    let mut out = BTreeMap::new();
    for &d in dims {
        let next = out.len() + 2;
        out.entry(d).or_insert(next);
    }
    out
}

/// Seeded random values for the variables. Each variable has its own stream, from the
/// seed and its name, so its value does not depend on the other variables.
pub fn random_env(
    vars: &[(Symbol, Shape)],
    dims: &BTreeMap<Symbol, usize>,
    seed: u64,
    family: InputFamily,
) -> Result<Env, EvalError> {
    draw_env(vars, dims, seed, |_, rows, cols, rng| {
        random_matrix(rows, cols, family, rng)
    })
}

/// [`random_env`] with complex values: the variables in `complex_vars` get
/// [`random_complex_matrix`] values, the others the same real values as in
/// [`random_env`] (with zero imaginary parts).
pub fn random_complex_env(
    vars: &[(Symbol, Shape)],
    complex_vars: &[Symbol],
    dims: &BTreeMap<Symbol, usize>,
    seed: u64,
    family: InputFamily,
) -> Result<CEnv, EvalError> {
    draw_env(vars, dims, seed, |name, rows, cols, rng| {
        if complex_vars.contains(&name) {
            random_complex_matrix(rows, cols, family, rng)
        } else {
            to_complex(&random_matrix(rows, cols, family, rng))
        }
    })
}

/// An environment with a value drawn by `draw` (name, rows, cols, the variable's own
/// stream) for each variable.
fn draw_env<T>(
    vars: &[(Symbol, Shape)],
    dims: &BTreeMap<Symbol, usize>,
    seed: u64,
    draw: impl Fn(Symbol, usize, usize, &mut SplitMix64) -> nalgebra::DMatrix<T>,
) -> Result<Env<T>, EvalError> {
    let mut env = Env {
        vars: BTreeMap::new(),
        dims: dims.clone(),
    };
    for (name, shape) in vars {
        let (rows, cols) = (env.size(&shape.rows)?, env.size(&shape.cols)?);
        if rows
            .checked_mul(cols)
            .is_none_or(|n| n > super::MAX_ENTRIES)
        {
            return Err(EvalError::TooLarge(rows, cols));
        }
        let stream = SplitMix64::new(seed ^ fnv1a(name.as_str())).next_u64();
        let value = draw(*name, rows, cols, &mut SplitMix64::new(stream));
        env.vars.insert(*name, value);
    }
    Ok(env)
}

/// A random rows × cols matrix of the family.
pub fn random_matrix(rows: usize, cols: usize, family: InputFamily, rng: &mut SplitMix64) -> Mat {
    use InputFamily::*;
    let positive = matches!(family, Positive | PositiveWellConditioned);
    if rows == 1 && cols == 1 {
        let s = if positive { 1.0 } else { rng.sign() };
        return Mat::from_element(1, 1, s * rng.uniform_in(0.5, 1.5));
    }
    if rows == 0 || cols == 0 {
        return Mat::zeros(rows, cols);
    }
    let n = rows;
    let gaussian = |rng: &mut SplitMix64| Mat::from_fn(rows, cols, |_, _| rng.normal());
    let eye = Mat::identity(rows, cols);
    match family {
        Tame if rows == 1 || cols == 1 => gaussian(rng) * (0.1 / ((rows * cols) as f64).sqrt()),
        Tame if rows == cols => gaussian(rng).qr().q(),
        Tame => gaussian(rng) / (rows.max(cols) as f64).sqrt(),
        _ if rows != cols => {
            if positive {
                Mat::from_fn(rows, cols, |_, _| rng.uniform_in(0.5, 1.5))
            } else {
                gaussian(rng)
            }
        }
        Gaussian => gaussian(rng),
        Positive => Mat::from_fn(rows, cols, |_, _| rng.uniform_in(0.5, 1.5)),
        WellConditioned => {
            let scale = 1.0 / (n as f64).sqrt();
            let mut m = gaussian(rng) * scale + &eye * 2.0;
            for _ in 0..100 {
                if m.clone().lu().determinant() > 0.0 {
                    break;
                }
                m = gaussian(rng) * scale + &eye * 2.0;
            }
            if m.clone().lu().determinant() < 0.0 {
                m.column_mut(0).neg_mut();
            }
            m
        }
        PositiveWellConditioned => {
            Mat::from_fn(rows, cols, |_, _| rng.uniform_in(0.5, 1.5) / n as f64) + eye * 2.0
        }
        Spd => {
            let m = gaussian(rng);
            &m * m.transpose() / n as f64 + eye
        }
    }
}

/// A random complex rows × cols matrix of the family:
/// - 1×1: modulus U[0.5, 1.5] with a uniform phase; in the positive families
///   U[0.5, 1.5] + i U[−0.5, 0.5] (away from the branch cut of log and sqrt);
/// - Gaussian (and non-square matrices of the non-positive families): real and
///   imaginary parts N(0, 1); positive: U[0.5, 1.5] + i U[−0.5, 0.5] entries;
/// - well-conditioned: (G + iH)/√n + 2I with G, H Gaussian; positive well-conditioned:
///   positive entries / n + 2I (strictly diagonally dominant, so invertible);
/// - Spd: M Mᴴ/n + I with M complex Gaussian (Hermitian positive definite).
pub fn random_complex_matrix(
    rows: usize,
    cols: usize,
    family: InputFamily,
    rng: &mut SplitMix64,
) -> CMat {
    use InputFamily::*;
    let positive = matches!(family, Positive | PositiveWellConditioned);
    let positive_entry = |rng: &mut SplitMix64| {
        let re = rng.uniform_in(0.5, 1.5);
        C64::new(re, rng.uniform_in(-0.5, 0.5))
    };
    if rows == 1 && cols == 1 {
        let z = if positive {
            positive_entry(rng)
        } else {
            let r = rng.uniform_in(0.5, 1.5);
            C64::from_polar(r, rng.uniform_in(0.0, std::f64::consts::TAU))
        };
        return CMat::from_element(1, 1, z);
    }
    if rows == 0 || cols == 0 {
        return CMat::zeros(rows, cols);
    }
    let n = rows;
    let gaussian = |rng: &mut SplitMix64| {
        CMat::from_fn(rows, cols, |_, _| {
            let re = rng.normal();
            C64::new(re, rng.normal())
        })
    };
    let positive_matrix =
        |rng: &mut SplitMix64| CMat::from_fn(rows, cols, |_, _| positive_entry(rng));
    let two_eye = CMat::identity(rows, cols) * C64::new(2.0, 0.0);
    match family {
        Tame if rows == 1 || cols == 1 => {
            gaussian(rng).unscale(10.0 * ((2 * rows * cols) as f64).sqrt())
        }
        Tame if rows == cols => gaussian(rng).qr().q(),
        Tame => gaussian(rng).unscale(((2 * rows.max(cols)) as f64).sqrt()),
        _ if rows != cols => {
            if positive {
                positive_matrix(rng)
            } else {
                gaussian(rng)
            }
        }
        Gaussian => gaussian(rng),
        Positive => positive_matrix(rng),
        WellConditioned => gaussian(rng).unscale((n as f64).sqrt()) + two_eye,
        PositiveWellConditioned => positive_matrix(rng).unscale(n as f64) + two_eye,
        Spd => {
            let m = gaussian(rng);
            (&m * m.adjoint()).unscale(n as f64) + CMat::identity(rows, cols)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::dims::Dim;

    fn sym(s: &str) -> Symbol {
        Symbol::from(s)
    }

    fn vars() -> Vec<(Symbol, Shape)> {
        vec![
            (sym("X"), Shape::new(Dim::sym("n"), Dim::sym("n"))),
            (sym("W"), Shape::new(Dim::sym("m"), Dim::sym("n"))),
            (sym("x"), Shape::column(Dim::sym("n"))),
            (sym("α"), Shape::scalar()),
        ]
    }

    fn draw(seed: u64, family: InputFamily) -> Env {
        let dims = concrete_dims(&[sym("m"), sym("n")]);
        random_env(&vars(), &dims, seed, family).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dims_are_distinct_and_in_order() {
        let d = concrete_dims(&[sym("m"), sym("n"), sym("m"), sym("p")]);
        assert_eq!(d.len(), 3);
        assert_eq!((d[&sym("m")], d[&sym("n")], d[&sym("p")]), (2, 3, 4));
    }

    #[test]
    fn draws_are_seeded_and_shaped() {
        let a = draw(7, InputFamily::Gaussian);
        assert_eq!(a, draw(7, InputFamily::Gaussian));
        assert_ne!(
            a.vars[&sym("X")],
            draw(8, InputFamily::Gaussian).vars[&sym("X")]
        );
        assert_eq!(a.vars[&sym("X")].shape(), (3, 3));
        assert_eq!(a.vars[&sym("W")].shape(), (2, 3));
        assert_eq!(a.vars[&sym("x")].shape(), (3, 1));
        let s = a.vars[&sym("α")][0].abs();
        assert!((0.5..1.5).contains(&s));
        // A variable's value does not depend on the others.
        let dims = concrete_dims(&[sym("m"), sym("n")]);
        let alone = random_env(&vars()[2..3], &dims, 7, InputFamily::Gaussian);
        assert_eq!(
            alone.map(|e| e.vars[&sym("x")].clone()),
            Ok(a.vars[&sym("x")].clone())
        );
        // Unknown dimensions are errors.
        let missing = random_env(&vars(), &BTreeMap::new(), 0, InputFamily::Gaussian);
        assert!(matches!(missing, Err(EvalError::UnknownDim(_))));
    }

    #[test]
    fn empty_matrices() {
        use InputFamily::*;
        let mut rng = SplitMix64::new(3);
        for family in [
            Gaussian,
            Positive,
            WellConditioned,
            PositiveWellConditioned,
            Spd,
        ] {
            for (r, c) in [(0, 0), (0, 2), (3, 0)] {
                assert_eq!(random_matrix(r, c, family, &mut rng).shape(), (r, c));
            }
        }
    }

    #[test]
    fn gaussian_moments() {
        let mut rng = SplitMix64::new(1);
        let xs: Vec<f64> = (0..20000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn families_have_their_properties() {
        for seed in 0..200 {
            let p = draw(seed, InputFamily::Positive);
            assert!(p
                .vars
                .values()
                .flat_map(|m| m.iter())
                .all(|&v| (0.5..1.5).contains(&v)));
            let w = draw(seed, InputFamily::WellConditioned);
            assert!(w.vars[&sym("X")].clone().lu().determinant() > 0.0);
            let pw = draw(seed, InputFamily::PositiveWellConditioned);
            let x = &pw.vars[&sym("X")];
            assert!(x.iter().all(|&v| v > 0.0) && x.clone().lu().determinant() > 0.0);
            assert!(pw.vars[&sym("W")].iter().all(|&v| v > 0.0));
            let s = &draw(seed, InputFamily::Spd).vars[&sym("X")];
            assert!((s - s.transpose()).norm() < 1e-14 && s.clone().cholesky().is_some());
        }
    }

    #[test]
    fn complex_draws() {
        use InputFamily::*;
        let dims = concrete_dims(&[sym("m"), sym("n")]);
        let complex = [sym("X"), sym("x"), sym("α")];
        for seed in 0..100 {
            // Real variables get the values of random_env; complex ones their own stream.
            let real = random_env(&vars(), &dims, seed, Gaussian).unwrap_or_else(|e| panic!("{e}"));
            let e = random_complex_env(&vars(), &complex, &dims, seed, Gaussian)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(e.vars[&sym("W")], to_complex(&real.vars[&sym("W")]));
            for v in complex {
                assert!(e.vars[&v].iter().all(|z| z.im != 0.0), "{v}");
            }
            let a = e.vars[&sym("α")][0].norm();
            assert!((0.5..1.5).contains(&a));
            for family in [Positive, PositiveWellConditioned] {
                let e = random_complex_env(&vars(), &complex, &dims, seed, family)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(e.vars[&sym("x")]
                    .iter()
                    .all(|z| (0.5..1.5).contains(&z.re) && z.im.abs() <= 0.5));
                assert!(e.vars[&sym("X")].iter().all(|z| z.re > 0.0));
                assert!(e.vars[&sym("W")].iter().all(|z| z.re > 0.0 && z.im == 0.0));
            }
            let w = random_complex_env(&vars(), &complex, &dims, seed, WellConditioned)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(w.vars[&sym("X")].clone().try_inverse().is_some());
            let s = &random_complex_env(&vars(), &complex, &dims, seed, Spd)
                .unwrap_or_else(|e| panic!("{e}"))
                .vars[&sym("X")];
            assert!((s - s.adjoint()).norm() < 1e-14 && s.clone().cholesky().is_some());
            assert!(s.iter().any(|z| z.im != 0.0));
        }
        let mut rng = SplitMix64::new(5);
        for (r, c) in [(0, 0), (0, 2), (3, 0)] {
            assert_eq!(random_complex_matrix(r, c, Spd, &mut rng).shape(), (r, c));
        }
    }

    #[test]
    fn complex_gaussian_moments() {
        let mut rng = SplitMix64::new(2);
        let z = random_complex_matrix(200, 100, InputFamily::Gaussian, &mut rng);
        let n = z.len() as f64;
        let (re, im): (Vec<f64>, Vec<f64>) = z.iter().map(|v| (v.re, v.im)).unzip();
        for part in [re, im] {
            let mean = part.iter().sum::<f64>() / n;
            let var = part.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
                "{mean} {var}"
            );
        }
    }
}
