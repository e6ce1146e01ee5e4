//! Element-wise functions, their derivatives, and the concrete stand-ins for generic
//! functions (mirroring the public case helpers (`casehelpers.py`)).

use super::{CMat, EvalError, Mat, C64};
use crate::lang::Func;

/// The highest derivative order of an element-wise function that can be evaluated.
pub const MAX_ORDER: u8 = 2;

/// A real function of one real variable.
pub type ScalarFn = fn(f64) -> f64;

/// A function, its first and its second derivative.
type Table = [ScalarFn; 3];

/// The element-wise function a leaf stands for: a built-in (`@exp''`), a generic one with
/// a fixed stand-in (`@σ` = tanh, `@φ` = sin, `@g` = arctan, `@ψ` = u + u³/4), or another
/// generic name, mapped to one of those four by a stable hash of its name.
pub fn elementwise(func: Func) -> Result<ScalarFn, EvalError> {
    if func.order > MAX_ORDER {
        return Err(EvalError::Function(format!(
            "{func}: derivatives of order above {MAX_ORDER} are not evaluated"
        )));
    }
    let name = ascii_name(func.name.as_str());
    let table = builtin(&name).unwrap_or_else(|| generic_elementwise(&name));
    Ok(table[usize::from(func.order)])
}

fn builtin(name: &str) -> Option<Table> {
    let t: Table = match name {
        "exp" => [f64::exp, f64::exp, f64::exp],
        "log" => [f64::ln, |u| 1.0 / u, |u| -1.0 / (u * u)],
        "sin" => [f64::sin, f64::cos, |u| -u.sin()],
        "cos" => [f64::cos, |u| -u.sin(), |u| -u.cos()],
        "tan" => [f64::tan, tan_d1, |u| 2.0 * u.tan() * tan_d1(u)],
        "tanh" => [f64::tanh, tanh_d1, tanh_d2],
        "sqrt" => [f64::sqrt, |u| 0.5 / u.sqrt(), |u| -0.25 / (u * u.sqrt())],
        "abs" => [f64::abs, sign, zero],
        "sign" => [sign, zero, zero],
        "sigmoid" => [sigmoid, sigmoid_d1, sigmoid_d2],
        "relu" => [|u| if u > 0.0 { u } else { zero(u) }, step, zero],
        "softplus" => [softplus, sigmoid, sigmoid_d1],
        _ => return None,
    };
    Some(t)
}

/// The generic stand-ins: `sigma`, `phi`, `g`, `psi` (the pool other names hash into).
const ELEMENTWISE_POOL: [(&str, Table); 4] = [
    ("sigma", [f64::tanh, tanh_d1, tanh_d2]),
    ("phi", [f64::sin, f64::cos, |u| -u.sin()]),
    (
        "g",
        [
            f64::atan,
            |u| 1.0 / (1.0 + u * u),
            |u| -2.0 * u / ((1.0 + u * u) * (1.0 + u * u)),
        ],
    ),
    (
        "psi",
        [
            |u| u + 0.25 * u * u * u,
            |u| 1.0 + 0.75 * u * u,
            |u| 1.5 * u,
        ],
    ),
];

fn generic_elementwise(name: &str) -> Table {
    pick(&ELEMENTWISE_POOL, name)
}

/// A generic scalar-valued function: its value, its gradient (shaped like the argument)
/// and its Hessian (N×N for an argument of N entries, in vec order: column-major), all
/// over all entries of the argument.
#[derive(Clone, Copy)]
pub struct ScalarValued {
    /// The function's value at the argument.
    pub value: fn(&Mat) -> f64,
    /// Its gradient, shaped like the argument.
    pub grad: fn(&Mat) -> Mat,
    /// Its Hessian over the vec of the argument (N×N).
    pub hess: fn(&Mat) -> Mat,
}

