//! The Python helper functions a generated module may use; each is included only where
//! a function calls it.

/// `(name, definition)`: a helper is included when `name(` occurs in the module's code.
pub(super) const HELPERS: &[(&str, &str)] = &[
    (
        "_arg",
        r#"def _arg(name, a, spec, dims):
    """Parameter `name` as an array, checked against its declared shape `spec` (one
    (coefficient, names, text) triple per axis); `dims` maps each named size to its value
    and the parameter that fixed it, so sizes agree across parameters."""
    a = np.asarray(a)
    ok = a.ndim == len(spec)
    if ok:
        for size, (coef, names, _) in zip(a.shape, spec):
            if coef != 1 or len(names) != 1:
                break
            got = dims.get(names[0])
            if got is None:
                dims[names[0]] = (size, name)
            elif got[0] != size:
                break
        else:
            return a
        for size, (coef, names, _) in zip(a.shape, spec):
            free = [s for s in names if s not in dims]
            known = coef
            for s in names:
                if s in dims:
                    known *= dims[s][0]
            if not free:
                ok = ok and size == known
            elif len(free) == 1 and known > 0 and size % known == 0:
                dims[free[0]] = (size // known, name)
            elif len(free) == 1:
                ok = False
    if not ok:
        want = "(" + ", ".join(t for _, _, t in spec) + ("," if len(spec) == 1 else "") + ")"
        used = {s for _, names, _ in spec for s in names}
        fixed = ", ".join(f"{s} = {v} from `{src}`" for s, (v, src) in dims.items() if s in used)
        raise ValueError(f"`{name}` must have shape {want}" + (f" with {fixed}" if fixed else "")
                         + f", got shape {a.shape}")
    return a
"#,
    ),
    ("_col", "def _col(a):\n    \"\"\"A vector parameter as a column.\"\"\"\n    return np.reshape(np.asarray(a), (-1, 1))\n"),
    ("_scalar", "def _scalar(a):\n    \"\"\"A 1x1 value as a Python number.\"\"\"\n    return np.asarray(a).reshape(()).item()\n"),
    ("_flat", "def _flat(a):\n    \"\"\"A column as the 1-D array a generic function receives.\"\"\"\n    return np.reshape(a, (-1,))\n"),
    ("_logsumexp", "def _logsumexp(a):\n    m = np.max(a)\n    return float(m + np.log(np.sum(np.exp(a - m))))\n"),
    ("_softmax", "def _softmax(a):\n    e = np.exp(a - np.max(a))\n    return e / np.sum(e)\n"),
    ("_commutation", "def _commutation(m, n):\n    \"\"\"K with K @ vec(A) == vec(A.T) for an m x n A.\"\"\"\n    k = np.zeros((m * n, m * n))\n    for i in range(m):\n        for j in range(n):\n            k[i * n + j, j * m + i] = 1.0\n    return k\n"),
    ("_sigmoid", "def _sigmoid(a):\n    return 1.0 / (1.0 + np.exp(-a))\n"),
    (
        "_inner",
        r#"def _inner(a, b):
    """sum(a * b) without forming a * b."""
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        return np.sum(a * b)
    return np.vdot(a, b)
"#,
    ),
    (
        "_pdq",
        r#"def _pdq(p, d, q):
    """p @ diag(d) @ q for a column d, in blocks of q's columns when the inner size is
    large: no temporary bigger than half the result."""
    k, n = q.shape
    if k <= p.shape[0]:
        return p @ (d * q)
    out = np.empty((p.shape[0], n), dtype=np.result_type(p, d, q))
    step = max(64, p.shape[0] * n // (2 * k))
    for s in range(0, n, step):
        np.matmul(p, d * q[:, s:s + step], out=out[:, s:s + step])
    return out
"#,
    ),
    (
        "_kron_eye_apply",
        r#"def _kron_eye_apply(a, y, m, eye_first):
    """(a kron I_m) @ y, or (I_m kron a) @ y when eye_first, through reshapes (one
    matrix product) without forming the Kronecker product."""
    p, k = a.shape
    c = y.shape[1]
    if eye_first:
        return np.matmul(a, np.reshape(y, (m, k, c))).reshape(m * p, c)
    return (a @ np.reshape(y, (k, m * c))).reshape(p * m, c)
"#,
    ),
    (
        "_kron_eye_diag",
        r#"def _kron_eye_diag(a, d, b, m, eye_first):
    """(a kron I_m) diag(d) (b kron I_m), or (I_m kron a) diag(d) (I_m kron b) when
    eye_first, without forming a Kronecker product: the result is block diagonal up to a
    permutation, each block a @ diag(w_i) @ b. Fortran-ordered, so that reading it in
    column-major order (vec) costs nothing."""
    p, k = a.shape
    q = b.shape[1]
    d = np.reshape(d, -1)
    i = np.arange(m)
    dtype = np.result_type(a, d, b)
    if eye_first:
        w = np.reshape(d, (m, k))
    else:
        w = np.reshape(d, (k, m)).T
    g = np.matmul(w[:, None, :] * a, b).transpose(0, 2, 1)
    if eye_first:
        out = np.zeros((m, q, m, p), dtype=dtype)
        out[i, :, i, :] = g
        return out.reshape(m * q, m * p).T
    out = np.zeros((q, m, p, m), dtype=dtype)
    out[:, i, :, i] = g
    return out.reshape(q * m, p * m).T
"#,
    ),
];
