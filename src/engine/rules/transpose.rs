//! Transposes: moved through products, sums and inverses in both directions, so that
//! extraction can pick the form with the fewest transposes.

use super::{rule, rule_if, Cond::*, Rule};

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // (Aᵀ)ᵀ = A
    rule("transpose-transpose",   "(T (T ?a))", "?a"),
    // sᵀ = s for a 1×1 s
    rule_if("transpose-scalar",   "(T ?a)", "?a", &[Scalar("?a")]),
    // Iᵀ = I
    rule_if("transpose-identity", "(T ?i)", "?i", &[Identity("?i")]),
    // (A B)ᵀ = Bᵀ Aᵀ
    rule_if("transpose-product",  "(T (* ?a ?b))", "(* (T ?b) (T ?a))", &[MatMul("?a", "?b"), NotScalar("?a"), NotScalar("?b")]),
    // Bᵀ Aᵀ = (A B)ᵀ
    rule_if("product-of-transposes", "(* (T ?b) (T ?a))", "(T (* ?a ?b))", &[MatMul("?a", "?b"), NotScalar("?a"), NotScalar("?b")]),
    // (s B)ᵀ = s Bᵀ
    rule_if("transpose-scaling",  "(T (* ?a ?b))", "(* ?a (T ?b))", &[Scalar("?a")]),
    // (A s)ᵀ = s Aᵀ
    rule_if("transpose-scaling-right", "(T (* ?a ?b))", "(* ?b (T ?a))", &[Scalar("?b")]),
    // (s B)ᴴ = conj(s) Bᴴ
    rule_if("adjoint-scaling",    "(H (* ?a ?b))", "(* (conj ?a) (H ?b))", &[Scalar("?a")]),
    // (A s)ᴴ = conj(s) Aᴴ
    rule_if("adjoint-scaling-right", "(H (* ?a ?b))", "(* (conj ?b) (H ?a))", &[Scalar("?b")]),
    // (A + B)ᵀ = Aᵀ + Bᵀ
    rule("transpose-sum",         "(T (+ ?a ?b))", "(+ (T ?a) (T ?b))"),
    // Aᵀ + Bᵀ = (A + B)ᵀ
    rule("sum-of-transposes",     "(+ (T ?a) (T ?b))", "(T (+ ?a ?b))"),
    // (A - B)ᵀ = Aᵀ - Bᵀ
    rule("transpose-difference",  "(T (- ?a ?b))", "(- (T ?a) (T ?b))"),
    // Aᵀ - Bᵀ = (A - B)ᵀ
    rule("difference-of-transposes", "(- (T ?a) (T ?b))", "(T (- ?a ?b))"),
    // (-A)ᵀ = -Aᵀ
    rule("transpose-neg",         "(T (neg ?a))", "(neg (T ?a))"),
    // (A ∘ B)ᵀ = Aᵀ ∘ Bᵀ
    rule("transpose-hadamard",    "(T (∘ ?a ?b))", "(∘ (T ?a) (T ?b))"),
    // Aᵀ ∘ Bᵀ = (A ∘ B)ᵀ
    rule_if("hadamard-of-transposes", "(∘ (T ?a) (T ?b))", "(T (∘ ?a ?b))", &[NotScalar("?a"), NotScalar("?b")]),
    // (A / s)ᵀ = Aᵀ / s
    rule("transpose-quotient",    "(T (/ ?a ?b))", "(/ (T ?a) ?b)"),
    // (A⁻¹)ᵀ = (Aᵀ)⁻¹
    rule("transpose-inverse",     "(T (inv ?a))", "(inv (T ?a))"),
    // (Aᵀ)⁻¹ = (A⁻¹)ᵀ
    rule("inverse-transpose",     "(inv (T ?a))", "(T (inv ?a))"),
    // (A^k)ᵀ = (Aᵀ)^k
    rule_if("transpose-power",    "(T (pow ?a ?k))", "(pow (T ?a) ?k)", &[Square("?a")]),
    // (Aᵀ)^k = (A^k)ᵀ
    rule_if("power-transpose",    "(pow (T ?a) ?k)", "(T (pow ?a ?k))", &[Square("?a")]),
    // (Aᴴ)ᴴ = A
    rule("adjoint-adjoint",       "(H (H ?a))", "?a"),
    // conj(conj(A)) = A
    rule("conj-conj",             "(conj (conj ?a))", "?a"),
    // conj(Aᵀ) = Aᴴ
    rule("conj-transpose",        "(conj (T ?a))", "(H ?a)"),
    // conj(A)ᵀ = Aᴴ
    rule("transpose-conj",        "(T (conj ?a))", "(H ?a)"),
    // (Aᵀ)ᴴ = conj(A)
    rule("adjoint-transpose",     "(H (T ?a))", "(conj ?a)"),
    // (A B)ᴴ = Bᴴ Aᴴ
    rule_if("adjoint-product",    "(H (* ?a ?b))", "(* (H ?b) (H ?a))", &[MatMul("?a", "?b"), NotScalar("?a"), NotScalar("?b")]),
    // Bᴴ Aᴴ = (A B)ᴴ
    rule_if("product-of-adjoints", "(* (H ?b) (H ?a))", "(H (* ?a ?b))", &[MatMul("?a", "?b"), NotScalar("?a"), NotScalar("?b")]),
    // (A + B)ᴴ = Aᴴ + Bᴴ
    rule("adjoint-sum",           "(H (+ ?a ?b))", "(+ (H ?a) (H ?b))"),
    // (-A)ᴴ = -Aᴴ
    rule("adjoint-neg",           "(H (neg ?a))", "(neg (H ?a))"),
    // (A⁻¹)ᴴ = (Aᴴ)⁻¹
    rule("adjoint-inverse",       "(H (inv ?a))", "(inv (H ?a))"),
    // (Aᴴ)⁻¹ = (A⁻¹)ᴴ
    rule("inverse-adjoint",       "(inv (H ?a))", "(H (inv ?a))"),
    // conj(A B) = conj(A) conj(B)
    rule("conj-product",          "(conj (* ?a ?b))", "(* (conj ?a) (conj ?b))"),
    // conj(A + B) = conj(A) + conj(B)
    rule("conj-sum",              "(conj (+ ?a ?b))", "(+ (conj ?a) (conj ?b))"),
    // conj(-A) = -conj(A)
    rule("conj-neg",              "(conj (neg ?a))", "(neg (conj ?a))"),
    // conj(A⁻¹) = conj(A)⁻¹
    rule("conj-inverse",          "(conj (inv ?a))", "(inv (conj ?a))"),
    // conj(det A) = det(conj A)
    rule("conj-det",              "(conj (det ?a))", "(det (conj ?a))"),
    // (sᴴ) = conj(s) for a 1×1 s
    rule_if("adjoint-scalar",     "(H ?a)", "(conj ?a)", &[Scalar("?a")]),
    // conj(ⅈ) = -ⅈ
    rule("conj-imaginary-unit",   "(conj ⅈ)", "(neg ⅈ)"),
    // Re(ⅈ A) = -Im(A)
    rule("real-of-imaginary-multiple", "(real (* ⅈ ?a))", "(neg (imag ?a))"),
    // Im(ⅈ A) = Re(A)
    rule("imag-of-imaginary-multiple", "(imag (* ⅈ ?a))", "(real ?a)"),
    // ⅈ (ⅈ A) = -A
    rule("imaginary-unit-squared", "(* ⅈ (* ⅈ ?a))", "(neg ?a)"),
    // ⅈ ⅈ = -1
    rule("imaginary-unit-square", "(* ⅈ ⅈ)", "-1"),
];
