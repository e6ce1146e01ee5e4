//! Kinds of values as users see them (scalar, column, row, matrix), before 1×1 values
//! become scalars.

use super::*;

/// The kind of a value as users see it, before 1×1 values become scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Vk {
    Scalar,
    /// A column vector built from vectors (`A x`, `x + y`, `σ(x)`).
    Col,
    /// A row vector built from vectors (`xᵀ A`).
    Row,
    Mat,
}

impl Vk {
    pub(super) fn kind(self) -> Kind {
        match self {
            Vk::Scalar => Kind::Scalar,
            Vk::Col => Kind::Vector,
            Vk::Row | Vk::Mat => Kind::Matrix,
        }
    }

    pub(super) fn transposed(self) -> Vk {
        match self {
            Vk::Col => Vk::Row,
            Vk::Row => Vk::Col,
            other => other,
        }
    }
}

pub(super) struct Kinds<'a> {
    pub(super) a: &'a Analysis,
    /// The kinds of the bindings checked so far.
    pub(super) bindings: Vec<Vk>,
}

impl Kinds<'_> {
    pub(super) fn shape(&self, e: &Expr) -> Option<&Shape> {
        self.a.shapes.get(e.id).and_then(Option::as_ref)
    }

    pub(super) fn is_scalar(&self, e: &Expr) -> bool {
        self.shape(e).is_some_and(Shape::is_scalar)
    }

    /// The kind of the program's expression: a variable keeps its declared kind.
    pub(super) fn top(&mut self, e: &Expr) -> Kind {
        if let (ExprKind::Name(_), Some(Some(Resolution::Variable(i)))) =
            (&e.kind, self.a.resolutions.get(e.id))
        {
            if let Some(v) = self.a.variables.get(*i) {
                return v.kind;
            }
        }
        self.of(e).kind()
    }

    pub(super) fn of(&mut self, e: &Expr) -> Vk {
        let vk = self.raw(e);
        match self.shape(e) {
            Some(s) if s.is_scalar() && !matches!(e.kind, ExprKind::Name(_)) => Vk::Scalar,
            Some(s) if vk == Vk::Col && !s.cols.is_one() => Vk::Mat,
            Some(s) if vk == Vk::Row && !s.rows.is_one() => Vk::Mat,
            _ => vk,
        }
    }

    pub(super) fn raw(&mut self, e: &Expr) -> Vk {
        let res = self.a.resolutions.get(e.id).copied().flatten();
        match &e.kind {
            ExprKind::Number(_) | ExprKind::ImaginaryUnit => Vk::Scalar,
            ExprKind::Name(_) => match res {
                Some(Resolution::Variable(i)) => match self.a.variables.get(i).map(|v| v.kind) {
                    Some(Kind::Scalar) => Vk::Scalar,
                    Some(Kind::Vector) => Vk::Col,
                    _ => Vk::Mat,
                },
                Some(Resolution::Binding(i)) => self.bindings.get(i).copied().unwrap_or(Vk::Mat),
                Some(Resolution::Dimension(_)) => Vk::Scalar,
                Some(Resolution::Ones) => match self.shape(e) {
                    Some(s) if s.cols.is_one() => Vk::Col,
                    _ => Vk::Mat,
                },
                _ => Vk::Mat,
            },
            ExprKind::Call { args, .. } => {
                let first = args.first().map(|a| self.of(a));
                let arg = first.unwrap_or(Vk::Mat);
                match res {
                    Some(Resolution::Generic(i)) => match self.a.functions.get(i).map(|f| f.kind) {
                        Some(FunctionKind::ScalarValued) => Vk::Scalar,
                        _ => arg,
                    },
                    Some(Resolution::Builtin(b)) => match b {
                        Builtin::Elementwise(_)
                        | Builtin::Inv
                        | Builtin::Softmax
                        | Builtin::Conj
                        | Builtin::Real
                        | Builtin::Imag => arg,
                        Builtin::Trace
                        | Builtin::Det
                        | Builtin::LogDet
                        | Builtin::Sum
                        | Builtin::Norm
                        | Builtin::Norm1
                        | Builtin::Mean
                        | Builtin::Var
                        | Builtin::Std
                        | Builtin::LogSumExp => Vk::Scalar,
                        Builtin::Diag => match args.first().and_then(|a| self.shape(a)) {
                            Some(s) if s.cols.is_one() => Vk::Mat,
                            _ => Vk::Col,
                        },
                        Builtin::Vec => Vk::Col,
                        Builtin::Commutation => Vk::Mat,
                        Builtin::Grad => args.get(1).map_or(Vk::Mat, |x| self.of(x)),
                        Builtin::Outer => {
                            let b = args.get(1).map_or(Vk::Mat, |b| self.of(b).transposed());
                            let (a0, b0) = (args.first(), args.get(1));
                            let scalar_a = a0.is_some_and(|x| self.is_scalar(x));
                            let scalar_b = b0.is_some_and(|x| self.is_scalar(x));
                            product_kind(arg, scalar_a, b, scalar_b)
                        }
                    },
                    _ => arg,
                }
            }
            ExprKind::Derivative { args, .. } | ExprKind::Gradient { args, .. } => {
                args.first().map_or(Vk::Mat, |a| self.of(a))
            }
            ExprKind::Hessian { .. } => Vk::Mat,
            ExprKind::Neg { operand, .. } => self.of(operand),
            ExprKind::Postfix { op, operand, .. } => {
                let a = self.of(operand);
                match op {
                    PostfixOp::Transpose | PostfixOp::Adjoint | PostfixOp::InverseTranspose => {
                        a.transposed()
                    }
                    _ => a,
                }
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (self.of(lhs), self.of(rhs));
                let (sa, sb) = (self.is_scalar(lhs), self.is_scalar(rhs));
                match op {
                    BinaryOp::Mul | BinaryOp::Juxtapose => product_kind(a, sa, b, sb),
                    BinaryOp::Div => a,
                    _ if sa => b,
                    _ if sb => a,
                    _ if a == b => a,
                    _ => Vk::Mat,
                }
            }
        }
    }
}

/// The kind of `a b`: a scalar operand scales; `A x` is a vector, `xᵀ A` a row.
pub(super) fn product_kind(a: Vk, a_scalar: bool, b: Vk, b_scalar: bool) -> Vk {
    if a_scalar {
        b
    } else if b_scalar {
        a
    } else if b == Vk::Col {
        Vk::Col
    } else if a == Vk::Row {
        Vk::Row
    } else {
        Vk::Mat
    }
}
