"""Raw scores and per-feature contributions of a LightGBM booster in one compiled pass.

LightGBM's own TreeSHAP (`pred_contrib=True`) costs 0.2-4 ms per row, too slow to give reasons
with every score. Path-dependent (Saabas) contributions are as cheap as prediction itself:
walking a row down each tree, the feature of every split is credited with the change in node
value, `value(child) - value(parent)`. Per tree these telescope to `leaf - root`, so the
contributions plus the bias (sum of the root values) add up to the raw score.

`TreeEnsemble` flattens `booster.dump_model()` into arrays and replicates LightGBM's decision
rules (missing values as NaN or zero, default directions, categorical bitsets), so its raw score
is the booster's own. Exact TreeSHAP stays available as `method="shap"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

if TYPE_CHECKING:
    import lightgbm as lgb

# LightGBM treats |x| <= kZeroThreshold (a float32 1e-35) as zero.
_K_ZERO = float(np.float32(1e-35))
# Bits of a node's `flags`, as in LightGBM's `decision_type`.
_CATEGORICAL = 1
_DEFAULT_LEFT = 2
_MISSING_SHIFT = 2
_MISSING_CODES = {"None": 0, "Zero": 1, "NaN": 2}
_MISSING_ZERO, _MISSING_NAN = 1, 2


class Explanation(NamedTuple):
    """Raw log-odds per row, per-feature contributions (rows x features), and the bias.

    `contributions.sum(axis=1) + bias == raw` (up to float rounding).
    """

    raw: np.ndarray
    contributions: np.ndarray
    bias: float


# Columns of `TreeEnsemble.nodes`; one row per split node keeps a node in one cache line.
_FEATURE, _FLAGS, _LEFT, _RIGHT, _CAT_START, _CAT_LEN = range(6)
# Columns of `TreeEnsemble.node_values`.
_THRESHOLD, _VALUE = 0, 1


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a binary LightGBM model as flat arrays.

    Split nodes of all trees share one index space; a child index `c < 0` points at leaf `~c`.
    """

    n_features: int
    roots: np.ndarray  # int32 per tree: the root node, or ~leaf for a single-leaf tree
    # int32 (nodes x 6): split feature; flags (categorical, default-left, missing type);
    # left and right child; first word and length of the category bitset in `cat_words`.
    nodes: np.ndarray
    node_values: np.ndarray  # float64 (nodes x 2): threshold, output had the node been a leaf
    cat_words: np.ndarray  # uint32 bitsets of the categories that go left
    leaf_values: np.ndarray  # float64 per leaf
    bias: float  # sum of the root values: the raw score before any split

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> TreeEnsemble:
        """Flatten a trained binary booster (the iterations `predict` uses by default)."""
        dump = booster.dump_model()
        if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output", False):
            raise NotImplementedError(
                "contributions are implemented for binary / regression boosters with one tree "
                "per iteration (not multiclass or random-forest mode): use method='shap'."
            )
        builder = _Builder()
        roots = [builder.add(tree["tree_structure"]) for tree in dump["tree_info"]]
        return builder.finish(dump["max_feature_idx"] + 1, roots)

    def explain(self, matrix: np.ndarray) -> Explanation:
        """Raw scores and path contributions of each row of a float64 feature matrix."""
        x = _as_matrix(matrix, self.n_features)
        raw = np.zeros(len(x), dtype=np.float64)
        contributions = np.zeros((len(x), self.n_features), dtype=np.float64)
        _explain_rows(
            x,
            self.roots,
            self.nodes,
            self.node_values,
            self.cat_words,
            self.leaf_values,
            raw,
            contributions,
        )
        return Explanation(raw, contributions, self.bias)


def shap_explanation(booster: lgb.Booster, matrix: np.ndarray) -> Explanation:
    """Exact TreeSHAP contributions from LightGBM itself (slower; same raw score)."""
    x = _as_matrix(matrix, booster.num_feature())
    # The bias column does not depend on the row: one all-missing row gives it for empty input.
    probe = x if len(x) else np.full((1, x.shape[1]), np.nan)
    out = booster.predict(probe, pred_contrib=True, num_threads=1 if len(probe) < 512 else 0)
    contributions = out[: len(x), :-1]
    return Explanation(contributions.sum(axis=1) + out[0, -1], contributions, float(out[0, -1]))


def _as_matrix(matrix: np.ndarray, n_features: int) -> np.ndarray:
    x = np.ascontiguousarray(np.atleast_2d(matrix), dtype=np.float64)
    if x.shape[1] != n_features:
        raise ValueError(f"the matrix has {x.shape[1]} columns; the model expects {n_features}")
    return x


