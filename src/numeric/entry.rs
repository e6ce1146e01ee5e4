//! The entry types the evaluator works with: `f64` (real matrices) and [`C64`] (complex
//! matrices), and what differs between them beyond nalgebra's [`ComplexField`].

use super::funcs::{
    elementwise, elementwise_complex, logsumexp, logsumexp_complex, scalar_valued,
    scalar_valued_complex, softmax, softmax_complex,
};
use super::{CMat, EvalError, Mat, C64};
use crate::lang::Func;
use nalgebra::{ComplexField, DMatrix};

/// An entry of a value: `f64` or [`C64`]. Real matrices evaluate exactly as before
/// complex numbers were supported; in a complex matrix an entry whose imaginary part is
/// zero goes through the real functions (like a real NumPy array: the logarithm or the
/// square root of a negative real is NaN, a fractional power of one too), others through
/// the principal branches.
pub trait Entry: ComplexField<RealField = f64> + Copy {
    /// Whether the type has an imaginary part.
    const COMPLEX: bool;

    /// The element-wise function leaf `func` applied to every entry.
    fn map_elementwise(func: Func, a: &DMatrix<Self>) -> Result<DMatrix<Self>, EvalError>;

    /// The value of the generic scalar-valued function leaf `func` at `a`.
    fn scalar_value(func: Func, a: &DMatrix<Self>) -> Result<Self, EvalError>;

    /// The gradient of the generic scalar-valued function leaf `func` at `a`.
    fn scalar_grad(func: Func, a: &DMatrix<Self>) -> Result<DMatrix<Self>, EvalError>;

    /// The Hessian of the generic scalar-valued function leaf `func` at `a`, over the
    /// entries of `a` in vec order (N×N for N entries).
    fn scalar_hess(func: Func, a: &DMatrix<Self>) -> Result<DMatrix<Self>, EvalError>;

    /// log Σ exp over all entries (the shift by the maximum uses real parts).
    fn logsumexp(a: &DMatrix<Self>) -> Self;

    /// exp / Σ exp over all entries.
    fn softmax(a: &DMatrix<Self>) -> DMatrix<Self>;

    /// `self^k` for scalars.
    fn power(self, k: Self) -> Self;

    /// The imaginary unit ⅈ; `None` for real entries.
    fn imaginary_unit() -> Option<Self>;
}

impl Entry for f64 {
    const COMPLEX: bool = false;

    fn map_elementwise(func: Func, a: &Mat) -> Result<Mat, EvalError> {
        Ok(a.map(elementwise(func)?))
    }

    fn scalar_value(func: Func, a: &Mat) -> Result<f64, EvalError> {
        Ok((scalar_valued(func)?.value)(a))
    }

    fn scalar_grad(func: Func, a: &Mat) -> Result<Mat, EvalError> {
        Ok((scalar_valued(func)?.grad)(a))
    }

    fn scalar_hess(func: Func, a: &Mat) -> Result<Mat, EvalError> {
        Ok((scalar_valued(func)?.hess)(a))
    }

    fn logsumexp(a: &Mat) -> f64 {
        logsumexp(a)
    }

    fn softmax(a: &Mat) -> Mat {
        softmax(a)
    }

    fn imaginary_unit() -> Option<f64> {
        None
    }

    fn power(self, k: f64) -> f64 {
        self.powf(k)
    }
}

/// Whether every entry has a zero imaginary part.
fn all_real(a: &CMat) -> bool {
    a.iter().all(|z| z.im == 0.0)
}

fn re(a: &CMat) -> Mat {
    a.map(|z| z.re)
}

fn cx(a: &Mat) -> CMat {
    a.map(|x| C64::new(x, 0.0))
}

impl Entry for C64 {
    const COMPLEX: bool = true;

    fn map_elementwise(func: Func, a: &CMat) -> Result<CMat, EvalError> {
        let real = elementwise(func)?;
        let complex = elementwise_complex(func)?;
        Ok(a.map(|z| {
            if z.im == 0.0 {
                C64::new(real(z.re), 0.0)
            } else {
                complex(z)
            }
        }))
    }

    fn scalar_value(func: Func, a: &CMat) -> Result<C64, EvalError> {
        if all_real(a) {
            Ok(C64::new((scalar_valued(func)?.value)(&re(a)), 0.0))
        } else {
            Ok((scalar_valued_complex(func)?.value)(a))
        }
    }

    fn scalar_grad(func: Func, a: &CMat) -> Result<CMat, EvalError> {
        if all_real(a) {
            Ok(cx(&(scalar_valued(func)?.grad)(&re(a))))
        } else {
            Ok((scalar_valued_complex(func)?.grad)(a))
        }
    }

