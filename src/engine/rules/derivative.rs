//! Reverse-mode differentiation as rewrites. `(vjp G E X)` is the gradient wrt X of
//! ⟨G, E⟩ = sum(G ∘ E), with G shaped like E; the gradient of a scalar f is `(vjp 1 f X)`.
//! Each rule is one identity of the differential d⟨G, E⟩ = ⟨G, dE⟩.
//!
//! For complex values ⟨G, E⟩ = Re sum(conj(G) ∘ E), and the gradient of a real f is
//! ∂f/∂Re X + i ∂f/∂Im X: so adjoints (`ᴴ`) and conjugates stand where real rules have
//! transposes and plain factors. For real operands the analysis merges `conj(a)` with `a`
//! and `aᴴ` with `aᵀ` at once, so real derivatives pay nothing for this.

use super::{rule, rule_if, Cond::*, Rule};

const AB: &[&str] = &["?a", "?b"];
const A: &[&str] = &["?a"];
const AK: &[&str] = &["?a", "?k"];

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // ∂⟨G, X⟩/∂X = G for a real G
    rule_if("vjp-var",         "(vjp ?g ?x ?x)", "?g", &[Real("?g")]),
    // ∂⟨G, X⟩/∂X = G for a complex X (∂/∂Re X + i ∂/∂Im X of Re sum(conj(G) ∘ X))
    rule_if("vjp-var-complex", "(vjp ?g ?x ?x)", "?g", &[Complex("?x")]),
    // ∂⟨G, X⟩/∂X = Re(G) for a real X: Re sum(conj(G) ∘ X) = sum(Re(G) ∘ X)
    rule_if("vjp-var-real",    "(vjp ?g ?x ?x)", "(real ?g)", &[Real("?x"), Complex("?g")]),
    // ∂⟨G, E⟩/∂X = 0 when E does not depend on X
    rule_if("vjp-constant",    "(vjp ?g ?e ?x)", "(zeros-like ?x)", &[Independent("?x", &["?e"])]),
    // d(A + B) = dA + dB (a broadcast 1×1 operand collects the sum of G)
    rule_if("vjp-sum-rule",    "(vjp ?g (+ ?a ?b) ?x)", "(+ (vjp (unb ?g ?a) ?a ?x) (vjp (unb ?g ?b) ?b ?x))", &[Depends("?x", AB)]),
    // d(A - B) = dA - dB
    rule_if("vjp-difference",  "(vjp ?g (- ?a ?b) ?x)", "(- (vjp (unb ?g ?a) ?a ?x) (vjp (unb ?g ?b) ?b ?x))", &[Depends("?x", AB)]),
    // d(-A) = -dA
    rule_if("vjp-negation",    "(vjp ?g (neg ?a) ?x)", "(neg (vjp ?g ?a ?x))", &[Depends("?x", A)]),
    // d(A B) = dA B + A dB, so ⟨G, d(A B)⟩ = ⟨G Bᵀ, dA⟩ + ⟨Aᵀ G, dB⟩ (product rule)
    rule_if("vjp-product-rule", "(vjp ?g (* ?a ?b) ?x)", "(+ (vjp (* ?g (H ?b)) ?a ?x) (vjp (* (H ?a) ?g) ?b ?x))", &[MatMul("?a", "?b"), Depends("?x", AB)]),
    // d(s B) = ds B + s dB, s 1×1 (scaling)
    rule_if("vjp-scaling-left", "(vjp ?g (* ?a ?b) ?x)", "(+ (vjp (sum (∘ ?g (conj ?b))) ?a ?x) (vjp (* (conj ?a) ?g) ?b ?x))", &[Scalar("?a"), NotMatMul("?a", "?b"), Depends("?x", AB)]),
    // d(A s) = dA s + A ds, s 1×1 (scaling)
    rule_if("vjp-scaling-right", "(vjp ?g (* ?a ?b) ?x)", "(+ (vjp (* (conj ?b) ?g) ?a ?x) (vjp (sum (∘ ?g (conj ?a))) ?b ?x))", &[Scalar("?b"), NotMatMul("?a", "?b"), Depends("?x", AB)]),
    // d(A / s) = dA / s - A ds / s²
    rule_if("vjp-quotient",    "(vjp ?g (/ ?a ?b) ?x)", "(- (vjp (/ ?g (conj ?b)) ?a ?x) (vjp (/ (sum (∘ ?g (conj ?a))) (pow (conj ?b) 2)) ?b ?x))", &[Depends("?x", AB)]),
    // d(A ∘ B) = dA ∘ B + A ∘ dB (Hadamard product rule)
    rule_if("vjp-hadamard-rule", "(vjp ?g (∘ ?a ?b) ?x)", "(+ (vjp (unb (∘ ?g (conj ?b)) ?a) ?a ?x) (vjp (unb (∘ ?g (conj ?a)) ?b) ?b ?x))", &[Depends("?x", AB)]),
    // d(A ⊘ B) = dA ⊘ B - (A ∘ dB) ⊘ (B ∘ B)
    rule_if("vjp-elementwise-quotient", "(vjp ?g (⊘ ?a ?b) ?x)", "(- (vjp (unb (⊘ ?g (conj ?b)) ?a) ?a ?x) (vjp (unb (⊘ (∘ ?g (conj ?a)) (conj (∘ ?b ?b))) ?b) ?b ?x))", &[Depends("?x", AB)]),
    // d(Aᵀ) = (dA)ᵀ
    rule_if("vjp-transpose",   "(vjp ?g (T ?a) ?x)", "(vjp (T ?g) ?a ?x)", &[Depends("?x", A)]),
    // d(Aᴴ) = (dA)ᴴ
    rule_if("vjp-adjoint",     "(vjp ?g (H ?a) ?x)", "(vjp (H ?g) ?a ?x)", &[Depends("?x", A)]),
    // d conj(A) = conj(dA)
    rule_if("vjp-conj",        "(vjp ?g (conj ?a) ?x)", "(vjp (conj ?g) ?a ?x)", &[Depends("?x", A)]),
    // d Re(A) = Re(dA): a real G passes through
    rule_if("vjp-real",        "(vjp ?g (real ?a) ?x)", "(vjp (real ?g) ?a ?x)", &[Depends("?x", A)]),
    // d Im(A) = Im(dA) = Re(-ⅈ dA), so ⟨G, d Im(A)⟩ = ⟨ⅈ Re(G), dA⟩
    rule_if("vjp-imag",        "(vjp ?g (imag ?a) ?x)", "(vjp (* ⅈ (real ?g)) ?a ?x)", &[Depends("?x", A)]),
    // d(A⁻¹) = -A⁻¹ dA A⁻¹
    rule_if("vjp-inverse",     "(vjp ?g (inv ?a) ?x)", "(vjp (neg (* (H (inv ?a)) (* ?g (H (inv ?a))))) ?a ?x)", &[Depends("?x", A)]),
    // d(s^k) = k s^(k-1) ds + s^k log(s) dk, s 1×1
    rule_if("vjp-power",       "(vjp ?g (pow ?a ?k) ?x)", "(+ (vjp (* ?g (conj (* ?k (pow ?a (- ?k 1))))) ?a ?x) (vjp (* ?g (conj (* (pow ?a ?k) (ew @log ?a)))) ?k ?x))", &[Scalar("?a"), Depends("?x", AK)]),
    // d(A.^p) = p A.^(p-1) ∘ dA + A.^p ∘ log(A) dp
    rule_if("vjp-elementwise-power", "(vjp ?g (epow ?a ?k) ?x)", "(+ (vjp (unb (∘ ?g (conj (* ?k (epow ?a (- ?k 1))))) ?a) ?a ?x) (vjp (sum (∘ ?g (conj (∘ (epow ?a ?k) (ew @log ?a))))) ?k ?x))", &[Depends("?x", AK)]),
    // d tr(A) = tr(dA) = ⟨I, dA⟩
    rule_if("vjp-trace",       "(vjp ?g (tr ?a) ?x)", "(vjp (* ?g (eye-like ?a)) ?a ?x)", &[Depends("?x", A)]),
    // d det(A) = det(A) tr(A⁻¹ dA) (Jacobi's formula)
    rule_if("vjp-determinant", "(vjp ?g (det ?a) ?x)", "(vjp (* ?g (conj (* (det ?a) (T (inv ?a))))) ?a ?x)", &[Depends("?x", A)]),
    // d log|det A| = Re tr(A⁻¹ dA)
    rule_if("vjp-log-determinant", "(vjp ?g (logdet ?a) ?x)", "(vjp (* (real ?g) (H (inv ?a))) ?a ?x)", &[Depends("?x", A)]),
    // d sum(A) = ⟨ones, dA⟩
    rule_if("vjp-sum",         "(vjp ?g (sum ?a) ?x)", "(vjp (* ?g (ones-like ?a)) ?a ?x)", &[Depends("?x", A)]),
    // d‖A‖ = ⟨A / ‖A‖, dA⟩
    rule_if("vjp-norm",        "(vjp ?g (norm ?a) ?x)", "(vjp (* (real ?g) (/ ?a (norm ?a))) ?a ?x)", &[Depends("?x", A)]),
    // d‖A‖₁ = ⟨sign(A), dA⟩
    rule_if("vjp-norm1",       "(vjp ?g (norm1 ?a) ?x)", "(vjp (* (real ?g) (ew @sign ?a)) ?a ?x)", &[Depends("?x", A)]),
    // d logsumexp(a) = ⟨softmax(a), da⟩
    rule_if("vjp-logsumexp",   "(vjp ?g (logsumexp ?a) ?x)", "(vjp (* ?g (conj (softmax ?a))) ?a ?x)", &[Depends("?x", A)]),
    // d softmax(a) = (diag(s) - s sᵀ) da with s = softmax(a)
    rule_if("vjp-softmax",     "(vjp ?g (softmax ?a) ?x)", "(vjp (∘ (conj (softmax ?a)) (- ?g (sum (∘ ?g (conj (softmax ?a)))))) ?a ?x)", &[Depends("?x", A)]),
    // d diag(A) = diag(dA), and diag is its own adjoint
    rule_if("vjp-diag",        "(vjp ?g (diag ?a) ?x)", "(vjp (diag ?g) ?a ?x)", &[Depends("?x", A)]),
    // d f(A) = f'(A) ∘ dA for a generic element-wise f (chain rule)
    rule_if("vjp-chain-elementwise", "(vjp ?g (ew ?f ?a) ?x)", "(vjp (∘ ?g (conj (ew (d ?f) ?a))) ?a ?x)", &[Generic("?f"), Depends("?x", A)]),
    // d L(u) = ⟨∇L(u), du⟩ for a generic scalar-valued L (chain rule)
    rule_if("vjp-chain-scalar-valued", "(vjp ?g (apply ?f ?a) ?x)", "(vjp (* ?g (conj (grad ?f ?a))) ?a ?x)", &[Depends("?x", A)]),
    // exp' = exp
    rule_if("vjp-exp",         "(vjp ?g (ew @exp ?a) ?x)", "(vjp (∘ ?g (conj (ew @exp ?a))) ?a ?x)", &[Depends("?x", A)]),
    // log' = 1/u
    rule_if("vjp-log",         "(vjp ?g (ew @log ?a) ?x)", "(vjp (⊘ ?g (conj ?a)) ?a ?x)", &[Depends("?x", A)]),
    // sin' = cos
    rule_if("vjp-sin",         "(vjp ?g (ew @sin ?a) ?x)", "(vjp (∘ ?g (conj (ew @cos ?a))) ?a ?x)", &[Depends("?x", A)]),
    // cos' = -sin
    rule_if("vjp-cos",         "(vjp ?g (ew @cos ?a) ?x)", "(vjp (neg (∘ ?g (conj (ew @sin ?a)))) ?a ?x)", &[Depends("?x", A)]),
    // tan' = 1 + tan²
    rule_if("vjp-tan",         "(vjp ?g (ew @tan ?a) ?x)", "(vjp (∘ ?g (conj (+ 1 (epow (ew @tan ?a) 2)))) ?a ?x)", &[Depends("?x", A)]),
    // tanh' = 1 - tanh²
    rule_if("vjp-tanh",        "(vjp ?g (ew @tanh ?a) ?x)", "(vjp (∘ ?g (conj (- 1 (epow (ew @tanh ?a) 2)))) ?a ?x)", &[Depends("?x", A)]),
    // sqrt' = 1 / (2 sqrt)
    rule_if("vjp-sqrt",        "(vjp ?g (ew @sqrt ?a) ?x)", "(vjp (⊘ ?g (conj (* 2 (ew @sqrt ?a)))) ?a ?x)", &[Depends("?x", A)]),
    // abs' = sign
    rule_if("vjp-abs",         "(vjp ?g (ew @abs ?a) ?x)", "(vjp (∘ (real ?g) (ew @sign ?a)) ?a ?x)", &[Depends("?x", A)]),
    // sign' = 0 (almost everywhere)
    rule_if("vjp-sign",        "(vjp ?g (ew @sign ?a) ?x)", "(zeros-like ?x)", &[Real("?a"), Depends("?x", A)]),
    // sigmoid' = sigmoid (1 - sigmoid)
    rule_if("vjp-sigmoid",     "(vjp ?g (ew @sigmoid ?a) ?x)", "(vjp (∘ ?g (conj (∘ (ew @sigmoid ?a) (- 1 (ew @sigmoid ?a))))) ?a ?x)", &[Depends("?x", A)]),
    // relu' = the unit step, written relu'
    rule_if("vjp-relu",        "(vjp ?g (ew @relu ?a) ?x)", "(vjp (∘ ?g (ew @relu' ?a)) ?a ?x)", &[Depends("?x", A)]),
    // softplus' = sigmoid
    rule_if("vjp-softplus",    "(vjp ?g (ew @softplus ?a) ?x)", "(vjp (∘ ?g (conj (ew @sigmoid ?a))) ?a ?x)", &[Depends("?x", A)]),
    // vec(a) = a for a column a, so ⟨G, d vec(a)⟩ = ⟨G, da⟩
    rule_if("vjp-vec-column",     "(vjp ?g (vec ?a) ?x)", "(vjp ?g ?a ?x)", &[Column("?a"), Depends("?x", A)]),
    // vec(s) = s for a 1×1 s
    rule_if("vjp-vec-scalar",     "(vjp ?g (vec ?a) ?x)", "(vjp ?g ?a ?x)", &[Scalar("?a"), Depends("?x", A)]),
    // ⟨g, d vec(A)⟩ = ⟨unvec(g), dA⟩ with unvec(g) = (vec(I)ᵀ ⊗ I)(I ⊗ g) for an m×n A, n > 1
    rule_if("vjp-vec-unvec",      "(vjp ?g (vec ?a) ?x)", "(vjp (* (⊗ (T (vec (eye-like (T ?a)))) (eye-like ?a)) (⊗ (eye-like (T ?a)) ?g)) ?a ?x)", &[Wide("?a"), Depends("?x", A)]),
    // d(A ⊗ B) = dA ⊗ B + A ⊗ dB; ⟨G, dA ⊗ B⟩ = ⟨(I ⊗ 1ᵀ)(G ∘ conj(J ⊗ B))(I ⊗ 1), dA⟩ (each entry of A meets the sum of its block of G ∘ conj(B)), and ⟨G, A ⊗ dB⟩ = ⟨(1ᵀ ⊗ I)(G ∘ conj(A ⊗ J))(1 ⊗ I), dB⟩ (the sum of the blocks of G ∘ conj(A ⊗ J))
    rule_if("vjp-kronecker-rule", "(vjp ?g (⊗ ?a ?b) ?x)", "(+ (vjp (* (* (⊗ (eye-like ?a) (T (ones-like (diag (eye-like ?b))))) (∘ ?g (conj (⊗ (ones-like ?a) ?b)))) (⊗ (eye-like (T ?a)) (ones-like (diag (eye-like (T ?b)))))) ?a ?x) (vjp (* (* (⊗ (T (ones-like (diag (eye-like ?a)))) (eye-like ?b)) (∘ ?g (conj (⊗ ?a (ones-like ?b))))) (⊗ (ones-like (diag (eye-like (T ?a)))) (eye-like (T ?b)))) ?b ?x))", &[Depends("?x", AB)]),
];

/// Rules the derivative rules rely on to finish: broadcasting and matrix powers.
#[rustfmt::skip]
pub const SUPPORT: &[Rule] = &[
    // G already has the operand's shape
    rule_if("unbroadcast-same", "(unb ?g ?a)", "?g", &[SameShape("?g", "?a")]),
    // a 1×1 operand broadcast over G receives sum(G)
    rule_if("unbroadcast-sum", "(unb ?g ?a)", "(sum ?g)", &[Scalar("?a"), NotScalar("?g")]),
    // A^k = A A^(k-1), k ≥ 2
    rule_if("matrix-power-unroll", "(pow ?a ?k)", "(* ?a (pow ?a (- ?k 1)))", &[Square("?a"), IntAtLeast("?k", 2)]),
    // A^1 = A
    rule("power-one", "(pow ?a 1)", "?a"),
    // A^0 = I
    rule_if("matrix-power-zero", "(pow ?a 0)", "(eye-like ?a)", &[Square("?a")]),
    // A^-k = (A⁻¹)^k
    rule_if("matrix-power-negative", "(pow ?a ?k)", "(pow (inv ?a) (neg ?k))", &[Square("?a"), IntAtMost("?k", -1)]),
];
