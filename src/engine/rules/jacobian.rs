//! Identification of Jacobians (Magnus–Neudecker): `(coef M D)` is the matrix J with
//! vec(M) = J vec(D), for a differential M that is linear in the direction D. Each rule
//! is a vec identity such as vec(A M B) = (Bᵀ ⊗ A) vec(M).

use super::{rule, rule_if, Cond::*, Rule};

const M: &[&str] = &["?m"];

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // vec(D) = I vec(D)
    rule("coef-direction",      "(coef ?d ?d)", "(eye-like (vec ?d))"),
    // a term without D contributes nothing
    rule_if("coef-constant",    "(coef ?m ?d)", "(zeros-like (* (vec ?m) (T (vec ?d))))", &[Independent("?d", M)]),
    // vec(M + N) = vec(M) + vec(N)
    rule_if("coef-sum",         "(coef (+ ?m ?n) ?d)", "(+ (coef ?m ?d) (coef ?n ?d))", &[SameShape("?m", "?n")]),
    // vec(M - N) = vec(M) - vec(N)
    rule_if("coef-difference",  "(coef (- ?m ?n) ?d)", "(- (coef ?m ?d) (coef ?n ?d))", &[SameShape("?m", "?n")]),
    // vec(s + N) = ones s + vec(N) for a 1×1 s broadcast over N
    rule_if("coef-broadcast-sum-left", "(coef (+ ?m ?n) ?d)", "(+ (* (ones-like (vec ?n)) (coef ?m ?d)) (coef ?n ?d))", &[Scalar("?m"), NotScalar("?n")]),
    // vec(M + s) = vec(M) + ones s for a 1×1 s broadcast over M
    rule_if("coef-broadcast-sum-right", "(coef (+ ?m ?n) ?d)", "(+ (coef ?m ?d) (* (ones-like (vec ?m)) (coef ?n ?d)))", &[Scalar("?n"), NotScalar("?m")]),
    // vec(s - N) = ones s - vec(N)
    rule_if("coef-broadcast-difference-left", "(coef (- ?m ?n) ?d)", "(- (* (ones-like (vec ?n)) (coef ?m ?d)) (coef ?n ?d))", &[Scalar("?m"), NotScalar("?n")]),
    // vec(M - s) = vec(M) - ones s
    rule_if("coef-broadcast-difference-right", "(coef (- ?m ?n) ?d)", "(- (coef ?m ?d) (* (ones-like (vec ?m)) (coef ?n ?d)))", &[Scalar("?n"), NotScalar("?m")]),
    // vec(-M) = -vec(M)
    rule("coef-negation",       "(coef (neg ?m) ?d)", "(neg (coef ?m ?d))"),
    // vec(A M) = (I ⊗ A) vec(M)
    rule_if("coef-left-factor", "(coef (* ?a ?m) ?d)", "(* (⊗ (eye-like (T ?m)) ?a) (coef ?m ?d))", &[MatMul("?a", "?m"), Independent("?d", &["?a"])]),
    // vec(M B) = (Bᵀ ⊗ I) vec(M)
    rule_if("coef-right-factor", "(coef (* ?m ?b) ?d)", "(* (⊗ (T ?b) (eye-like ?m)) (coef ?m ?d))", &[MatMul("?m", "?b"), Independent("?d", &["?b"])]),
    // vec(s M) = s vec(M) for a constant 1×1 s
    rule_if("coef-constant-scaling-left", "(coef (* ?s ?m) ?d)", "(* ?s (coef ?m ?d))", &[Scalar("?s"), NotMatMul("?s", "?m"), Independent("?d", &["?s"])]),
    // vec(M s) = s vec(M) for a constant 1×1 s
    rule_if("coef-constant-scaling-right", "(coef (* ?m ?s) ?d)", "(* ?s (coef ?m ?d))", &[Scalar("?s"), NotMatMul("?m", "?s"), Independent("?d", &["?s"])]),
    // vec(s B) = vec(B) s for a 1×1 s linear in D and a constant B
    rule_if("coef-scaled-constant-left", "(coef (* ?s ?b) ?d)", "(* (vec ?b) (coef ?s ?d))", &[Scalar("?s"), NotMatMul("?s", "?b"), Independent("?d", &["?b"])]),
    // vec(B s) = vec(B) s for a 1×1 s linear in D and a constant B
    rule_if("coef-scaled-constant-right", "(coef (* ?b ?s) ?d)", "(* (vec ?b) (coef ?s ?d))", &[Scalar("?s"), NotMatMul("?b", "?s"), Independent("?d", &["?b"])]),
    // vec(M / s) = vec(M) / s for a constant s
    rule_if("coef-quotient",    "(coef (/ ?m ?s) ?d)", "(/ (coef ?m ?d) ?s)", &[Independent("?d", &["?s"])]),
    // vec(A ∘ M) = diag(vec(A)) vec(M)
    rule_if("coef-hadamard-left", "(coef (∘ ?a ?m) ?d)", "(* (diag (vec ?a)) (coef ?m ?d))", &[SameShape("?a", "?m"), Independent("?d", &["?a"])]),
    // vec(M ∘ B) = diag(vec(B)) vec(M)
    rule_if("coef-hadamard-right", "(coef (∘ ?m ?b) ?d)", "(* (diag (vec ?b)) (coef ?m ?d))", &[SameShape("?b", "?m"), Independent("?d", &["?b"])]),
    // vec(s ∘ M) = s vec(M) for a constant 1×1 s
    rule_if("coef-hadamard-scalar-left", "(coef (∘ ?s ?m) ?d)", "(* ?s (coef ?m ?d))", &[Scalar("?s"), Independent("?d", &["?s"])]),
    // vec(M ∘ s) = s vec(M) for a constant 1×1 s
    rule_if("coef-hadamard-scalar-right", "(coef (∘ ?m ?s) ?d)", "(* ?s (coef ?m ?d))", &[Scalar("?s"), Independent("?d", &["?s"])]),
    // vec(M ⊘ B) = diag(vec(1 ⊘ B)) vec(M)
    rule_if("coef-elementwise-quotient", "(coef (⊘ ?m ?b) ?d)", "(* (diag (vec (⊘ 1 ?b))) (coef ?m ?d))", &[SameShape("?b", "?m"), Independent("?d", &["?b"])]),
    // vec(M ⊘ s) = vec(M) / s for a constant 1×1 s
    rule_if("coef-elementwise-quotient-scalar", "(coef (⊘ ?m ?s) ?d)", "(/ (coef ?m ?d) ?s)", &[Scalar("?s"), Independent("?d", &["?s"])]),
    // vec(A ∘ s) = vec(A) s for a constant A and a 1×1 s linear in D
    rule_if("coef-hadamard-scaled-constant-left", "(coef (∘ ?a ?m) ?d)", "(* (vec ?a) (coef ?m ?d))", &[Scalar("?m"), NotScalar("?a"), Independent("?d", &["?a"])]),
    // vec(s ∘ B) = vec(B) s for a constant B and a 1×1 s linear in D
    rule_if("coef-hadamard-scaled-constant-right", "(coef (∘ ?m ?b) ?d)", "(* (vec ?b) (coef ?m ?d))", &[Scalar("?m"), NotScalar("?b"), Independent("?d", &["?b"])]),
    // vec(M ⊗ B) = P (vec M ⊗ vec B) = P (I ⊗ vec B) vec(M)
    rule_if("coef-kronecker-left", "(coef (⊗ ?m ?b) ?d)", "(* (kperm ?m ?b) (* (⊗ (eye-like (vec ?m)) (vec ?b)) (coef ?m ?d)))", &[Independent("?d", &["?b"])]),
    // vec(A ⊗ M) = P (vec A ⊗ vec M) = P (vec A ⊗ I) vec(M)
    rule_if("coef-kronecker-right", "(coef (⊗ ?a ?m) ?d)", "(* (kperm ?a ?m) (* (⊗ (vec ?a) (eye-like (vec ?m))) (coef ?m ?d)))", &[Independent("?d", &["?a"])]),
    // vec(Mᵀ) = K vec(M)
    rule("coef-transpose",      "(coef (T ?m) ?d)", "(* (commutation ?m) (coef ?m ?d))"),
    // tr(M) = vec(I)ᵀ vec(M)
    rule("coef-trace",          "(coef (tr ?m) ?d)", "(* (T (vec (eye-like ?m))) (coef ?m ?d))"),
    // sum(M) = onesᵀ vec(M)
    rule("coef-sum-entries",    "(coef (sum ?m) ?d)", "(* (T (ones-like (vec ?m))) (coef ?m ?d))"),
    // vec(Re M) = Re(J) vec(D) for a real D
    rule_if("coef-real",        "(coef (real ?m) ?d)", "(real (coef ?m ?d))", &[Real("?d")]),
    // vec(Im M) = Im(J) vec(D) for a real D
    rule_if("coef-imag",        "(coef (imag ?m) ?d)", "(imag (coef ?m ?d))", &[Real("?d")]),
    // vec(vec(M)) = vec(M)
    rule("coef-vec",            "(coef (vec ?m) ?d)", "(coef ?m ?d)"),
    // vec(diag(m)) = diag(vec(I)) (1 ⊗ I) m for a column m (diag(m) = I ∘ (m 1ᵀ))
    rule_if("coef-diag-column", "(coef (diag ?m) ?d)", "(* (* (diag (vec (eye-like ?m))) (⊗ (ones-like ?m) (eye-like ?m))) (coef ?m ?d))", &[Column("?m")]),
    // diag(M) = (1ᵀ ⊗ I) diag(vec(I)) vec(M) for a square M (the entries M_ii of vec(M))
    rule_if("coef-diag-square", "(coef (diag ?m) ?d)", "(* (* (⊗ (T (ones-like (diag ?m))) (eye-like ?m)) (diag (vec (eye-like ?m)))) (coef ?m ?d))", &[Square("?m")]),
];

