//! The syntax tree of a matdiff program (LANGUAGE.md §1), with byte spans into the
//! source.
//!
//! The tree is a plain value: parentheses are not kept (a parenthesised expression's span
//! includes its parentheses), and facts found later (names, shapes) live beside the tree,
//! keyed by [`Expr::id`].

use std::fmt;

/// A byte range `start..end` in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// The byte offset of the first byte.
    pub start: usize,
    /// The byte offset just past the last byte (never below `start`).
    pub end: usize,
}

impl Span {
    /// The span `start..end`; an `end` before `start` is raised to `start` (an empty span).
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// The empty span at `at`.
    pub fn at(at: usize) -> Span {
        Span { start: at, end: at }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The number of bytes covered.
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The source text under the span (empty if the span does not fit the source).
    pub fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The index of an expression node in its program; shape facts are keyed by it.
pub type NodeId = usize;

/// A whole program: statements in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The statements, in source order.
    pub statements: Vec<Statement>,
    /// Every [`Expr::id`] is below this.
    pub node_count: usize,
    /// The whole source.
    pub span: Span,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `A, B : R^(n×n)`
    Declaration(Declaration),
    /// `h = σ(W1 x)`
    Binding(Binding),
    /// `L(h ∘ W2)`: the expression (only the last statement may be one).
    Expr(Expr),
}

impl Statement {
    /// The span of the whole statement.
    pub fn span(&self) -> Span {
        match self {
            Statement::Declaration(d) => d.span,
            Statement::Binding(b) => b.span,
            Statement::Expr(e) => e.span,
        }
    }

    /// What the statement is called in diagnostics.
    pub fn human_name(&self) -> &'static str {
        match self {
            Statement::Declaration(_) => "declaration",
            Statement::Binding(_) => "binding",
            Statement::Expr(_) => "expression",
        }
    }
}

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name, exactly as written (subscripts, primes and Greek letters included).
    pub name: String,
    /// Where the name is written.
    pub span: Span,
}

/// `A, B : R^(n×n)`: names and their common type.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// The declared names, in source order.
    pub names: Vec<Ident>,
    /// The type they all share.
    pub ty: Type,
    /// The whole declaration, from the first name to the end of the type.
    pub span: Span,
}

/// A type as written after `:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Type {
    /// Which type it is, with its dimensions.
    pub kind: TypeKind,
    /// The type as written, after the `:`.
    pub span: Span,
}

/// The types of LANGUAGE.md §1.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// `scalar`, `R`, `C`: a 1×1 value.
    Scalar {
        /// `C` (complex) rather than `scalar` or `R`.
        complex: bool,
    },
    /// `vector`, `R^n`, `R^3`, `C^n`: a column vector (`len` is `None` for `vector`).
    Vector {
        /// Whether the elements are complex (`C^n`).
        complex: bool,
        /// The length, if written.
        len: Option<DimSpec>,
    },
    /// `matrix`, `R^(m×n)`, `R^{m×n}`, `R^(m x n)`, `R^(m,n)`, `C^(m×n)`: a matrix, even
    /// when a dimension is 1 (`dims` is `None` for `matrix`).
    Matrix {
        /// Whether the elements are complex (`C^(m×n)`).
        complex: bool,
        /// The rows and columns, if written.
        dims: Option<(DimSpec, DimSpec)>,
    },
    /// `elementwise`: a generic element-wise function (`σ`).
    Elementwise,
    /// `scalar-valued`: a generic scalar-valued function (`L`).
    ScalarValued,
}

impl TypeKind {
    /// What the type is called in diagnostics.
    pub fn human_name(&self) -> &'static str {
        match self {
            TypeKind::Scalar { .. } => "scalar",
            TypeKind::Vector { .. } => "vector",
            TypeKind::Matrix { .. } => "matrix",
            TypeKind::Elementwise => "element-wise function",
            TypeKind::ScalarValued => "scalar-valued function",
        }
    }
}

/// One dimension in a type: `n` or `3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimSpec {
    /// The dimension's value.
    pub value: DimValue,
    /// Where the dimension is written.
    pub span: Span,
}

/// A symbolic or literal dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimValue {
    /// `n`
    Named(String),
    /// `3` (positive)
    Number(u64),
}

/// `h = e`: a named sub-expression, inlined where `h` is used.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The bound name (`h`).
    pub name: Ident,
    /// The expression it stands for.
    pub value: Expr,
    /// The whole binding, from the name to the end of the value.
    pub span: Span,
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Unique in the program, below [`Program::node_count`].
    pub id: NodeId,
    /// The form of the node and its children.
    pub kind: ExprKind,
    /// The source text of the node (a parenthesised node includes its parentheses).
    pub span: Span,
}

