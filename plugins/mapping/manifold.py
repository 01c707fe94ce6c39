"""``manifold``: embed the sensitivity space, cluster the embedding, allocate by inverse risk
(SPEC §5; monograph §8.2 "manifold learning", §8.4 item 6).

The sensitivity distance matrix is embedded in ``n_components`` dimensions with scikit-learn
(metric MDS, Isomap, t-SNE or spectral embedding, all on the precomputed distances), the points
are clustered (k-means or Ward), and weights are inverse-variance inside each cluster and
inverse to each cluster portfolio's variance across clusters (naive risk parity of clusters).
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import NumericalError
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._optim import bandwidth, covariance, gaussian_kernel, require_distance, returns_matrix

Embedding = Literal["mds", "isomap", "tsne", "spectral"]


def embed(d: np.ndarray, method: str, n_components: int, neighbours: int, perplexity: float,
          seed: int) -> np.ndarray:
    """Coordinates (N, n_components) of the points whose distances are ``d`` (precomputed)."""
    n = len(d)
    dim = max(1, min(n_components, n - 1))
    if method == "mds":
        import inspect

        from sklearn.manifold import MDS

        sig = inspect.signature(MDS).parameters
        kw: dict = dict(n_components=dim, random_state=seed)
        if "metric_mds" in sig:  # scikit-learn >= 1.8: metric names the dissimilarity
            kw.update(metric="precomputed", init="classical_mds")
        else:
            kw.update(dissimilarity="precomputed", n_init=4)
        return MDS(**kw).fit_transform(d)
    if method == "isomap":
        from sklearn.manifold import Isomap

        return Isomap(n_neighbors=min(neighbours, n - 1), n_components=dim,
                      metric="precomputed").fit_transform(d)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=min(dim, 3), metric="precomputed", init="random",
                    perplexity=min(perplexity, (n - 1) / 3.0), random_state=seed,
                    method="exact").fit_transform(d)
    from sklearn.manifold import SpectralEmbedding

    aff = gaussian_kernel(d, bandwidth(d, None))
    return SpectralEmbedding(n_components=dim, affinity="precomputed",
                             random_state=seed).fit_transform(aff)


def cluster_labels(x: np.ndarray, n_clusters: int, method: str, seed: int) -> np.ndarray:
    """Cluster labels (N,) of the embedded points, relabelled by first appearance."""
    n = len(x)
    k = max(1, min(n_clusters, n))
    if k == 1:
        return np.zeros(n, dtype=int)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        raw = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    else:
        from sklearn.cluster import AgglomerativeClustering

        raw = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(c), len(mapping)) for c in raw])


def cluster_parity(cov: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Inverse-variance inside clusters, inverse cluster variance across clusters."""
    from ._hierarchy import inverse_variance

    n = len(labels)
    w = np.zeros(n)
    cvar = []
    for c in range(labels.max() + 1):
        idx = np.flatnonzero(labels == c)
        sub = cov[np.ix_(idx, idx)]
        iv = inverse_variance(sub)
        w[idx] = iv
        cvar.append(float(iv @ sub @ iv))
    v = np.array(cvar)
    floor = max(1e-20, 1e-12 * float(v.max(initial=0.0)))
    alloc = 1.0 / np.clip(v, floor, None)
    alloc /= alloc.sum()
    for c in range(len(v)):
        w[labels == c] *= alloc[c]
    return w / w.sum(), cvar


@attrs.define(frozen=True, kw_only=True)
class Manifold(RiskMapping):
    """Embed sensitivity vectors (MDS, Isomap, t-SNE, spectral), cluster, inverse-risk weights."""

    name = "manifold"

    embedding: Embedding = param("mds", doc="mds, isomap, tsne or spectral (scikit-learn, on "
                                            "the precomputed distances)")
    n_components: int = param(2, doc="embedding dimension (capped at N-1; t-SNE at 3)",
                              validator=positive)
    n_clusters: int = param(3, doc="number of clusters (capped at N)", validator=positive)
    clustering: Literal["kmeans", "ward"] = param("kmeans", doc="kmeans or ward (agglomerative)")
    neighbours: int = param(5, doc="neighbours of the Isomap graph", validator=positive)
    perplexity: float = param(5.0, doc="t-SNE perplexity (capped at (N-1)/3)",
                              validator=positive)
    window: int | None = param(None, doc="covariance window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        d = require_distance(inputs, self.name)
        cov = covariance(returns_matrix(inputs), "sample")
        n = len(d)
        if n <= 2:
            labels = np.arange(n)
            x = np.zeros((n, 1))
        else:
            x = embed(d, self.embedding, self.n_components, self.neighbours, self.perplexity,
                      inputs.seed)
            if not np.all(np.isfinite(x)):
                raise NumericalError(f"the {self.embedding} embedding produced non-finite "
                                     "coordinates; try embedding='mds'")
            labels = cluster_labels(x, self.n_clusters, self.clustering, inputs.seed)
        w, cvar = cluster_parity(cov, labels)
        out = inputs.constraints.project(w)
        return Allocation(
            weights=pd.Series(out, index=list(inputs.assets)),
            diagnostics={"embedding": self.embedding, "coordinates": x.tolist(),
                         "clusters": dict(zip(inputs.assets, map(int, labels), strict=True)),
                         "cluster_variance": cvar,
                         "bounds_projection": float(np.abs(out - w).max())})


@hookimpl
def register_mappings(register):
    register(Manifold)
