"""Split a cluster whose account–key links hold several communities beyond what one operator's
random draws give (issue 13: campaigns of one family drawing on one public task bank).

Independent operators may write prompts from the same public material: each uses its own subset of
a scaffold bank, all share the task bank. Many content keys are then used by two or three of the
campaigns and many by one only; no single key bridges them (:mod:`~stillwatch.guard.score.bridge`
does not apply), and label propagation (:func:`~stillwatch.guard.score.links.split_by_content`)
gives one community because every campaign's accounts reach every other's through the shared keys.
What separates them is that each campaign's accounts use *their own* keys together far more often
than the keys' popularity explains.

The rule
========
For each cluster of >= ``2 split.min_accounts`` accounts, its linking *content* edges (template
prefixes and suffixes, near-duplicate groups; distinct account–key pairs) give the regularised,
degree-normalised matrix
``N = (D_a + tau_a)^-1/2 X (D_k + tau_k)^-1/2`` (``X`` the 0/1 account x key matrix, ``tau`` the
mean degree of each side: Qin & Rohe 2013, "Regularized spectral clustering under the degree-
corrected stochastic blockmodel", NeurIPS; Amini et al. 2013, Ann. Stat. 41(4)), and its singular
values ``s_1 >= s_2 >= ...`` relative to ``s_1``. A random graph with these degrees has one leading
value and a bulk below it; every further community of the graph adds a value standing out of the
bulk (Newman 2013, Phys. Rev. E 88, 042822; Le & Levina 2015, arXiv:1507.00827). The number of
communities is ``k = 1 + #{j >= 2: s_j stands out}``; the accounts are then cut into ``k`` parts by
k-means on their rows of the first ``k`` left singular vectors, normalised to unit length
(deterministic farthest-point start), and the cluster is split along them where the parts meet the
criteria of every split (:func:`~stillwatch.guard.score.cluster.split_parts`).

Null model
==========
**H0** (one operator): the cluster's account–key links are a random bipartite graph with the
observed degrees — each of the operator's accounts draws its keys from one common pool in
proportion to the keys' popularity (the configuration model; Newman, Strogatz & Watts 2001). An
account's own persistence (re-sending its keys) is out of the graph: edges are distinct pairs.
Draws: the key ends of the edge list permuted (:func:`~stillwatch.guard.score.bridge.rewired`, the
same seeded generator and canonical edge order as the bridge rule, so both engines draw the same
graphs), statistic ``s_2`` of each draw (the top of its bulk). ``s_j`` stands out when

* ``p_j = (1 + #{draws with s_2 >= s_j}) / (B + 1) <= LinkConfig.alpha / m`` (Davison & Hinkley
  1997, ch. 4: exact under H0 for ``j = 2`` and conservative for ``j > 2``, as ``s_j <= s_2``),
  ``m`` the candidate clusters of the log (Bonferroni), ``B = ceil(m / alpha)``; and
* its **excess** over the bulk, ``(s_j - med) / (1 - med)`` with ``med`` the draws' median ``s_2``,
  is >= ``split.community_excess`` (0.2).

The excess is the effect-size floor: with thousands of accounts any departure of one operator's
scheduling from the configuration model becomes significant (the failure of the earlier diurnal-
phase split), while a campaign of its own is a large departure. In a graph of equal blocks whose
accounts put a share ``f`` of their links on keys of their own block and the rest on keys all
blocks share, ``s_2`` lies about ``f`` above the bulk, so the floor asks for about a fifth of each
part's links on keys of its own beyond chance. Measured on the simulator's families (seed 0, 320,000 rows):
each shape campaign alone <= 0.01, the largest one-operator value swarm's 5,000-account cot campaign
at 0.11; the three merged campaigns of burst, cohort and spread 0.26-0.47 (second and third values).
Sparse graphs sit closer to the floor: three planted operators with a third of their scaffolds
public and ten rows per account give 0.19-0.30, so two of them may stay together there.
Candidates are the clusters whose excess reaches the floor on a pilot of ``split.community_pilot``
draws and whose ``k`` parts would split them; a candidate stops drawing once a draw reaches its
``s_2`` (then no split is possible at its level).

Content only: one operator spreading its accounts over several address pools forms one community
per pool in its address links (held-out C's evalfarm: 80 accounts on four datacenter /24s, cut in
four when every linking edge was used); infrastructure communities are
:func:`~stillwatch.guard.score.links.split_by_infrastructure`'s, which rejoins parts that send one
workload. What this rule cannot tell apart: one operator that gives each of its account pools a
disjoint template set is, on content, several operators (the bridge rule keeps pools of one-key
accounts together; this rule splits them when each pool's accounts use several keys of their own),
and so is one that deals template pairs out round a ring (account ``i`` on templates ``i`` and ``i + 1``
mod 6: cut into arcs). Each part stays a campaign with its own evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stillwatch.core.sets import unique
from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.bridge import SEED, canonical_edges, rewired

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig


#: at most this many rows on the matrix's short side, :func:`spectrum` takes the eigenvalues of the dense Gram
#: matrix instead of ARPACK (``svds``): for a small cluster ARPACK's set-up costs ~2 ms a call against ~0.2 ms, and the
#: rewiring test calls it once per draw (measured 2026-12-05, 100 x 60 matrices; the two agree to ~1e-15).
DENSE_SIDE = 100


def spectrum(n_acc: int, n_key: int, ai: np.ndarray, ki: np.ndarray, k: int,
             vectors: bool = False):
    """Singular values ``s_1..s_k`` of the regularised normalised account x key matrix (module
    docstring), divided by ``s_1``, in decreasing order; with ``vectors``, also the accounts' rows of
    the left singular vectors (``n_acc x k``; each column's sign is arbitrary). Requires compact indices
    ``0 <= ai < n_acc``, ``0 <= ki < n_key`` and ``2 <= k < min(n_acc, n_key)``; duplicate pairs add up.
    A matrix whose short side is at most :data:`DENSE_SIDE` is decomposed densely (the Gram matrix of
    the short side), a larger one by ARPACK."""
    from scipy.sparse import coo_matrix, diags

    x = coo_matrix((np.ones(len(ai)), (ai, ki)), shape=(n_acc, n_key)).tocsr()
    da = np.asarray(x.sum(axis=1)).ravel()
    dk = np.asarray(x.sum(axis=0)).ravel()
    nm = diags(1.0 / np.sqrt(da + da.mean())) @ x @ diags(1.0 / np.sqrt(dk + dk.mean()))
    side = min(n_acc, n_key)
    if side <= DENSE_SIDE:
        s, u = _dense_top(nm.toarray(), k)
    else:
        from scipy.sparse.linalg import svds

        u, s, _ = svds(nm, k=k, v0=np.full(side, 1.0 / np.sqrt(side)), random_state=0)
    o = np.argsort(-s, kind="stable")
    rel = s[o] / max(float(s[o][0]), 1e-300)
    return (rel, u[:, o]) if vectors else rel


def _dense_top(m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest singular values of the dense ``m`` (``r x c``) and its left singular vectors
    (``r x k``), from the eigen-decomposition of the Gram matrix of the shorter side."""
    tall = m.shape[0] > m.shape[1]
    w, vec = np.linalg.eigh(m.T @ m if tall else m @ m.T)  # ascending
    w, vec = w[::-1][:k], vec[:, ::-1][:, :k]
    s = np.sqrt(np.maximum(w, 0.0))
    return s, ((m @ vec) / np.maximum(s, 1e-300) if tall else vec)  # tall: right vectors mapped to the left


def kmeans_rows(x: np.ndarray, k: int, iters: int = 100) -> np.ndarray:
    """Deterministic k-means of the rows of ``x`` (``n x d``): the first centre is the row farthest
    from the mean, each next the row farthest from the centres so far (ties: lowest row), then
    Lloyd steps until nothing moves. Returns each row's part ``0..k-1``. Requires ``1 <= k <= n``."""
    centres = [int(np.argmax(((x - x.mean(axis=0)) ** 2).sum(axis=1)))]
    d = ((x - x[centres[0]]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        centres.append(int(np.argmax(d)))
        d = np.minimum(d, ((x - x[centres[-1]]) ** 2).sum(axis=1))
    c = x[centres]
    lab = np.zeros(len(x), np.int64)
    for _ in range(iters):
        lab = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)  # (n,)
        cnt = np.bincount(lab, minlength=k).astype(np.float64)
        new = np.stack([np.bincount(lab, weights=x[:, j], minlength=k) for j in range(x.shape[1])], axis=1)
        new = np.where(cnt[:, None] > 0, new / np.maximum(cnt, 1.0)[:, None], c)
        if np.allclose(new, c):
            break
        c = new
    return lab


class _Cluster:
    """One cluster's canonical graph, its spectrum, and the rewiring draws made so far."""

    def __init__(self, ea: np.ndarray, ek: np.ndarray, kmax: int) -> None:
        self.members = unique(ea)  # canonical_edges ranks the accounts in this order
        self.n, self.nk, self.ai, self.ki = canonical_edges(ea, ek)
        self.k = min(kmax + 1, min(self.n, self.nk) - 1)
        if self.k >= 2:
            self.rel, self.vec = spectrum(self.n, self.nk, self.ai, self.ki, self.k, vectors=True)
        self.rng = np.random.default_rng(SEED)
        self.null: list[float] = []

    def draw(self, b: int, stop: float | None = None) -> None:
        """``b`` more draws of the bulk's top ``s_2``; with ``stop``, ends at the first draw >= it."""
        for _ in range(b):
            self.null.append(float(spectrum(self.n, self.nk, self.ai, rewired(self.rng, self.ki), 2)[1]))
            if stop is not None and self.null[-1] >= stop:
                break

    def pilot(self, b: int, floor: float) -> None:
        """The pilot's ``b`` draws, ending early once more than half of them lie above
        ``(s_2 - floor) / (1 - floor)`` (with a 1e-9 margin): their median then does too, so ``s_2``'s
        excess is below ``floor`` whatever the draws left — the same verdict at a fraction of the cost
        for the clusters of one operator."""
        t = (float(self.rel[1]) - floor) / (1.0 - floor) + 1e-9
        above = 0
        for _ in range(b):
            self.draw(1)
            above += self.null[-1] > t
            if above >= b // 2 + 1:
                break

    def parts(self, floor: float, level: float | None) -> int:
        """How many values stand out of the bulk (``k``): excess >= ``floor`` and, with ``level``,
        p <= ``level``."""
        null = np.asarray(self.null)
        med = float(np.median(null))
        s = self.rel[1:]
        ok = (s - med) / max(1.0 - med, 1e-12) >= floor
        if level is not None:
            reach = (null[None, :] >= s[:, None]).sum(axis=1)
            ok &= (1.0 + reach) / (len(null) + 1.0) <= level
        return 1 + int(np.cumprod(ok).sum())

    def cut(self, k: int) -> np.ndarray:
        """Each member's part (labelled by the part's smallest member) among ``k`` parts."""
        u = self.vec[:, :k]
        lab = kmeans_rows(u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12), k)
        first = np.full(k, len(self.members), np.int64)
        np.minimum.at(first, lab, np.arange(self.n))
        return self.members[first[lab]]


def community_p(ea: np.ndarray, ek: np.ndarray, draws: int) -> float:
    """Monte Carlo p-value ``(1 + #{draws with s_2 >= observed s_2}) / (draws + 1)`` of the second
    singular value of the graph (accounts ``ea``, keys ``ek``, any labels) under degree-preserving
    rewiring (module docstring: H0 one operator). Requires >= 3 accounts and >= 3 keys."""
    c = _Cluster(np.asarray(ea, np.int64), np.asarray(ek, np.int64), 1)
    if c.k < 2:
        raise ValueError(f"community_p needs >= 3 accounts and >= 3 keys, got {c.n} and {c.nk}")
    c.draw(draws)
    return (1.0 + float(np.sum(np.asarray(c.null) >= c.rel[1]))) / (draws + 1.0)


def split_by_communities(labels: np.ndarray, ea: np.ndarray, ek: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Per account: its part when its cluster holds several link communities beyond the configuration
    model (module docstring), else its label — a proposal for
    :func:`~stillwatch.guard.score.links._apply_split`, which keeps the size criteria."""
    sp = cfg.split
    ea = np.asarray(ea, np.int64)
    ek = np.asarray(ek, np.int64)
    size = _cluster.sizes(labels)
    ok = size[ea] >= 2 * sp.min_accounts
    ea, ek = ea[ok], ek[ok]
    if len(ea) == 0:
        return labels
    o = np.argsort(labels[ea], kind="stable")
    ea, ek = ea[o], ek[o]
    lab_e = labels[ea]
    _, starts = np.unique(lab_e, return_index=True)
    ends = np.append(starts[1:], len(ea))
    sub = labels.copy()
    cands = []
    for s0, s1 in zip(starts, ends):
        c = _Cluster(ea[s0:s1], ek[s0:s1], sp.community_max)
        if c.k < 2:
            continue
        c.pilot(sp.community_pilot, sp.community_excess)
        k = c.parts(sp.community_excess, None) if len(c.null) == sp.community_pilot else 1
        if k >= 2:
            sub[c.members] = c.cut(k)
            cands.append((c, k))
    cand_labels = unique(labels[_cluster.split_parts(labels, sub, sp)[1]])
    cands = [(c, k) for c, k in cands if labels[c.members[0]] in cand_labels]
    if not cands:
        return labels
    m = len(cands)
    draws = int(np.ceil(m / cfg.link.alpha))
    out = labels.copy()
    for c, _ in cands:
        if max(c.null) >= c.rel[1]:  # a pilot draw already reached it: no split at this level
            continue
        c.draw(draws - len(c.null), stop=float(c.rel[1]))
        k = c.parts(sp.community_excess, cfg.link.alpha / m) if len(c.null) >= draws else 1
        if k >= 2:
            out[c.members] = c.cut(k)
    return out