/// The stand-ins: `L` = logsumexp(u) + ¼‖u‖², `R` = Σ log(1 + u²),
/// `E` = Σ cos(u) + (Σ u)²/4 (the pool other names hash into). Their Hessians are
/// diag(s) − s sᵀ + ½ I with s = softmax(u), diag(2(1 − u²)/(1 + u²)²) and
/// −diag(cos u) + ½ 𝟙𝟙ᵀ (`L_hess`, `R_hess`, `E_hess` in casehelpers.py).
const SCALAR_POOL: [(&str, ScalarValued); 3] = [
    (
        "L",
        ScalarValued {
            value: |u| logsumexp(u) + 0.25 * u.norm_squared(),
            grad: |u| softmax(u) + u * 0.5,
            hess: |u| {
                let s = softmax(u);
                let n = s.len();
                Mat::from_fn(n, n, |i, j| {
                    let diag = if i == j { s[i] + 0.5 } else { 0.0 };
                    diag - s[i] * s[j]
                })
            },
        },
    ),
    (
        "R",
        ScalarValued {
            value: |u| u.iter().map(|v| (v * v).ln_1p()).sum(),
            grad: |u| u.map(|v| 2.0 * v / (1.0 + v * v)),
            hess: |u| {
                let d = u.map(|v| {
                    let q = 1.0 + v * v;
                    2.0 * (1.0 - v * v) / (q * q)
                });
                diagonal(d.as_slice(), 0.0)
            },
        },
    ),
    (
        "E",
        ScalarValued {
            value: |u| u.iter().map(|v| v.cos()).sum::<f64>() + 0.25 * u.sum() * u.sum(),
            grad: |u| {
                let half_sum = 0.5 * u.sum();
                u.map(|v| half_sum - v.sin())
            },
            hess: |u| {
                let n = u.len();
                Mat::from_fn(n, n, |i, j| {
                    let diag = if i == j { -u[i].cos() } else { 0.0 };
                    diag + 0.5
                })
            },
        },
    ),
];

/// The square matrix with `d` on its diagonal and `zero` elsewhere.
fn diagonal<T: nalgebra::Scalar + Copy>(d: &[T], zero: T) -> nalgebra::DMatrix<T> {
    let n = d.len();
    nalgebra::DMatrix::from_fn(n, n, |i, j| if i == j { d[i] } else { zero })
}

/// The stand-in of a generic scalar-valued function leaf (`@L`: used by `apply`, `grad`
/// and `hess`). Built-in element-wise names and derivative orders are errors.
pub fn scalar_valued(func: Func) -> Result<ScalarValued, EvalError> {
    if func.order > 0 {
        return Err(EvalError::Function(format!(
            "{func}: derivatives of a scalar-valued function are written with `grad` and `hess`"
        )));
    }
    if func.is_builtin() {
        return Err(EvalError::Function(format!(
            "{func} is element-wise, not scalar-valued"
        )));
    }
    Ok(pick(&SCALAR_POOL, &ascii_name(func.name.as_str())))
}

/// log Σ exp(u) over all entries, computed stably (−∞ for no entries).
pub fn logsumexp(u: &Mat) -> f64 {
    let max = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return if u.iter().any(|v| v.is_nan()) {
            f64::NAN
        } else {
            max
        };
    }
    max + u.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// exp(u) / Σ exp(u) over all entries, shaped like u.
pub fn softmax(u: &Mat) -> Mat {
    let max = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = u.map(|v| (v - max).exp());
    let total = e.sum();
    e / total
}

/// The entry named `name`, or one chosen by a stable hash of the name.
fn pick<T: Copy>(pool: &[(&str, T)], name: &str) -> T {
    let found = pool.iter().find(|(n, _)| *n == name);
    // The pools are non-empty constants, so the index is in range.
    let i = (fnv1a(name) % pool.len() as u64) as usize;
    found.unwrap_or(&pool[i]).1
}

/// FNV-1a: a hash that does not change between runs or platforms.
pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Greek letters spelled out (`σ` → `sigma`), as in casehelpers.py.
fn ascii_name(name: &str) -> String {
    crate::lang::greek::spell_ascii(name)
}

/// 0, keeping NaN.
fn zero(u: f64) -> f64 {
    if u.is_nan() {
        u
    } else {
        0.0
    }
}

