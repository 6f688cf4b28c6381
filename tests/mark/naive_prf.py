"""A naive pure-Python (arbitrary-precision int) reference of the swprf1 PRF and of KGW/Gumbel
detection, written from the definition in stillwatch.core.prf's docstring, one token at a time.
Used only by the tests to cross-check the vectorised code."""

from __future__ import annotations

import math

MASK = (1 << 64) - 1
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
G = 0x9E3779B97F4A7C15
F0 = 0x6A09E667F3BCC908


def mix(x: int) -> int:
    x ^= x >> 32
    x = (x * M1) & MASK
    x ^= x >> 29
    x = (x * M2) & MASK
    x ^= x >> 32
    return x


def fold(ctx: list[int]) -> int:
    f = F0
    for t in ctx:
        f = mix(f ^ ((t + 1) & MASK))
    return f


def tok(v: int) -> int:
    return mix(((v + 1) * G) & MASK)


def prf(key: bytes, ctx: list[int], v: int) -> int:
    k0 = int.from_bytes(key[0:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    return mix(mix(fold(ctx) ^ k0) ^ tok(v) ^ k1)


def is_green(key: bytes, ctx: list[int], v: int, gamma: float) -> bool:
    return prf(key, ctx, v) < min(int(gamma * 2.0**64), 2**64 - 1)


def binom_tail_exact(k: int, n: int, p: float) -> float:
    """P(X >= k), X ~ Bin(n, p), by summing exact terms (for small n)."""
    if k <= 0:
        return 1.0
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def naive_kgw_detect(key: bytes, ids: list[int], h: int, gamma: float, exclude: set | None = None):
    """Per-token loop: score each distinct (context, token) window once, skipping excluded ones."""
    seen = set()
    green = 0
    for t in range(h, len(ids)):
        w = tuple(ids[t - h : t + 1])
        if w in seen or (exclude and w in exclude):
            continue
        seen.add(w)
        green += is_green(key, list(w[:h]), w[h], gamma)
    return green, len(seen)


def naive_gumbel_score(key: bytes, ids: list[int], h: int):
    seen = set()
    s = 0.0
    for t in range(h, len(ids)):
        w = tuple(ids[t - h : t + 1])
        if w in seen:
            continue
        seen.add(w)
        u = prf(key, list(w[:h]), w[h])
        r = ((u >> 12) + 0.5) * 2.0**-52
        s += -math.log1p(-r)
    return s, len(seen)


def g_value(key: bytes, ctx: list[int], v: int, layer: int) -> int:
    """Tournament g-value of layer ``layer``: bit ``layer`` of the PRF word (stillwatch.core.tournament)."""
    return (prf(key, ctx, v) >> layer) & 1


def naive_tournament_detect(key: bytes, ids: list[int], h: int, depth: int, exclude: set | None = None):
    """Per-token, per-layer loop: ones among the g-values of each distinct window, and the window count."""
    windows = [tuple(ids[t - h : t + 1]) for t in range(h, len(ids))]
    distinct = [w for i, w in enumerate(windows) if w not in windows[:i] and not (exclude and w in exclude)]
    ones = sum(g_value(key, list(w[:h]), w[h], j) for w in distinct for j in range(depth))
    return ones, len(distinct)


def bracket_winner_distribution(p: list[float], g: list[list[int]]) -> list[float]:
    """Exact winner distribution of an explicit m-round tournament over 2**m leaves, by enumerating every
    assignment of candidates to leaves (K**(2**m) of them) and playing the bracket pair by pair; a tie
    between two different tokens sends each on with probability 1/2. ``g[x][l]``: g-value of candidate x
    in round l. Independent of the closed form it checks (no use of equation (1))."""
    import itertools

    K, m = len(p), len(g[0])
    out = [0.0] * K
    for leaves in itertools.product(range(K), repeat=2**m):
        weight = math.prod(p[x] for x in leaves)
        if weight == 0.0:
            continue
        dist = [{x: 1.0} for x in leaves]  # each slot: distribution of who occupies it
        for rnd in range(m):
            nxt = []
            for a, b in zip(dist[0::2], dist[1::2]):
                d: dict[int, float] = {}
                for x, px in a.items():
                    for y, py in b.items():
                        if x == y or g[x][rnd] == g[y][rnd]:
                            share = {x: 1.0} if x == y else {x: 0.5, y: 0.5}
                        else:
                            share = {x if g[x][rnd] > g[y][rnd] else y: 1.0}
                        for z, s in share.items():
                            d[z] = d.get(z, 0.0) + px * py * s
                nxt.append(d)
            dist = nxt
        for x, px in dist[0].items():
            out[x] += weight * px
    return out