/// Simplifications that Jacobians need: Kronecker products of identities, the mixed
/// product rule, vec of columns and commutation matrices of vectors.
#[rustfmt::skip]
pub const SIMPLIFY: &[Rule] = &[
    // vec(a) = a for a column a
    rule_if("vec-column",       "(vec ?a)", "?a", &[Column("?a")]),
    // vec(s) = s for a 1×1 s
    rule_if("vec-scalar",       "(vec ?a)", "?a", &[Scalar("?a")]),
    // s ⊗ A = s A for a 1×1 s
    rule_if("kron-scalar-left", "(⊗ ?s ?a)", "(* ?s ?a)", &[Scalar("?s")]),
    // A ⊗ s = s A for a 1×1 s
    rule_if("kron-scalar-right", "(⊗ ?a ?s)", "(* ?s ?a)", &[Scalar("?s")]),
    // I ⊗ I = I
    rule_if("kron-identities",  "(⊗ ?i ?j)", "(eye-like (⊗ ?i ?j))", &[Identity("?i"), Identity("?j")]),
    // (A ⊗ B)(C ⊗ D) = A C ⊗ B D (mixed-product rule)
    rule_if("kron-mixed-product", "(* (⊗ ?a ?b) (⊗ ?c ?e))", "(⊗ (* ?a ?c) (* ?b ?e))", &[MatMul("?a", "?c"), MatMul("?b", "?e"), NotScalar("?a"), NotScalar("?b")]),
    // K = I for a column or a row (vec(aᵀ) = vec(a))
    rule_if("commutation-column", "(commutation ?a)", "(eye-like (vec ?a))", &[Column("?a")]),
    // K = I for a row
    rule_if("commutation-row",  "(commutation (T ?a))", "(eye-like (vec ?a))", &[Column("?a")]),
    // diag(ones) = I
    rule_if("diag-ones",        "(diag ?o)", "(eye-like ?o)", &[Ones("?o"), Column("?o")]),
    // onesᵀ diag(v) = vᵀ
    rule_if("ones-times-diag",  "(* (T ?o) (diag ?v))", "(T ?v)", &[Ones("?o"), Column("?v"), SameShape("?o", "?v")]),
    // diag(a) diag(b) = diag(a ∘ b)
    rule_if("diag-product",     "(* (diag ?a) (diag ?b))", "(diag (∘ ?a ?b))", &[Column("?a"), SameShape("?a", "?b")]),
    // diag(a) b = a ∘ b for columns
    rule_if("diag-times-column", "(* (diag ?a) ?b)", "(∘ ?a ?b)", &[Column("?a"), SameShape("?a", "?b")]),
    // vec(A)ᵀ (B ⊗ C) = vec(Cᵀ A B)ᵀ
    rule_if("vec-row-kron",     "(* (T (vec ?a)) (⊗ ?b ?c))", "(T (vec (* (* (T ?c) ?a) ?b)))", &[SameRows("?a", "?c"), MatMul("?a", "?b"), NotScalar("?b"), NotScalar("?c")]),
];