impl Expr {
    /// What the node is called in diagnostics ("matrix product", "transpose", …).
    pub fn human_name(&self) -> &'static str {
        self.kind.human_name()
    }

    /// The value of a number literal, possibly negated: `2`, `-1`, `(0.5)`.
    pub fn literal_value(&self) -> Option<f64> {
        match &self.kind {
            ExprKind::Number(v) => Some(*v),
            ExprKind::Neg { operand, .. } => match operand.kind {
                ExprKind::Number(v) => Some(-v),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The forms of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `2`, `0.5`, `1e-3`
    Number(f64),
    /// `ⅈ`: the imaginary unit.
    ImaginaryUnit,
    /// `x`, `W_1`, `α`, `I`, `ones`: a variable, a binding or a constant matrix.
    Name(String),
    /// `f(a, b)`: a name directly followed by `(`.
    Call {
        /// The function's name.
        callee: Ident,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `σ'(u)`, `σ''(u)`: the `order`-th derivative of an element-wise function.
    Derivative {
        /// The element-wise function's name (`σ`).
        callee: Ident,
        /// How many primes: 1 for `σ'`, 2 for `σ''`.
        order: u8,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `∇L(u)`: the gradient of a scalar-valued function.
    Gradient {
        /// The scalar-valued function's name (`L`).
        callee: Ident,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `∇²L(u)`: the Hessian of a scalar-valued function (at a column vector).
    Hessian {
        /// The scalar-valued function's name (`L`).
        callee: Ident,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `-a`
    Neg {
        /// Where the `-` is written.
        op_span: Span,
        /// The negated expression.
        operand: Box<Expr>,
    },
    /// `a'`, `aᴴ`, `a⁻¹`, `a^k`, `a.^p`, …
    Postfix {
        /// Which operator.
        op: PostfixOp,
        /// Where the operator is written.
        op_span: Span,
        /// The expression the operator applies to.
        operand: Box<Expr>,
    },
    /// `a + b`, `a b`, `a ∘ b`, …; `op_span` is empty for juxtaposition.
    Binary {
        /// Which operator.
        op: BinaryOp,
        /// Where the operator is written (empty for juxtaposition).
        op_span: Span,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
}

impl ExprKind {
    /// What the node is called in diagnostics.
    pub fn human_name(&self) -> &'static str {
        match self {
            ExprKind::Number(_) => "number",
            ExprKind::ImaginaryUnit => "imaginary unit",
            ExprKind::Name(_) => "name",
            ExprKind::Call { .. } => "function call",
            ExprKind::Derivative { .. } => "derivative call",
            ExprKind::Gradient { .. } => "gradient call",
            ExprKind::Hessian { .. } => "Hessian call",
            ExprKind::Neg { .. } => "negation",
            ExprKind::Postfix { op, .. } => op.human_name(),
            ExprKind::Binary { op, .. } => op.human_name(),
        }
    }
}

/// Postfix operators, which bind tightest.
#[derive(Debug, Clone, PartialEq)]
pub enum PostfixOp {
    /// `a'`, `aᵀ`, `a^T`
    Transpose,
    /// `aᴴ`, `a^H`
    Adjoint,
    /// `a⁻¹`, `a^-1`, `a^(-1)`
    Inverse,
    /// `a⁻ᵀ`, `a^-T`: `(a⁻¹)ᵀ`
    InverseTranspose,
    /// `a^k`, `a²`, `a^-2`, `a^(1/3)`, `α^β`
    Power(Box<Expr>),
    /// `a.^p`, `a^∘p`
    ElementwisePower(Box<Expr>),
}

impl PostfixOp {
    /// What the operator is called in diagnostics.
    pub fn human_name(&self) -> &'static str {
        match self {
            PostfixOp::Transpose => "transpose",
            PostfixOp::Adjoint => "conjugate transpose",
            PostfixOp::Inverse => "inverse",
            PostfixOp::InverseTranspose => "inverse transpose",
            PostfixOp::Power(_) => "power",
            PostfixOp::ElementwisePower(_) => "element-wise power",
        }
    }
}

/// Binary operators, all left-associative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`, `a −b`
    Sub,
    /// `a b`: juxtaposition, the matrix product (or scaling)
    Juxtapose,
    /// `a * b`, `a · b`: the matrix product (or scaling)
    Mul,
    /// `a / s`: division by a scalar
    Div,
    /// `a ∘ b`, `a ⊙ b`, `a .* b`: Hadamard product
    Hadamard,
    /// `a ⊘ b`, `a ./ b`: element-wise division
    EDiv,
    /// `a ⊗ b`: Kronecker product
    Kron,
}

impl BinaryOp {
    /// What the operator is called in diagnostics.
    pub fn human_name(self) -> &'static str {
        match self {
            BinaryOp::Add => "sum",
            BinaryOp::Sub => "difference",
            BinaryOp::Juxtapose | BinaryOp::Mul => "product",
            BinaryOp::Div => "quotient",
            BinaryOp::Hadamard => "Hadamard product",
            BinaryOp::EDiv => "element-wise quotient",
            BinaryOp::Kron => "Kronecker product",
        }
    }

    /// The operator as written in diagnostics (`" "` for juxtaposition).
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Juxtapose => " ",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Hadamard => "∘",
            BinaryOp::EDiv => "⊘",
            BinaryOp::Kron => "⊗",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_join_and_slice() {
        let a = Span::new(2, 4);
        let b = Span::new(6, 9);
        assert_eq!(a.to(b), Span::new(2, 9));
        assert_eq!(b.to(a), Span::new(2, 9));
        assert_eq!(Span::new(0, 3).text("W1 x"), "W1 ");
        // A span outside the source, or not on a char boundary, gives no text.
        assert_eq!(Span::new(0, 30).text("x"), "");
        assert_eq!(Span::new(0, 1).text("σ"), "");
        assert!(Span::at(3).is_empty());
        assert_eq!(Span::new(5, 2), Span::new(5, 5));
    }

    #[test]
    fn literal_values() {
        let num = |v| Expr {
            id: 0,
            kind: ExprKind::Number(v),
            span: Span::default(),
        };
        assert_eq!(num(2.0).literal_value(), Some(2.0));
        let neg = Expr {
            id: 1,
            kind: ExprKind::Neg {
                op_span: Span::default(),
                operand: Box::new(num(1.0)),
            },
            span: Span::default(),
        };
        assert_eq!(neg.literal_value(), Some(-1.0));
        assert_eq!(neg.human_name(), "negation");
        assert_eq!(BinaryOp::Hadamard.human_name(), "Hadamard product");
    }
}