/// −1, 0 or 1 (NumPy's `sign`: 0 at 0).
fn sign(u: f64) -> f64 {
    if u > 0.0 {
        1.0
    } else if u < 0.0 {
        -1.0
    } else {
        u * 0.0
    }
}

/// The derivative of relu: 1 for u > 0, else 0.
fn step(u: f64) -> f64 {
    if u > 0.0 {
        1.0
    } else {
        zero(u)
    }
}

fn tan_d1(u: f64) -> f64 {
    let t = u.tan();
    1.0 + t * t
}

fn tanh_d1(u: f64) -> f64 {
    let t = u.tanh();
    1.0 - t * t
}

fn tanh_d2(u: f64) -> f64 {
    let t = u.tanh();
    -2.0 * t * (1.0 - t * t)
}

fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

fn sigmoid_d1(u: f64) -> f64 {
    let s = sigmoid(u);
    s * (1.0 - s)
}

fn sigmoid_d2(u: f64) -> f64 {
    let s = sigmoid(u);
    s * (1.0 - s) * (1.0 - 2.0 * s)
}

/// log(1 + eᵘ), computed stably.
fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

// ---------------------------------------------------------------------------------------
// Complex arguments
// ---------------------------------------------------------------------------------------

/// A complex function of one complex variable.
pub type ComplexFn = fn(C64) -> C64;

/// A complex function, its first and its second derivative.
type ComplexTable = [ComplexFn; 3];

/// The complex version of [`elementwise`]: principal branches (`log`, `sqrt`, `atan`),
/// the holomorphic extensions of the generic stand-ins, and for the functions that are
/// not holomorphic: `abs` = |z| (derivative `sign`), `sign` = z/|z| (0 at 0), `relu` = z
/// where Re z > 0 (else 0). Order comparisons use the real part.
///
/// The evaluator applies it to entries with a nonzero imaginary part only; an entry
/// with a zero imaginary part goes through the real function, like a real NumPy array
/// (so `log` of a negative real is NaN, not iπ + …).
pub fn elementwise_complex(func: Func) -> Result<ComplexFn, EvalError> {
    if func.order > MAX_ORDER {
        return Err(EvalError::Function(format!(
            "{func}: derivatives of order above {MAX_ORDER} are not evaluated"
        )));
    }
    let name = ascii_name(func.name.as_str());
    let table = complex_builtin(&name).unwrap_or_else(|| pick(&COMPLEX_POOL, &name));
    Ok(table[usize::from(func.order)])
}

fn complex_builtin(name: &str) -> Option<ComplexTable> {
    let t: ComplexTable = match name {
        "exp" => [C64::exp, C64::exp, C64::exp],
        "log" => [C64::ln, |z| z.finv(), |z| -(z * z).finv()],
        "sin" => [C64::sin, C64::cos, |z| -z.sin()],
        "cos" => [C64::cos, |z| -z.sin(), |z| -z.cos()],
        "tan" => [C64::tan, ctan_d1, |z| z.tan() * ctan_d1(z) * 2.0],
        "tanh" => [C64::tanh, ctanh_d1, ctanh_d2],
        "sqrt" => [
            C64::sqrt,
            |z| z.sqrt().finv() * 0.5,
            |z| (z * z.sqrt()).finv() * -0.25,
        ],
        "abs" => [|z| C64::new(z.norm(), 0.0), csign, czero],
        "sign" => [csign, czero, czero],
        "sigmoid" => [csigmoid, csigmoid_d1, csigmoid_d2],
        "relu" => [|z| if z.re > 0.0 { z } else { czero(z) }, cstep, czero],
        "softplus" => [csoftplus, csigmoid, csigmoid_d1],
        _ => return None,
    };
    Some(t)
}

/// The generic stand-ins of [`ELEMENTWISE_POOL`], in the same order, for complex
/// arguments.
const COMPLEX_POOL: [(&str, ComplexTable); 4] = [
    ("sigma", [C64::tanh, ctanh_d1, ctanh_d2]),
    ("phi", [C64::sin, C64::cos, |z| -z.sin()]),
    (
        "g",
        [
            C64::atan,
            |z| (z * z + 1.0).finv(),
            |z| {
                let d = z * z + 1.0;
                z * -2.0 * (d * d).finv()
            },
        ],
    ),
    (
        "psi",
        [
            |z| z + z * z * z * 0.25,
            |z| z * z * 0.75 + 1.0,
            |z| z * 1.5,
        ],
    ),
];

