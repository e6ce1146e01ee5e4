//! Simplification: negation, scalars, factoring, inverses and powers. Every
//! right-hand side is no larger than its left-hand side, except where a rule only
//! reorders (scalar factors to the front).

use super::{rule, rule_if, Cond::*, Rule};

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // --A = A
    rule("neg-neg",             "(neg (neg ?a))", "?a"),
    // -(c A) = (-c) A for a number c
    rule_if("neg-into-constant", "(neg (* ?c ?a))", "(* (neg ?c) ?a)", &[Constant("?c")]),
    // (-A) B = -(A B)
    rule("mul-neg-left",        "(* (neg ?a) ?b)", "(neg (* ?a ?b))"),
    // A (-B) = -(A B)
    rule("mul-neg-right",       "(* ?a (neg ?b))", "(neg (* ?a ?b))"),
    // (-A) ∘ B = -(A ∘ B)
    rule("hadamard-neg-left",   "(∘ (neg ?a) ?b)", "(neg (∘ ?a ?b))"),
    // A ∘ (-B) = -(A ∘ B)
    rule("hadamard-neg-right",  "(∘ ?a (neg ?b))", "(neg (∘ ?a ?b))"),
    // (-A) / s = -(A / s)
    rule("quotient-neg",        "(/ (neg ?a) ?b)", "(neg (/ ?a ?b))"),
    // A + (-B) = A - B
    rule("add-neg",             "(+ ?a (neg ?b))", "(- ?a ?b)"),
    // (-A) + B = B - A
    rule("neg-add",             "(+ (neg ?a) ?b)", "(- ?b ?a)"),
    // A - (-B) = A + B
    rule("sub-neg",             "(- ?a (neg ?b))", "(+ ?a ?b)"),
    // -(A - B) = B - A
    rule("neg-sub",             "(neg (- ?a ?b))", "(- ?b ?a)"),
    // (-A) - B = -(A + B)
    rule("neg-sub-left",        "(- (neg ?a) ?b)", "(neg (+ ?a ?b))"),
    // A + A = 2 A
    rule("add-self",            "(+ ?a ?a)", "(* 2 ?a)"),
    // s ∘ B = s B for a 1×1 s
    rule_if("hadamard-scalar-left", "(∘ ?a ?b)", "(* ?a ?b)", &[Scalar("?a")]),
    // A ∘ s = s A for a 1×1 s
    rule_if("hadamard-scalar-right", "(∘ ?a ?b)", "(* ?b ?a)", &[Scalar("?b")]),
    // A s = s A for a 1×1 s (scalars go in front)
    rule_if("scalar-to-front",  "(* ?a ?b)", "(* ?b ?a)", &[Scalar("?b"), NotMatMul("?a", "?b")]),
    // A ⊘ s = A / s for a 1×1 s
    rule_if("elementwise-quotient-scalar", "(⊘ ?a ?b)", "(/ ?a ?b)", &[Scalar("?b")]),
    // sum(s) = s
    rule_if("sum-scalar",       "(sum ?a)", "?a", &[Scalar("?a")]),
    // tr(s) = s
    rule_if("trace-scalar",     "(tr ?a)", "?a", &[Scalar("?a")]),
    // s (t A) = (s t) A
    rule_if("scalar-product-assoc", "(* ?s (* ?t ?a))", "(* (* ?s ?t) ?a)", &[Scalar("?s"), Scalar("?t")]),
    // (s A) B = s (A B)
    rule_if("scalar-out-left",  "(* (* ?s ?a) ?b)", "(* ?s (* ?a ?b))", &[Scalar("?s"), NotScalar("?a"), MatMul("?a", "?b")]),
    // A (s B) = s (A B)
    rule_if("scalar-out-right", "(* ?a (* ?s ?b))", "(* ?s (* ?a ?b))", &[Scalar("?s"), NotScalar("?b"), MatMul("?a", "?b")]),
    // (s A) ∘ B = s (A ∘ B)
    rule_if("scalar-out-hadamard-left", "(∘ (* ?s ?a) ?b)", "(* ?s (∘ ?a ?b))", &[Scalar("?s"), NotScalar("?a")]),
    // A ∘ (s B) = s (A ∘ B)
    rule_if("scalar-out-hadamard-right", "(∘ ?a (* ?s ?b))", "(* ?s (∘ ?a ?b))", &[Scalar("?s"), NotScalar("?b")]),
    // (s t) A = s (t A)
    rule_if("scalar-product-unassoc", "(* (* ?s ?t) ?a)", "(* ?s (* ?t ?a))", &[Scalar("?s"), Scalar("?t")]),
    // (s A) / s = A
    rule_if("cancel-scaling",   "(/ (* ?s ?a) ?s)", "?a", &[Scalar("?s")]),
    // s (A / s) = A
    rule_if("cancel-quotient",  "(* ?s (/ ?a ?s))", "?a", &[Scalar("?s")]),
    // (c s) (A / s) = c A
    rule_if("cancel-quotient-scaled", "(* (* ?c ?s) (/ ?a ?s))", "(* ?c ?a)", &[Scalar("?s"), Scalar("?c")]),
    // (A / s) s = A
    rule_if("cancel-quotient-right", "(* (/ ?a ?s) ?s)", "?a", &[Scalar("?s")]),
    // (c B) / s = c (B / s)
    rule_if("quotient-of-scaling", "(/ (* ?c ?b) ?s)", "(* ?c (/ ?b ?s))", &[Scalar("?c"), Scalar("?s")]),
    // A ∘ (B / s) = (A ∘ B) / s
    rule_if("hadamard-quotient-right", "(∘ ?a (/ ?b ?s))", "(/ (∘ ?a ?b) ?s)", &[Scalar("?s")]),
    // (A / s) ∘ B = (A ∘ B) / s
    rule_if("hadamard-quotient-left", "(∘ (/ ?a ?s) ?b)", "(/ (∘ ?a ?b) ?s)", &[Scalar("?s")]),
    // A (B / s) = (A B) / s
    rule_if("product-quotient-right", "(* ?a (/ ?b ?s))", "(/ (* ?a ?b) ?s)", &[Scalar("?s"), MatMul("?a", "?b")]),
    // (A / s) B = (A B) / s
    rule_if("product-quotient-left", "(* (/ ?a ?s) ?b)", "(/ (* ?a ?b) ?s)", &[Scalar("?s"), MatMul("?a", "?b")]),
    // (c / s) A = (c A) / s for a number c and a 1×1 s
    rule_if("scaled-quotient-times", "(* (/ ?c ?s) ?a)", "(/ (* ?c ?a) ?s)", &[Constant("?c"), Scalar("?s"), NotScalar("?a")]),
    // c / (d B) = (c / d) / B for numbers c, d (the numbers then fold: 2 / (2 m) = 1 / m)
    rule_if("quotient-number-factor", "(/ ?c (* ?d ?b))", "(/ (/ ?c ?d) ?b)", &[Constant("?c"), Constant("?d"), Scalar("?b")]),
    // s (A / t) = (s A) / t
    rule_if("scalar-times-quotient", "(* ?s (/ ?a ?t))", "(/ (* ?s ?a) ?t)", &[Scalar("?s")]),
    // A ∘ B + B ∘ A = 2 (A ∘ B)
    rule("hadamard-twice",      "(+ (∘ ?a ?b) (∘ ?b ?a))", "(* 2 (∘ ?a ?b))"),
    // A ∘ B + C ∘ A = A ∘ (B + C)
    rule_if("factor-hadamard-mixed", "(+ (∘ ?a ?b) (∘ ?c ?a))", "(∘ ?a (+ ?b ?c))", &[SameShape("?b", "?c"), SameShape("?a", "?b")]),
    // B ∘ A + A ∘ C = A ∘ (B + C)
    rule_if("factor-hadamard-mixed-right", "(+ (∘ ?b ?a) (∘ ?a ?c))", "(∘ ?a (+ ?b ?c))", &[SameShape("?b", "?c"), SameShape("?a", "?b")]),
    // A B + A C = A (B + C)
    rule_if("factor-left",      "(+ (* ?a ?b) (* ?a ?c))", "(* ?a (+ ?b ?c))", &[SameShape("?b", "?c")]),
    // A C + B C = (A + B) C
    rule_if("factor-right",     "(+ (* ?a ?c) (* ?b ?c))", "(* (+ ?a ?b) ?c)", &[SameShape("?a", "?b")]),
    // A B - A C = A (B - C)
    rule_if("factor-left-sub",  "(- (* ?a ?b) (* ?a ?c))", "(* ?a (- ?b ?c))", &[SameShape("?b", "?c")]),
    // A C - B C = (A - B) C
    rule_if("factor-right-sub", "(- (* ?a ?c) (* ?b ?c))", "(* (- ?a ?b) ?c)", &[SameShape("?a", "?b")]),
    // A ∘ B + A ∘ C = A ∘ (B + C)
    rule_if("factor-hadamard",  "(+ (∘ ?a ?b) (∘ ?a ?c))", "(∘ ?a (+ ?b ?c))", &[SameShape("?b", "?c"), SameShape("?a", "?b")]),
    // A ∘ C + B ∘ C = (A + B) ∘ C
    rule_if("factor-hadamard-right", "(+ (∘ ?a ?c) (∘ ?b ?c))", "(∘ (+ ?a ?b) ?c)", &[SameShape("?a", "?b"), SameShape("?a", "?c")]),
    // (A⁻¹)⁻¹ = A
    rule("inverse-inverse",     "(inv (inv ?a))", "?a"),
    // A A⁻¹ = I
    rule_if("inverse-right",    "(* ?a (inv ?a))", "(eye-like ?a)", &[Square("?a")]),
    // A⁻¹ A = I
    rule_if("inverse-left",     "(* (inv ?a) ?a)", "(eye-like ?a)", &[Square("?a")]),
    // 1×1: s⁻¹ = 1 / s
    rule_if("inverse-scalar",   "(inv ?a)", "(/ 1 ?a)", &[Scalar("?a")]),
    // s s = s² (also square matrices)
    rule_if("square",           "(* ?a ?a)", "(pow ?a 2)", &[MatMul("?a", "?a")]),
    // A^k A = A^(k+1)
    rule_if("power-succ",       "(* (pow ?a ?k) ?a)", "(pow ?a (+ ?k 1))", &[IntAtLeast("?k", 1)]),
    // A A^k = A^(k+1)
    rule_if("power-succ-left",  "(* ?a (pow ?a ?k))", "(pow ?a (+ ?k 1))", &[IntAtLeast("?k", 1)]),
    // s^k s = s^(k+1) for a 1×1 s and any k
    rule_if("scalar-power-succ", "(* (pow ?a ?k) ?a)", "(pow ?a (+ ?k 1))", &[Scalar("?a")]),
    // s^j s^k = s^(j+k) for a 1×1 s
    rule_if("scalar-power-product", "(* (pow ?a ?j) (pow ?a ?k))", "(pow ?a (+ ?j ?k))", &[Scalar("?a")]),
    // tr(Aᵀ) = tr(A)
    rule("trace-transpose",     "(tr (T ?a))", "(tr ?a)"),
    // det(Aᵀ) = det(A)
    rule("det-transpose",       "(det (T ?a))", "(det ?a)"),
    // sum(Aᵀ) = sum(A)
    rule("sum-transpose",       "(sum (T ?a))", "(sum ?a)"),
    // ‖Aᵀ‖ = ‖A‖
    rule("norm-transpose",      "(norm (T ?a))", "(norm ?a)"),
    // sum(A ∘ B) for vectors: aᵀ b
    rule_if("sum-hadamard-vectors", "(sum (∘ ?a ?b))", "(* (T ?a) ?b)", &[SameShape("?a", "?b"), Column("?a")]),
];