class _Builder:
    """Collects nodes and leaves of many trees while walking the dumped JSON."""

    def __init__(self) -> None:
        self.nodes: list[list[int]] = []
        self.node_values: list[tuple[float, float]] = []
        self.leaves: list[float] = []
        self.cat_words: list[int] = []
        self.bias = 0.0

    def add(self, tree: dict) -> int:
        """Add one tree; return its root reference."""
        root = self._node(tree)
        self.bias += tree["internal_value"] if "split_index" in tree else tree["leaf_value"]
        return root

    def _node(self, node: dict) -> int:
        if "split_index" not in node:
            if "leaf_coeff" in node:
                raise NotImplementedError("linear trees are not supported: use method='shap'.")
            self.leaves.append(float(node["leaf_value"]))
            return ~(len(self.leaves) - 1)
        index = len(self.nodes)
        flags = _MISSING_CODES[node["missing_type"]] << _MISSING_SHIFT
        if node["default_left"]:
            flags |= _DEFAULT_LEFT
        threshold, cat_start, cat_len = 0.0, 0, 0
        if node["decision_type"] == "==":
            flags |= _CATEGORICAL
            words = _bitset(int(c) for c in str(node["threshold"]).split("||"))
            cat_start, cat_len = len(self.cat_words), len(words)
            self.cat_words += words
        else:
            threshold = float(node["threshold"])
        row = [node["split_feature"], flags, 0, 0, cat_start, cat_len]
        self.nodes.append(row)
        self.node_values.append((threshold, float(node["internal_value"])))
        row[_LEFT] = self._node(node["left_child"])
        row[_RIGHT] = self._node(node["right_child"])
        return index

    def finish(self, n_features: int, roots: list[int]) -> TreeEnsemble:
        return TreeEnsemble(
            n_features=n_features,
            roots=np.array(roots, dtype=np.int32),
            nodes=np.array(self.nodes, dtype=np.int32).reshape(-1, 6),
            node_values=np.array(self.node_values, dtype=np.float64).reshape(-1, 2),
            cat_words=np.array(self.cat_words, dtype=np.uint32),
            leaf_values=np.array(self.leaves, dtype=np.float64),
            bias=float(self.bias),
        )


def _bitset(categories) -> list[int]:
    """Categories going left as 32-bit words, the layout of LightGBM's `cat_threshold`."""
    words: list[int] = []
    for c in categories:
        word, bit = divmod(c, 32)
        words += [0] * (word + 1 - len(words))
        words[word] |= 1 << bit
    return words


@njit(cache=True, nogil=True)
def _explain_rows(
    x, roots, nodes, node_values, cat_words, leaf_values, raw, contributions
):  # pragma: no cover
    # Trees outside, rows inside: a tree stays in cache while every row walks it. Each row
    # still sums tree outputs in tree order from zero, as LightGBM does: the same raw score.
    # (The decision is written inline: as a helper function numba made it ~2.5x slower.)
    for t in range(roots.size):
        root = roots[t]
        if root < 0:
            for r in range(x.shape[0]):
                raw[r] += leaf_values[~root]
            continue
        for r in range(x.shape[0]):
            node = root
            current = node_values[node, _VALUE]
            while node >= 0:
                f = nodes[node, _FEATURE]
                v = x[r, f]
                # LightGBM's predictor passes |x| <= kZeroThreshold as exactly zero.
                if abs(v) <= _K_ZERO:
                    v = 0.0
                flags = nodes[node, _FLAGS]
                if flags & _CATEGORICAL:
                    # LightGBM casts to int (truncation toward zero) and sends negatives right;
                    # NaN and values beyond int32 cast to INT_MIN on x86, so they go right too.
                    left = False
                    if -1.0 < v < 2.0**31:
                        category = int(v)
                        word = category >> 5
                        if word < nodes[node, _CAT_LEN]:
                            bits = cat_words[nodes[node, _CAT_START] + word]
                            left = (bits >> (category & 31)) & 1 == 1
                else:
                    missing = (flags >> _MISSING_SHIFT) & 3
                    if np.isnan(v) and missing == _MISSING_NAN:
                        left = (flags & _DEFAULT_LEFT) != 0
                    else:
                        if np.isnan(v):  # without NaN handling, NaN is read as zero
                            v = 0.0
                        if missing == _MISSING_ZERO and v == 0.0:
                            left = (flags & _DEFAULT_LEFT) != 0
                        else:
                            left = v <= node_values[node, _THRESHOLD]
                child = nodes[node, _LEFT] if left else nodes[node, _RIGHT]
                child_value = node_values[child, _VALUE] if child >= 0 else leaf_values[~child]
                contributions[r, f] += child_value - current
                current = child_value
                node = child
            raw[r] += current