/// The complex version of [`ScalarValued`]: the same formulas, holomorphically extended.
#[derive(Clone, Copy)]
pub struct ComplexScalarValued {
    /// The function's value at the argument.
    pub value: fn(&CMat) -> C64,
    /// Its gradient, shaped like the argument.
    pub grad: fn(&CMat) -> CMat,
    /// Its Hessian over the vec of the argument (N×N).
    pub hess: fn(&CMat) -> CMat,
}

/// [`SCALAR_POOL`] for complex arguments, in the same order.
const COMPLEX_SCALAR_POOL: [(&str, ComplexScalarValued); 3] = [
    (
        "L",
        ComplexScalarValued {
            value: |u| logsumexp_complex(u) + u.iter().map(|v| v * v).sum::<C64>() * 0.25,
            grad: |u| softmax_complex(u) + u.map(|v| v * 0.5),
            hess: |u| {
                let s = softmax_complex(u);
                let n = s.len();
                CMat::from_fn(n, n, |i, j| {
                    let diag = if i == j {
                        s[i] + 0.5
                    } else {
                        C64::new(0.0, 0.0)
                    };
                    diag - s[i] * s[j]
                })
            },
        },
    ),
    (
        "R",
        ComplexScalarValued {
            value: |u| u.iter().map(|v| (v * v + 1.0).ln()).sum(),
            grad: |u| u.map(|v| v * 2.0 * (v * v + 1.0).finv()),
            hess: |u| {
                let d = u.map(|v| {
                    let q = v * v + 1.0;
                    (-(v * v) + 1.0) * 2.0 * (q * q).finv()
                });
                diagonal(d.as_slice(), C64::new(0.0, 0.0))
            },
        },
    ),
    (
        "E",
        ComplexScalarValued {
            value: |u| {
                let s: C64 = u.iter().sum();
                u.iter().map(|v| v.cos()).sum::<C64>() + s * s * 0.25
            },
            grad: |u| {
                let half_sum = u.iter().sum::<C64>() * 0.5;
                u.map(|v| half_sum - v.sin())
            },
            hess: |u| {
                let n = u.len();
                CMat::from_fn(n, n, |i, j| {
                    let diag = if i == j {
                        -u[i].cos()
                    } else {
                        C64::new(0.0, 0.0)
                    };
                    diag + 0.5
                })
            },
        },
    ),
];

/// The complex version of [`scalar_valued`] (the same stand-in for the same name).
pub fn scalar_valued_complex(func: Func) -> Result<ComplexScalarValued, EvalError> {
    scalar_valued(func)?;
    Ok(pick(&COMPLEX_SCALAR_POOL, &ascii_name(func.name.as_str())))
}

/// The largest real part (NaN entries ignored; −∞ for no entries).
fn max_real_part(u: &CMat) -> f64 {
    u.iter().map(|z| z.re).fold(f64::NEG_INFINITY, f64::max)
}

/// log Σ exp(u) over all entries (principal log), shifted by the largest real part;
/// −∞ for no entries.
pub fn logsumexp_complex(u: &CMat) -> C64 {
    let max = max_real_part(u);
    if !max.is_finite() {
        return if u.iter().any(|z| z.is_nan()) {
            C64::new(f64::NAN, f64::NAN)
        } else {
            C64::new(max, 0.0)
        };
    }
    u.iter().map(|z| (z - max).exp()).sum::<C64>().ln() + max
}

/// exp(u) / Σ exp(u) over all entries, shaped like u.
pub fn softmax_complex(u: &CMat) -> CMat {
    let max = max_real_part(u);
    let e = u.map(|z| (z - max).exp());
    let total: C64 = e.iter().sum();
    e.map(|z| z / total)
}

