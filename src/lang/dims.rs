//! Dimensions and shapes: symbolic sizes such as `n`, `3` or `m·p`.

use egg::Symbol;
use std::fmt;
use std::str::FromStr;

/// A size: a positive integer coefficient times a product of named dimensions.
///
/// `3` is `Dim { coef: 3, syms: [] }`, `n` is `Dim { coef: 1, syms: [n] }` and the row
/// count of `A ⊗ B` with `A : R^(m×n)`, `B : R^(p×q)` is `m·p`. Symbols are kept sorted,
/// so equal products compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dim {
    /// The integer factor (1 for a plain symbol).
    pub coef: u64,
    /// The named factors, sorted by name, repeated when a name occurs more than once.
    pub syms: Vec<Symbol>,
}

impl Dim {
    /// The literal size `n`.
    pub fn lit(n: u64) -> Dim {
        Dim {
            coef: n,
            syms: vec![],
        }
    }

    /// A named symbolic size.
    pub fn sym(name: &str) -> Dim {
        Dim {
            coef: 1,
            syms: vec![Symbol::from(name)],
        }
    }

    /// The size 1.
    pub fn one() -> Dim {
        Dim::lit(1)
    }

    /// Whether the size is exactly 1 (no symbols).
    pub fn is_one(&self) -> bool {
        self.coef == 1 && self.syms.is_empty()
    }

    /// The product of two sizes (the size of a Kronecker product or of `vec`).
    ///
    /// ```
    /// use matdiff::lang::dims::Dim;
    ///
    /// // Symbols are kept sorted, so the product does not depend on the order.
    /// let mp = Dim::sym("p").times(&Dim::sym("m"));
    /// assert_eq!(mp, Dim::sym("m").times(&Dim::sym("p")));
    /// assert_eq!(mp.to_string(), "m·p");
    /// assert_eq!(Dim::lit(2).times(&Dim::sym("n")).to_string(), "2·n");
    /// ```
    pub fn times(&self, other: &Dim) -> Dim {
        let mut syms: Vec<Symbol> = self.syms.iter().chain(&other.syms).copied().collect();
        syms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Dim {
            coef: self.coef.saturating_mul(other.coef),
            syms,
        }
    }

    /// The concrete size, given a size for every symbol.
    pub fn eval(&self, size_of: &dyn Fn(Symbol) -> Option<usize>) -> Option<usize> {
        let mut n = usize::try_from(self.coef).ok()?;
        for s in &self.syms {
            n = n.checked_mul(size_of(*s)?)?;
        }
        Some(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = vec![];
        if self.coef != 1 || self.syms.is_empty() {
            parts.push(self.coef.to_string());
        }
        parts.extend(self.syms.iter().map(|s| s.to_string()));
        write!(f, "{}", parts.join("·"))
    }
}

impl FromStr for Dim {
    type Err = String;
    fn from_str(s: &str) -> Result<Dim, String> {
        let mut dim = Dim::lit(1);
        for part in s.split('·') {
            let factor = match part.parse::<u64>() {
                Ok(n) => Dim::lit(n),
                Err(_) if !part.is_empty() && !part.contains([',', ']', '[']) => Dim::sym(part),
                Err(_) => return Err(format!("bad dimension `{s}`")),
            };
            dim = dim.times(&factor);
        }
        Ok(dim)
    }
}

/// Rows × columns. Scalars are 1×1, column vectors n×1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shape {
    /// The row count.
    pub rows: Dim,
    /// The column count.
    pub cols: Dim,
}

impl Shape {
    /// The shape `rows × cols`.
    pub fn new(rows: Dim, cols: Dim) -> Shape {
        Shape { rows, cols }
    }

    /// The 1×1 shape of a scalar.
    pub fn scalar() -> Shape {
        Shape::new(Dim::one(), Dim::one())
    }

    /// The shape `rows × 1` of a column vector.
    pub fn column(rows: Dim) -> Shape {
        Shape::new(rows, Dim::one())
    }

    /// Whether the shape is 1×1.
    pub fn is_scalar(&self) -> bool {
        self.rows.is_one() && self.cols.is_one()
    }

    /// The number of entries, rows · cols (a [`Dim`], symbolic or not).
    pub fn count(&self) -> Dim {
        self.rows.times(&self.cols)
    }

    /// The number of entries when both sizes are literal.
    pub fn entries(&self) -> Option<u64> {
        let n = self.count();
        n.syms.is_empty().then_some(n.coef)
    }

    /// The shape with rows and columns swapped, as of `aᵀ`.
    pub fn transposed(&self) -> Shape {
        Shape::new(self.cols.clone(), self.rows.clone())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.rows, self.cols)
    }
}

/// How a value is presented to users and to NumPy: a float, a 1-D or a 2-D array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A float: any 1×1 value that was not declared a vector or matrix.
    Scalar,
    /// A 1-D array: a column vector.
    Vector,
    /// A 2-D array: a matrix, even when a dimension is 1.
    Matrix,
}

impl Kind {
    /// The kind an expression of this shape has when nothing declared it: 1×1 is a
    /// scalar, n×1 a vector, anything else a matrix.
    pub fn of_shape(shape: &Shape) -> Kind {
        if shape.is_scalar() {
            Kind::Scalar
        } else if shape.cols.is_one() {
            Kind::Vector
        } else {
            Kind::Matrix
        }
    }
}