    fn scalar_hess(func: Func, a: &CMat) -> Result<CMat, EvalError> {
        if all_real(a) {
            Ok(cx(&(scalar_valued(func)?.hess)(&re(a))))
        } else {
            Ok((scalar_valued_complex(func)?.hess)(a))
        }
    }

    fn logsumexp(a: &CMat) -> C64 {
        if all_real(a) {
            C64::new(logsumexp(&re(a)), 0.0)
        } else {
            logsumexp_complex(a)
        }
    }

    fn softmax(a: &CMat) -> CMat {
        if all_real(a) {
            cx(&softmax(&re(a)))
        } else {
            softmax_complex(a)
        }
    }

    /// Real operands: `f64::powf` (NaN for a negative base and a fractional power). A real
    /// exponent: an integer power by repeated multiplication, else the principal
    /// `exp(k log z)`; a complex exponent: the principal `exp(k log z)`.
    fn imaginary_unit() -> Option<C64> {
        Some(C64::new(0.0, 1.0))
    }

    fn power(self, k: C64) -> C64 {
        if k.im == 0.0 {
            if self.im == 0.0 {
                C64::new(self.re.powf(k.re), 0.0)
            } else if k.re.fract() == 0.0 && k.re.abs() <= f64::from(i32::MAX) {
                // An integer in i32's range, so the conversion is exact.
                C64::powi(&self, k.re as i32)
            } else {
                self.powf(k.re)
            }
        } else {
            self.powc(k)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::MAX_ORDER;

    fn close(a: C64, b: C64, tol: f64) -> bool {
        (a - b).norm() <= tol * a.norm().max(b.norm()).max(1.0)
    }

    fn leaf(name: &str, order: u8) -> Func {
        let mut f = Func::new(name);
        f.order = order;
        f
    }

    fn apply(name: &str, order: u8, z: C64) -> C64 {
        let a = CMat::from_element(1, 1, z);
        match C64::map_elementwise(leaf(name, order), &a) {
            Ok(v) => v[(0, 0)],
            Err(e) => panic!("{name}: {e}"),
        }
    }

    /// d/dz of a holomorphic g at z: a 4th-order central difference along the real axis.
    fn diff(g: &dyn Fn(C64) -> C64, z: C64) -> C64 {
        let h = 1e-3;
        let at = |s: f64| g(z + s * h);
        ((at(1.0) - at(-1.0)) * 8.0 - (at(2.0) - at(-2.0))) / (12.0 * h)
    }

    #[test]
    fn holomorphic_functions_have_their_derivatives() {
        let holomorphic = [
            "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid", "softplus", "σ", "φ",
            "g", "ψ", "other_fn",
        ];
        let points = [
            C64::new(0.3, 0.4),
            C64::new(-0.7, 0.9),
            C64::new(1.3, -0.5),
            C64::new(-1.1, -0.6),
            C64::new(2.0, 3.5),
        ];
        for name in holomorphic {
            for &z in &points {
                for order in 1..=2 {
                    let want = diff(&|w| apply(name, order - 1, w), z);
                    let got = apply(name, order, z);
                    assert!(
                        close(got, want, 1e-8),
                        "{name} order {order} at {z}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn complex_tables_extend_the_real_ones() {
        // Just off the real axis the complex functions are the real ones (also for the
        // names hashed into the pools, which pick the same stand-in).
        let names = [
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
            "σ",
            "φ",
            "g",
            "ψ",
            "other_fn",
            "zeta_fn",
            "h_unknown",
        ];
        for name in names {
            for u in [0.3, 0.7, 1.3, 2.1, -0.4, -1.2] {
                let u: f64 = if matches!(name, "log" | "sqrt") {
                    u.abs()
                } else {
                    u
                };
                for order in 0..=MAX_ORDER {
                    let real = elementwise(leaf(name, order)).unwrap_or_else(|e| panic!("{e}"))(u);
                    let complex = apply(name, order, C64::new(u, 1e-12));
                    assert!(
                        close(complex, C64::new(real, 0.0), 1e-9),
                        "{name} order {order} at {u}: {complex} vs {real}"
                    );
                }
            }
        }
    }

    #[test]
    fn principal_branches_and_real_entries() {
        let i = C64::new(0.0, 1.0);
        // Entries with a nonzero imaginary part: principal values.
        let z = C64::new(-1.0, 1e-300);
        assert!(close(
            apply("log", 0, z),
            C64::new(0.0, std::f64::consts::PI),
            1e-12
        ));
        assert!(close(apply("sqrt", 0, z), i, 1e-12));
        assert!(close(
            apply("sqrt", 0, C64::new(-4.0, -1e-300)),
            -i * 2.0,
            1e-12
        ));
        // Real entries: the real functions, as for a real NumPy array.
        assert!(apply("log", 0, C64::new(-1.0, 0.0)).re.is_nan());
        assert!(apply("sqrt", 0, C64::new(-1.0, 0.0)).re.is_nan());
        assert_eq!(apply("log", 0, C64::new(1.0, 0.0)), C64::new(0.0, 0.0));
        // abs, sign, relu.
        let w = C64::new(3.0, -4.0);
        assert_eq!(apply("abs", 0, w), C64::new(5.0, 0.0));
        assert!(close(apply("sign", 0, w), C64::new(0.6, -0.8), 1e-15));
        assert!(close(apply("abs", 1, w), C64::new(0.6, -0.8), 1e-15));
        assert_eq!(apply("sign", 0, C64::new(0.0, 0.0)), C64::new(0.0, 0.0));
        assert_eq!(apply("relu", 0, w), w);
        assert_eq!(apply("relu", 0, -w), C64::new(0.0, 0.0));
        assert_eq!(apply("relu", 1, w), C64::new(1.0, 0.0));
        // softplus stays the principal log(1 + eᶻ), also where Re z > 0.
        for z in [
            C64::new(2.0, 3.0),
            C64::new(0.5, -3.1),
            C64::new(40.0, 10.0),
        ] {
            let want = (z.exp() + 1.0).ln();
            assert!(close(apply("softplus", 0, z), want, 1e-12), "{z}");
        }
    }

    #[test]
    fn powers() {
        let z = C64::new(1.0, 2.0);
        assert!(close(z.power(C64::new(3.0, 0.0)), z * z * z, 1e-15));
        assert!(close(z.power(C64::new(-2.0, 0.0)), (z * z).finv(), 1e-15));
        assert!(close(z.power(C64::new(0.5, 0.0)), z.sqrt(), 1e-14));
        let k = C64::new(0.5, 0.25);
        assert!(close(z.power(k), (k * z.ln()).exp(), 1e-14));
        // Real operands behave like f64.
        assert!(C64::new(-2.0, 0.0).power(C64::new(0.5, 0.0)).re.is_nan());
        assert_eq!(
            C64::new(-2.0, 0.0).power(C64::new(3.0, 0.0)),
            C64::new(-8.0, 0.0)
        );
        assert_eq!(2.0f64.power(3.0), 8.0);
    }

    #[test]
    fn scalar_valued_stand_ins_extend_holomorphically() {
        let u = CMat::from_column_slice(
            3,
            1,
            &[C64::new(0.5, 0.2), C64::new(-1.0, 0.7), C64::new(2.0, -0.3)],
        );
        for name in ["L", "R", "E", "M_other"] {
            let g = match C64::scalar_grad(Func::new(name), &u) {
                Ok(g) => g,
                Err(e) => panic!("{e}"),
            };
            for k in 0..3 {
                let at = |w: C64| {
                    let mut v = u.clone();
                    v[k] = w;
                    C64::scalar_value(Func::new(name), &v).unwrap_or_else(|e| panic!("{e}"))
                };
                let want = diff(&at, u[k]);
                assert!(close(g[k], want, 1e-8), "{name}[{k}]: {} vs {want}", g[k]);
            }
        }
        // A real argument gives the real value exactly.
        let r = Mat::from_column_slice(2, 1, &[0.5, -1.0]);
        let real = (scalar_valued(Func::new("L"))
            .unwrap_or_else(|e| panic!("{e}"))
            .value)(&r);
        assert_eq!(
            C64::scalar_value(Func::new("L"), &cx(&r)),
            Ok(C64::new(real, 0.0))
        );
        assert!(C64::scalar_value(Func::new("exp"), &u).is_err());
    }

    #[test]
    fn logsumexp_and_softmax_of_complex_values() {
        let u = CMat::from_column_slice(2, 1, &[C64::new(1000.0, 0.5), C64::new(999.0, -0.25)]);
        let want =
            C64::new(1000.0, 0.5) + (C64::new(0.0, 0.0).exp() + C64::new(-1.0, -0.75).exp()).ln();
        assert!(close(C64::logsumexp(&u), want, 1e-14));
        let s = C64::softmax(&u);
        assert!(close(s.iter().sum::<C64>(), C64::new(1.0, 0.0), 1e-14));
        assert!(C64::logsumexp(&CMat::zeros(0, 1)).re == f64::NEG_INFINITY);
        let nan = CMat::from_element(1, 1, C64::new(0.0, f64::NAN));
        assert!(C64::logsumexp(&nan).is_nan());
    }
}
