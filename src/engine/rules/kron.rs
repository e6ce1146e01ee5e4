//! Kronecker products and `vec`: the identities that turn `⊗` into ordinary products.

use super::{rule, rule_if, Cond::*, Rule};

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // tr(A ⊗ B) = tr(A) tr(B)
    rule_if("trace-kron",       "(tr (⊗ ?a ?b))", "(* (tr ?a) (tr ?b))", &[Square("?a"), Square("?b")]),
    // (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
    rule("transpose-kron",      "(T (⊗ ?a ?b))", "(⊗ (T ?a) (T ?b))"),
    // A ⊗ B + A ⊗ C = A ⊗ (B + C)
    rule_if("factor-kron-left",   "(+ (⊗ ?a ?b) (⊗ ?a ?c))", "(⊗ ?a (+ ?b ?c))", &[SameShape("?b", "?c")]),
    // A ⊗ C + B ⊗ C = (A + B) ⊗ C
    rule_if("factor-kron-right",  "(+ (⊗ ?a ?c) (⊗ ?b ?c))", "(⊗ (+ ?a ?b) ?c)", &[SameShape("?a", "?b")]),
    // (B ⊗ A) vec(X) = vec(A X Bᵀ)
    rule_if("kron-vec",           "(* (⊗ ?b ?a) (vec ?x))", "(vec (* (* ?a ?x) (T ?b)))", &[MatMul("?a", "?x"), SameCols("?x", "?b"), NotScalar("?a"), NotScalar("?b")]),
    // vec(A) + vec(B) = vec(A + B)
    rule_if("vec-sum",            "(+ (vec ?a) (vec ?b))", "(vec (+ ?a ?b))", &[SameShape("?a", "?b")]),
    // vec(A) - vec(B) = vec(A - B)
    rule_if("vec-difference",     "(- (vec ?a) (vec ?b))", "(vec (- ?a ?b))", &[SameShape("?a", "?b")]),
    // s vec(A) = vec(s A)
    rule_if("scaled-vec",         "(* ?s (vec ?a))", "(vec (* ?s ?a))", &[Scalar("?s"), NotScalar("?a")]),
    // ⟨vec M, d vec(A)⟩ = ⟨M, dA⟩
    rule_if("vjp-vec",            "(vjp (vec ?m) (vec ?a) ?x)", "(vjp ?m ?a ?x)", &[SameShape("?m", "?a")]),
];