/// 0, keeping NaN.
fn czero(z: C64) -> C64 {
    if z.is_nan() {
        C64::new(f64::NAN, f64::NAN)
    } else {
        C64::new(0.0, 0.0)
    }
}

/// z / |z|, 0 at 0.
fn csign(z: C64) -> C64 {
    if z.re == 0.0 && z.im == 0.0 {
        C64::new(0.0, 0.0)
    } else {
        z.unscale(z.norm())
    }
}

/// The derivative of relu: 1 where Re z > 0, else 0.
fn cstep(z: C64) -> C64 {
    if z.re > 0.0 {
        C64::new(1.0, 0.0)
    } else {
        czero(z)
    }
}

fn ctan_d1(z: C64) -> C64 {
    let t = z.tan();
    t * t + 1.0
}

fn ctanh_d1(z: C64) -> C64 {
    let t = z.tanh();
    -(t * t) + 1.0
}

fn ctanh_d2(z: C64) -> C64 {
    let t = z.tanh();
    t * -2.0 * (-(t * t) + 1.0)
}

fn csigmoid(z: C64) -> C64 {
    if z.re >= 0.0 {
        ((-z).exp() + 1.0).finv()
    } else {
        let e = z.exp();
        e * (e + 1.0).finv()
    }
}

fn csigmoid_d1(z: C64) -> C64 {
    let s = csigmoid(z);
    s * (-s + 1.0)
}

fn csigmoid_d2(z: C64) -> C64 {
    let s = csigmoid(z);
    s * (-s + 1.0) * (-(s * 2.0) + 1.0)
}

