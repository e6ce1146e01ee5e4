//! The e-graph language of matrix expressions and its analysis (shape, free variables,
//! constants).
//!
//! Every node has a shape, computed from its children; `*` is the matrix product, or
//! scaling when one operand is 1×1. Helper operators (`vjp`, `unb`, `*-like`, `d`) only
//! exist during differentiation: extraction never returns them.

mod analysis;
pub mod builtins;
pub mod dims;
pub mod greek;
mod terms;
mod varset;

pub use analysis::{node_shape, Data, MathAnalysis, MathEGraph, ShapeConflict};
pub use terms::{subexpr, BindingTerms, HashCons};
pub use varset::VarSet;

use crate::lang::dims::Shape;
use egg::{define_language, Id, Symbol};
use std::fmt;
use std::str::FromStr;

// egg's `define_language!` takes no attributes on variants, so each variant is documented
// by the `//` comment above it (its written form is the string on its left).
define_language! {
    /// A matrix expression. The written form is used by the rules in `src/engine/rules/`.
    /// Operators marked "helper" in the source only live inside the engine (see
    /// [`Math::is_helper`]); the others are the operators and built-in functions of the
    /// language, written as s-expressions such as `(* A x)` or `(tr A)`.
    #[allow(missing_docs)]
    pub enum Math {
        // `a + b` (a 1×1 operand is added to every entry of the other)
        "+" = Add([Id; 2]),
        // `a - b`
        "-" = Sub([Id; 2]),
        // `-a`
        "neg" = Neg([Id; 1]),
        // `a b`: matrix product, or scaling when an operand is 1×1
        "*" = Mul([Id; 2]),
        // `a / s`, s 1×1
        "/" = Div([Id; 2]),
        // `a ∘ b`: Hadamard product
        "∘" = Hadamard([Id; 2]),
        // `a ⊘ b`: element-wise division
        "⊘" = EDiv([Id; 2]),
        // `a ⊗ b`: Kronecker product
        "⊗" = Kron([Id; 2]),
        // `aᵀ`
        "T" = Transpose([Id; 1]),
        // `aᴴ`
        "H" = Adjoint([Id; 1]),
        // `a⁻¹`
        "inv" = Inv([Id; 1]),
        // `a^k`: scalar power (any exponent) or square-matrix power (integer literal)
        "pow" = Pow([Id; 2]),
        // `a.^p`: element-wise power, p 1×1
        "epow" = EPow([Id; 2]),
        // `f(a)` for an element-wise function leaf `f` (built in or generic, any order)
        "ew" = Elementwise([Id; 2]),
        // `L(a)` for a generic scalar-valued function leaf `L`
        "apply" = Apply([Id; 2]),
        // `∇L(a)`: the gradient of a generic scalar-valued `L`, shaped like `a`
        "grad" = Grad([Id; 2]),
        "tr" = Trace([Id; 1]),
        "det" = Det([Id; 1]),
        "logdet" = LogDet([Id; 1]),
        "sum" = Sum([Id; 1]),
        "norm" = Norm([Id; 1]),
        "norm1" = Norm1([Id; 1]),
        "logsumexp" = LogSumExp([Id; 1]),
        // vector → diagonal matrix, square matrix → its diagonal
        "diag" = Diag([Id; 1]),
        "vec" = Vec([Id; 1]),
        "softmax" = Softmax([Id; 1]),
        "conj" = Conj([Id; 1]),
        "real" = Real([Id; 1]),
        "imag" = Imag([Id; 1]),
        // `commutation(A)`: the commutation matrix K with K vec(A) = vec(Aᵀ)
        "commutation" = Commutation([Id; 1]),
        // `∇²L(u)`: the Hessian of a generic scalar-valued L at a column u
        "hess" = Hess([Id; 2]),
        // `ⅈ`: the imaginary unit (1×1, complex)
        "ⅈ" = ImagUnit,
        // helper: `(vjp G E X)`, the gradient wrt X of ⟨G, E⟩ = sum(G ∘ E)
        "vjp" = Vjp([Id; 3]),
        // helper: `(jvp E X V)`, the derivative of E at X in the direction V
        "jvp" = Jvp([Id; 3]),
        // helper: `(coef M D)`, the matrix J with vec(M) = J vec(D), for M linear in D
        "coef" = Coef([Id; 2]),
        // helper: `(unb G A)`, G summed down to the shape of A (undoes broadcasting)
        "unb" = Unbroadcast([Id; 2]),
        // helper: zero matrix shaped like its operand
        "zeros-like" = ZerosLike([Id; 1]),
        // helper: matrix of ones shaped like its operand
        "ones-like" = OnesLike([Id; 1]),
        // helper: identity matrix of the operand's row count
        "eye-like" = EyeLike([Id; 1]),
        // helper: the number of columns of the operand, a 1×1 count
        "ncols" = NCols([Id; 1]),
        // helper: `(kperm A B)`, P with vec(A ⊗ B) = P (vec A ⊗ vec B) for these shapes
        "kperm" = KronPerm([Id; 2]),
        // helper: the derivative of a function leaf (`σ` → `σ'`)
        "d" = Derive([Id; 1]),
        Fill(Fill),
        Num(Number),
        Func(Func),
        Var(Symbol),
    }
}

