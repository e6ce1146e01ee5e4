//! Forward-mode differentiation as rewrites: `(jvp E X V)` is the derivative of E at X
//! in the direction V (V shaped like X), the differential dE with dX = V. Each rule is
//! one identity of the differential (Magnus–Neudecker).

use super::{rule, rule_if, Cond::*, Rule};

const A: &[&str] = &["?a"];
const AB: &[&str] = &["?a", "?b"];

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // dX = V
    rule("jvp-var",             "(jvp ?x ?x ?v)", "?v"),
    // dE = 0 when E does not depend on X
    rule_if("jvp-constant",     "(jvp ?e ?x ?v)", "(zeros-like ?e)", &[Independent("?x", &["?e"])]),
    // d(A + B) = dA + dB
    rule_if("jvp-sum-rule",     "(jvp (+ ?a ?b) ?x ?v)", "(+ (jvp ?a ?x ?v) (jvp ?b ?x ?v))", &[Depends("?x", AB)]),
    // d(A - B) = dA - dB
    rule_if("jvp-difference",   "(jvp (- ?a ?b) ?x ?v)", "(- (jvp ?a ?x ?v) (jvp ?b ?x ?v))", &[Depends("?x", AB)]),
    // d(-A) = -dA
    rule_if("jvp-negation",     "(jvp (neg ?a) ?x ?v)", "(neg (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d(A B) = dA B + A dB (product rule, also for scalings)
    rule_if("jvp-product-rule", "(jvp (* ?a ?b) ?x ?v)", "(+ (* (jvp ?a ?x ?v) ?b) (* ?a (jvp ?b ?x ?v)))", &[Depends("?x", AB)]),
    // d(A / s) = dA / s - A ds / s²
    rule_if("jvp-quotient",     "(jvp (/ ?a ?b) ?x ?v)", "(- (/ (jvp ?a ?x ?v) ?b) (/ (* ?a (jvp ?b ?x ?v)) (pow ?b 2)))", &[Depends("?x", AB)]),
    // d(A ∘ B) = dA ∘ B + A ∘ dB (Hadamard product rule)
    rule_if("jvp-hadamard-rule", "(jvp (∘ ?a ?b) ?x ?v)", "(+ (∘ (jvp ?a ?x ?v) ?b) (∘ ?a (jvp ?b ?x ?v)))", &[Depends("?x", AB)]),
    // d(A ⊘ B) = dA ⊘ B - (A ∘ dB) ⊘ (B ∘ B)
    rule_if("jvp-elementwise-quotient", "(jvp (⊘ ?a ?b) ?x ?v)", "(- (⊘ (jvp ?a ?x ?v) ?b) (⊘ (∘ ?a (jvp ?b ?x ?v)) (∘ ?b ?b)))", &[Depends("?x", AB)]),
    // d(A ⊗ B) = dA ⊗ B + A ⊗ dB
    rule_if("jvp-kronecker-rule", "(jvp (⊗ ?a ?b) ?x ?v)", "(+ (⊗ (jvp ?a ?x ?v) ?b) (⊗ ?a (jvp ?b ?x ?v)))", &[NotScalar("?a"), NotScalar("?b"), Depends("?x", AB)]),
    // d(Aᵀ) = (dA)ᵀ
    rule_if("jvp-transpose",    "(jvp (T ?a) ?x ?v)", "(T (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d(Aᴴ) = (dA)ᴴ
    rule_if("jvp-adjoint",      "(jvp (H ?a) ?x ?v)", "(H (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d conj(A) = conj(dA)
    rule_if("jvp-conj",         "(jvp (conj ?a) ?x ?v)", "(conj (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d Re(A) = Re(dA)
    rule_if("jvp-real",         "(jvp (real ?a) ?x ?v)", "(real (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d Im(A) = Im(dA)
    rule_if("jvp-imag",         "(jvp (imag ?a) ?x ?v)", "(imag (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d(A⁻¹) = -A⁻¹ dA A⁻¹
    rule_if("jvp-inverse",      "(jvp (inv ?a) ?x ?v)", "(neg (* (* (inv ?a) (jvp ?a ?x ?v)) (inv ?a)))", &[Depends("?x", A)]),
    // d(s^k) = k s^(k-1) ds + s^k log(s) dk, s 1×1
    rule_if("jvp-power",        "(jvp (pow ?a ?k) ?x ?v)", "(+ (* (* ?k (pow ?a (- ?k 1))) (jvp ?a ?x ?v)) (* (* (pow ?a ?k) (ew @log ?a)) (jvp ?k ?x ?v)))", &[Scalar("?a"), Depends("?x", &["?a", "?k"])]),
    // d(A.^p) = p A.^(p-1) ∘ dA + A.^p ∘ log(A) dp
    rule_if("jvp-elementwise-power", "(jvp (epow ?a ?k) ?x ?v)", "(+ (∘ (* ?k (epow ?a (- ?k 1))) (jvp ?a ?x ?v)) (* (jvp ?k ?x ?v) (∘ (epow ?a ?k) (ew @log ?a))))", &[Depends("?x", &["?a", "?k"])]),
    // d tr(A) = tr(dA)
    rule_if("jvp-trace",        "(jvp (tr ?a) ?x ?v)", "(tr (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d det(A) = det(A) tr(A⁻¹ dA) (Jacobi's formula)
    rule_if("jvp-determinant",  "(jvp (det ?a) ?x ?v)", "(* (det ?a) (tr (* (inv ?a) (jvp ?a ?x ?v))))", &[Depends("?x", A)]),
    // d log|det A| = tr(A⁻¹ dA) for real A
    rule_if("jvp-log-determinant", "(jvp (logdet ?a) ?x ?v)", "(tr (* (inv ?a) (jvp ?a ?x ?v)))", &[Real("?a"), Depends("?x", A)]),
    // d sum(A) = sum(dA)
    rule_if("jvp-sum",          "(jvp (sum ?a) ?x ?v)", "(sum (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d‖A‖ = sum(A ∘ dA) / ‖A‖ for real A
    rule_if("jvp-norm",         "(jvp (norm ?a) ?x ?v)", "(/ (sum (∘ ?a (jvp ?a ?x ?v))) (norm ?a))", &[Real("?a"), Depends("?x", A)]),
    // d‖A‖₁ = sum(sign(A) ∘ dA) for real A
    rule_if("jvp-norm1",        "(jvp (norm1 ?a) ?x ?v)", "(sum (∘ (ew @sign ?a) (jvp ?a ?x ?v)))", &[Real("?a"), Depends("?x", A)]),
    // d logsumexp(a) = sum(softmax(a) ∘ da)
    rule_if("jvp-logsumexp",    "(jvp (logsumexp ?a) ?x ?v)", "(sum (∘ (softmax ?a) (jvp ?a ?x ?v)))", &[Depends("?x", A)]),
    // d softmax(a) = s ∘ (da - sum(s ∘ da)) with s = softmax(a)
    rule_if("jvp-softmax",      "(jvp (softmax ?a) ?x ?v)", "(∘ (softmax ?a) (- (jvp ?a ?x ?v) (sum (∘ (softmax ?a) (jvp ?a ?x ?v)))))", &[Depends("?x", A)]),
    // d diag(A) = diag(dA)
    rule_if("jvp-diag",         "(jvp (diag ?a) ?x ?v)", "(diag (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d vec(A) = vec(dA)
    rule_if("jvp-vec",          "(jvp (vec ?a) ?x ?v)", "(vec (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d f(A) = f'(A) ∘ dA for a generic element-wise f (chain rule)
    rule_if("jvp-chain-elementwise", "(jvp (ew ?f ?a) ?x ?v)", "(∘ (ew (d ?f) ?a) (jvp ?a ?x ?v))", &[Generic("?f"), Depends("?x", A)]),
    // d L(u) = sum(∇L(u) ∘ du) for a generic scalar-valued L (chain rule)
    rule_if("jvp-chain-scalar-valued", "(jvp (apply ?f ?a) ?x ?v)", "(sum (∘ (grad ?f ?a) (jvp ?a ?x ?v)))", &[Depends("?x", A)]),
    // d ∇L(u) = ∇²L(u) du for a column u
    rule_if("jvp-gradient-call", "(jvp (grad ?f ?a) ?x ?v)", "(* (hess ?f ?a) (jvp ?a ?x ?v))", &[Column("?a"), Depends("?x", A)]),
    // d exp(A) = exp(A) ∘ dA
    rule_if("jvp-exp",          "(jvp (ew @exp ?a) ?x ?v)", "(∘ (ew @exp ?a) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d log(A) = dA ⊘ A
    rule_if("jvp-log",          "(jvp (ew @log ?a) ?x ?v)", "(⊘ (jvp ?a ?x ?v) ?a)", &[Depends("?x", A)]),
    // d sin(A) = cos(A) ∘ dA
    rule_if("jvp-sin",          "(jvp (ew @sin ?a) ?x ?v)", "(∘ (ew @cos ?a) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d cos(A) = -sin(A) ∘ dA
    rule_if("jvp-cos",          "(jvp (ew @cos ?a) ?x ?v)", "(neg (∘ (ew @sin ?a) (jvp ?a ?x ?v)))", &[Depends("?x", A)]),
    // d tan(A) = (1 + tan²(A)) ∘ dA
    rule_if("jvp-tan",          "(jvp (ew @tan ?a) ?x ?v)", "(∘ (+ 1 (epow (ew @tan ?a) 2)) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d tanh(A) = (1 - tanh²(A)) ∘ dA
    rule_if("jvp-tanh",         "(jvp (ew @tanh ?a) ?x ?v)", "(∘ (- 1 (epow (ew @tanh ?a) 2)) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d sqrt(A) = dA ⊘ (2 sqrt(A))
    rule_if("jvp-sqrt",         "(jvp (ew @sqrt ?a) ?x ?v)", "(⊘ (jvp ?a ?x ?v) (* 2 (ew @sqrt ?a)))", &[Depends("?x", A)]),
    // d |A| = sign(A) ∘ dA for real A
    rule_if("jvp-abs",          "(jvp (ew @abs ?a) ?x ?v)", "(∘ (ew @sign ?a) (jvp ?a ?x ?v))", &[Real("?a"), Depends("?x", A)]),
    // d sign(A) = 0 (almost everywhere) for real A
    rule_if("jvp-sign",         "(jvp (ew @sign ?a) ?x ?v)", "(zeros-like (ew @sign ?a))", &[Real("?a"), Depends("?x", A)]),
    // d sigmoid(A) = sigmoid(A) ∘ (1 - sigmoid(A)) ∘ dA
    rule_if("jvp-sigmoid",      "(jvp (ew @sigmoid ?a) ?x ?v)", "(∘ (∘ (ew @sigmoid ?a) (- 1 (ew @sigmoid ?a))) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d relu(A) = relu'(A) ∘ dA
    rule_if("jvp-relu",         "(jvp (ew @relu ?a) ?x ?v)", "(∘ (ew @relu' ?a) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
    // d relu'(A) = 0 (almost everywhere)
    rule_if("jvp-relu-derivative", "(jvp (ew @relu' ?a) ?x ?v)", "(zeros-like (ew @relu' ?a))", &[Real("?a"), Depends("?x", A)]),
    // d softplus(A) = sigmoid(A) ∘ dA
    rule_if("jvp-softplus",     "(jvp (ew @softplus ?a) ?x ?v)", "(∘ (ew @sigmoid ?a) (jvp ?a ?x ?v))", &[Depends("?x", A)]),
];