/// The principal log(1 + eᶻ), computed stably: for Re z > 0 as z + log(1 + e⁻ᶻ) with
/// the imaginary part brought back into (−π, π].
fn csoftplus(z: C64) -> C64 {
    if z.re > 0.0 {
        let w = z + ((-z).exp() + 1.0).ln();
        let tau = std::f64::consts::TAU;
        let mut im = w.im - tau * (w.im / tau).round();
        if im <= -std::f64::consts::PI {
            im += tau;
        }
        C64::new(w.re, im)
    } else {
        (z.exp() + 1.0).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, order: u8) -> ScalarFn {
        let mut func = Func::new(name);
        func.order = order;
        match elementwise(func) {
            Ok(g) => g,
            Err(e) => panic!("{name}: {e}"),
        }
    }

    /// 4th-order central difference of g at u.
    fn diff(g: ScalarFn, u: f64) -> f64 {
        let h = 1e-3 * u.abs().max(1.0);
        (8.0 * (g(u + h) - g(u - h)) - (g(u + 2.0 * h) - g(u - 2.0 * h))) / (12.0 * h)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    const ALL: [&str; 20] = [
        "exp",
        "log",
        "sin",
        "cos",
        "tan",
        "tanh",
        "sqrt",
        "abs",
        "sign",
        "sigmoid",
        "relu",
        "softplus",
        "sigma",
        "σ",
        "phi",
        "φ",
        "g",
        "psi",
        "ψ",
        "h_unknown",
    ];

    #[test]
    fn every_builtin_elementwise_function_has_its_values() {
        // The table of built-ins (`lang::builtins`) is the list; a row without values
        // here would be evaluated as a generic stand-in.
        for b in crate::lang::builtins::BUILTINS {
            if let crate::lang::builtins::Builtin::Elementwise(name) = b.builtin {
                assert!(builtin(name).is_some(), "{name} has no real values");
                assert!(
                    complex_builtin(name).is_some(),
                    "{name} has no complex values"
                );
            }
        }
    }

    #[test]
    fn derivatives_match_finite_differences_of_the_order_below() {
        // Points away from kinks and poles; positive ones for log and sqrt.
        let points: [f64; 6] = [0.3, 0.7, 1.3, 2.1, -0.4, -1.2];
        for name in ALL {
            for &u in &points {
                let u = if matches!(name, "log" | "sqrt") {
                    u.abs()
                } else {
                    u
                };
                for order in 1..=2 {
                    let want = diff(f(name, order - 1), u);
                    let got = f(name, order)(u);
                    assert!(
                        close(got, want, 1e-8),
                        "{name} order {order} at {u}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn builtin_values() {
        assert_eq!(f("relu", 0)(-2.0), 0.0);
        assert_eq!(f("relu", 0)(2.5), 2.5);
        assert_eq!(f("relu", 1)(-0.5), 0.0);
        assert_eq!(f("relu", 1)(0.5), 1.0);
        assert_eq!(f("relu", 1)(0.0), 0.0);
        assert_eq!(f("sign", 0)(-3.0), -1.0);
        assert_eq!(f("sign", 0)(0.0), 0.0);
        assert_eq!(f("abs", 0)(-3.0), 3.0);
        assert!(close(f("sigmoid", 0)(0.0), 0.5, 1e-15));
        assert!(close(f("sigmoid", 0)(-800.0), 0.0, 1e-15));
        assert!(close(f("softplus", 0)(0.0), 2f64.ln(), 1e-15));
        assert!(close(f("softplus", 0)(800.0), 800.0, 1e-15));
        assert!(close(f("sqrt", 0)(9.0), 3.0, 1e-15));
        assert!(close(f("log", 1)(4.0), 0.25, 1e-15));
        assert!(f("relu", 1)(f64::NAN).is_nan());
    }

    #[test]
    fn generic_stand_ins_mirror_casehelpers() {
        let u = 0.8f64;
        assert_eq!(f("σ", 0)(u), u.tanh());
        assert_eq!(f("sigma", 1)(u), 1.0 - u.tanh().powi(2));
        assert_eq!(f("φ", 0)(u), u.sin());
        assert_eq!(f("phi", 2)(u), -u.sin());
        assert_eq!(f("g", 0)(u), u.atan());
        assert_eq!(f("ψ", 0)(u), u + 0.25 * u.powi(3));
        assert_eq!(f("psi", 1)(u), 1.0 + 0.75 * u * u);
        // Another name is one of the four, the same one every time.
        let other = f("zeta_fn", 0)(u);
        assert!([u.tanh(), u.sin(), u.atan(), u + 0.25 * u.powi(3)].contains(&other));
        assert_eq!(other, f("zeta_fn", 0)(u));
    }

    #[test]
    fn orders_above_two_are_errors() {
        let mut func = Func::new("σ");
        func.order = 3;
        assert!(matches!(elementwise(func), Err(EvalError::Function(_))));
    }

    #[test]
    fn scalar_valued_stand_ins() {
        let u = Mat::from_column_slice(3, 1, &[0.5, -1.0, 2.0]);
        let lse = (0.5f64.exp() + (-1f64).exp() + 2f64.exp()).ln();
        let ok = |name: &str| match scalar_valued(Func::new(name)) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let l = ok("L");
        assert!(close((l.value)(&u), lse + 0.25 * 5.25, 1e-14));
        let g = (l.grad)(&u);
        assert!(close(g[0], (0.5 - lse).exp() + 0.25, 1e-14));
        assert!(close(
            (ok("R").value)(&u),
            1.25f64.ln() + 2f64.ln() + 5f64.ln(),
            1e-14
        ));
        let e = ok("E");
        assert!(close(
            (e.value)(&u),
            0.5f64.cos() + 1f64.cos() + 2f64.cos() + 0.5625,
            1e-14
        ));
        assert!(close((e.grad)(&u)[1], 1f64.sin() + 0.75, 1e-14));
        // Gradients match finite differences for every stand-in.
        for s in SCALAR_POOL.iter().map(|p| p.1) {
            let g = (s.grad)(&u);
            for k in 0..3 {
                let at = |d: f64| {
                    let mut v = u.clone();
                    v[k] += d;
                    (s.value)(&v)
                };
                let h = 1e-3;
                let fd = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
                assert!(close(g[k], fd, 1e-9));
            }
        }
        assert!(scalar_valued(Func::new("exp")).is_err());
        assert!(scalar_valued(Func::new("L").derivative()).is_err());
    }

    #[test]
    fn hessian_stand_ins_match_finite_differences_of_the_gradients() {
        let u = Mat::from_column_slice(4, 1, &[0.5, -1.0, 2.0, 0.3]);
        // L: diag(s) − s sᵀ + ½ I with s = softmax(u).
        let l = match scalar_valued(Func::new("L")) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let s = softmax(&u);
        let want =
            Mat::from_diagonal(&s.column(0)) - &s * s.transpose() + Mat::identity(4, 4) * 0.5;
        let h = (l.hess)(&u);
        assert_eq!(h.shape(), (4, 4));
        assert!((&h - &want).norm() <= 1e-15 * want.norm());
        assert!((&h - h.transpose()).norm() == 0.0);
        // Every stand-in: column k of the Hessian is the derivative of the gradient along
        // entry k (a 4th-order central difference), for a column and for a matrix in vec
        // order.
        let a = Mat::from_column_slice(2, 3, &[0.4, -0.8, 1.1, 0.2, -1.5, 0.7]);
        for (name, stand_in) in SCALAR_POOL {
            for x in [&u, &a] {
                let n = x.len();
                let h = (stand_in.hess)(x);
                assert_eq!(h.shape(), (n, n), "{name}");
                for k in 0..n {
                    let at = |d: f64| {
                        let mut v = x.clone();
                        v[k] += d;
                        (stand_in.grad)(&v)
                    };
                    let step = 1e-3;
                    let fd = ((at(step) - at(-step)) * 8.0 - (at(2.0 * step) - at(-2.0 * step)))
                        / (12.0 * step);
                    for i in 0..n {
                        assert!(
                            close(h[(i, k)], fd[i], 1e-9),
                            "{name} at {x}: H[{i},{k}] = {} vs {}",
                            h[(i, k)],
                            fd[i]
                        );
                    }
                }
            }
        }
        // The complex Hessians: the same on real values, the derivative of the complex
        // gradient along each entry at complex values.
        let z = CMat::from_column_slice(
            3,
            1,
            &[C64::new(0.5, 0.3), C64::new(-1.0, -0.6), C64::new(2.0, 0.1)],
        );
        for ((name, s), (_, c)) in SCALAR_POOL.iter().zip(COMPLEX_SCALAR_POOL.iter()) {
            let real = (c.hess)(&u.map(|v| C64::new(v, 0.0)));
            assert!(
                (real.map(|z| z.re) - (s.hess)(&u)).norm() <= 1e-14,
                "{name}"
            );
            assert!(real.map(|z| z.im).norm() == 0.0, "{name}");
            let h = (c.hess)(&z);
            for k in 0..3 {
                let at = |d: f64| {
                    let mut v = z.clone();
                    v[k] += d;
                    (c.grad)(&v)
                };
                let step = 1e-3;
                let fd = ((at(step) - at(-step)) * C64::new(8.0, 0.0)
                    - (at(2.0 * step) - at(-2.0 * step)))
                    / C64::new(12.0 * step, 0.0);
                for i in 0..3 {
                    let (g, w) = (h[(i, k)], fd[i]);
                    assert!(
                        (g - w).norm() <= 1e-9 * g.norm().max(w.norm()).max(1.0),
                        "{name}: H[{i},{k}] = {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn logsumexp_and_softmax_are_stable() {
        let u = Mat::from_column_slice(2, 1, &[1000.0, 1000.0]);
        assert!(close(logsumexp(&u), 1000.0 + 2f64.ln(), 1e-15));
        let s = softmax(&u);
        assert!(close(s[0], 0.5, 1e-15) && close(s[1], 0.5, 1e-15));
        assert_eq!(logsumexp(&Mat::zeros(0, 0)), f64::NEG_INFINITY);
        assert!(logsumexp(&Mat::from_element(1, 1, f64::NAN)).is_nan());
        let u = Mat::from_column_slice(3, 1, &[0.5, -1.0, 2.0]);
        let s = softmax(&u);
        assert!(close(s.sum(), 1.0, 1e-15));
        assert!(close(s[2], (2.0 - logsumexp(&u)).exp(), 1e-15));
    }
}