impl Math {
    /// Helper operators: they never appear in a result.
    pub fn is_helper(&self) -> bool {
        matches!(
            self,
            Math::Vjp(_)
                | Math::Jvp(_)
                | Math::Coef(_)
                | Math::Unbroadcast(_)
                | Math::ZerosLike(_)
                | Math::OnesLike(_)
                | Math::EyeLike(_)
                | Math::NCols(_)
                | Math::KronPerm(_)
                | Math::Derive(_)
        )
    }
}

/// A real number leaf, stored by its bits so that it can be hashed and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(u64);

impl Number {
    /// The number `v`; `-0` is stored as `0`, so the two are one leaf.
    pub fn new(v: f64) -> Number {
        // -0 and 0 are one number.
        Number(if v == 0.0 {
            0f64.to_bits()
        } else {
            v.to_bits()
        })
    }
    /// The number as an `f64`.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl FromStr for Number {
    type Err = std::num::ParseFloatError;
    fn from_str(s: &str) -> Result<Number, Self::Err> {
        s.parse::<f64>().map(Number::new)
    }
}

/// What a [`Fill`] leaf is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FillKind {
    /// `zeros[m,n]`: every entry zero.
    Zeros,
    /// `ones[m,n]`: every entry one.
    Ones,
    /// `I[n,n]`: the identity matrix.
    Identity,
    /// The commutation matrix K of an m×n matrix (mn×mn); the fill's shape is m×n.
    Commutation,
    /// `N[m,n]`: the number of entries of an m×n matrix, m·n, a 1×1 value (written as
    /// the product of its dimensions, `m n`: a dimension name is a value); the fill's
    /// shape is m×n.
    Count,
}

/// A constant matrix of a given shape: `zeros[m,n]`, `ones[m,n]`, `I[n,n]`; and `K[m,n]`,
/// the commutation matrix of an m×n matrix (of shape mn×mn, see [`Fill::value_shape`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fill {
    /// What the matrix is filled with.
    pub kind: FillKind,
    /// The fill's shape as written (for [`FillKind::Commutation`], that of the permuted
    /// matrix, not K's).
    pub shape: Shape,
}

impl Fill {
    /// The fill a fill helper (`ones-like`, `eye-like`, `ncols`) stands for, given the
    /// shape of its operand; `None` for any other node.
    pub fn of_helper(node: &Math, operand: &Shape) -> Option<Fill> {
        let (kind, shape) = match node {
            Math::OnesLike(_) => (FillKind::Ones, operand.clone()),
            Math::EyeLike(_) => (
                FillKind::Identity,
                Shape::new(operand.rows.clone(), operand.rows.clone()),
            ),
            Math::NCols(_) => (
                FillKind::Count,
                Shape::new(dims::Dim::one(), operand.cols.clone()),
            ),
            _ => return None,
        };
        Some(Fill { kind, shape })
    }

    /// The commutation matrix of an m×n matrix; for a vector (m or n is 1) it is the
    /// identity, `I` of size m·n.
    pub fn commutation(shape: Shape) -> Fill {
        if shape.rows.is_one() || shape.cols.is_one() {
            let n = shape.rows.times(&shape.cols);
            Fill {
                kind: FillKind::Identity,
                shape: Shape::new(n.clone(), n),
            }
        } else {
            Fill {
                kind: FillKind::Commutation,
                shape,
            }
        }
    }

    /// The shape of the filled matrix.
    pub fn value_shape(&self) -> Shape {
        match self.kind {
            FillKind::Commutation => {
                let n = self.shape.rows.times(&self.shape.cols);
                Shape::new(n.clone(), n)
            }
            FillKind::Count => Shape::scalar(),
            _ => self.shape.clone(),
        }
    }
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            FillKind::Zeros => "zeros",
            FillKind::Ones => "ones",
            FillKind::Identity => "I",
            FillKind::Commutation => "K",
            FillKind::Count => "N",
        };
        write!(f, "{name}[{},{}]", self.shape.rows, self.shape.cols)
    }
}

impl FromStr for Fill {
    type Err = String;
    fn from_str(s: &str) -> Result<Fill, String> {
        let (name, rest) = s.split_once('[').ok_or("not a fill")?;
        let kind = match name {
            "zeros" => FillKind::Zeros,
            "ones" => FillKind::Ones,
            "I" => FillKind::Identity,
            "K" => FillKind::Commutation,
            "N" => FillKind::Count,
            _ => return Err("not a fill".into()),
        };
        let inner = rest.strip_suffix(']').ok_or("not a fill")?;
        let (r, c) = inner.split_once(',').ok_or("not a fill")?;
        Ok(Fill {
            kind,
            shape: Shape::new(r.parse()?, c.parse()?),
        })
    }
}

/// A function leaf: a built-in or generic function and how often it is differentiated.
/// Written `@σ`, `@σ'`, `@σ''`, `@exp`, `@L` (for `L : scalar-valued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Func {
    /// The function's name as written (`σ`, `exp`, `L`).
    pub name: Symbol,
    /// How often it is differentiated: 0 for `σ`, 1 for `σ'`, 2 for `σ''`.
    pub order: u8,
}

impl Func {
    /// The function `name` itself, not differentiated.
    pub fn new(name: &str) -> Func {
        Func {
            name: Symbol::from(name),
            order: 0,
        }
    }

    /// The derivative of the function: the same name, one order higher.
    pub fn derivative(self) -> Func {
        Func {
            name: self.name,
            order: self.order.saturating_add(1),
        }
    }

    /// A built-in element-wise function (whose derivatives are rules), not a generic one.
    pub fn is_builtin(self) -> bool {
        builtins::elementwise(self.name.as_str()).is_some()
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}{}", self.name, "'".repeat(self.order as usize))
    }
}

impl FromStr for Func {
    type Err = String;
    fn from_str(s: &str) -> Result<Func, String> {
        let body = s.strip_prefix('@').ok_or("not a function")?;
        let name = body.trim_end_matches('\'');
        if name.is_empty() {
            return Err("not a function".into());
        }
        Ok(Func {
            name: Symbol::from(name),
            order: (body.len() - name.len()) as u8,
        })
    }
}

/// A 1×1 identity or ones leaf is the number 1.
pub fn fill_is_one(f: &Fill) -> bool {
    f.kind != FillKind::Zeros && f.shape.is_scalar()
}
