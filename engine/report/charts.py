"""Charts of a backtest as PNG images (matplotlib, Agg canvas, no display needed).

Every function returns a :class:`Chart`: the PNG bytes and the title, so the HTML report can embed
it as a ``data:`` URI with a text alternative. Figures are drawn on a private ``Figure`` with an Agg
canvas, so the global matplotlib backend is never touched.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Collection, Mapping, Sequence

import attrs
import numpy as np
import pandas as pd

from ..errors import DataError

DPI = 96


@attrs.frozen
class Chart:
    """A rendered chart.

    Attributes
    ----------
    title
        The chart's title (also used as the image's alt text in HTML).
    png
        PNG bytes.
    problems
        What the figure lacks among a title, axis labels and a legend on every plotting axes
        (empty for every chart of this module; the tests check it).
    """

    title: str
    png: bytes
    problems: tuple[str, ...] = ()

    def data_uri(self) -> str:
        """The image as a ``data:image/png;base64,...`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def chart(draw):
    """Decorator of every chart function: text is drawn literally, never as TeX.

    Series, asset and driver names come from users' files; matplotlib would parse a name
    between two ``$`` as mathtext and fail on ``$\\undefinedmacro{$`` or ``$X000_{$`` (or
    silently typeset ``$x_1$``). Drawing (and saving) inside ``text.parse_math = False`` keeps
    every title, label, tick label, legend entry and annotation as written.
    """
    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return draw(*args, **kwargs)

    drawn.literal_text = True  # type: ignore[attr-defined]
    return drawn


def _figure(width: float = 9.0, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def figure_problems(fig) -> tuple[str, ...]:
    """What the plotting axes of a figure lack: a title (or the figure's suptitle), axis labels,
    a legend. Bars named by their tick labels (``categorical`` axes) and images with a labelled
    colour bar need no legend."""
    out = []
    sup = fig._suptitle.get_text() if fig._suptitle is not None else ""  # noqa: SLF001
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    for k, ax in enumerate(a for a in fig.axes if a.get_label() != "<colorbar>"):
        if not (ax.get_title() or sup):
            out.append(f"axes {k}: no title")
        if not ax.get_xlabel():
            out.append(f"axes {k}: no x label")
        if not (ax.get_ylabel() or getattr(ax, "categorical", False)):
            out.append(f"axes {k}: no y label")
        if ax.get_legend() is None and not bars and not getattr(ax, "categorical", False):
            out.append(f"axes {k}: no legend")
    out += [f"colour bar {k}: no label" for k, b in enumerate(bars) if not b.get_ylabel()]
    return tuple(out)


def _render(fig, title: str) -> Chart:
    problems = figure_problems(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return Chart(title=title, png=buf.getvalue(), problems=problems)


def _colors(n: int) -> list:
    """n distinct colours: tab10 up to 10, tab20 up to 20, then a continuous map."""
    from matplotlib import colormaps

    if n <= 10:
        return [f"C{i}" for i in range(n)]
    cmap = colormaps["tab20" if n <= 20 else "turbo"]
    return [cmap(i / max(n - 1, 1)) if n > 20 else cmap(i) for i in range(n)]


def _short(label: str, width: int = 48) -> str:
    return label if len(label) <= width else label[: width - 1] + "\u2026"


def _series_legend(ax, n: int) -> None:
    """Legend inside for a few series, outside on the right for many (it would hide lines)."""
    if n <= 4:
        ax.legend(fontsize=8, loc="best")
    else:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


# --- performance ------------------------------------------------------------------------------


@chart
def nav_chart(nav: pd.DataFrame, title: str = "Net asset value (start = 100)", *,
              ylabel: str = "NAV", xlabel: str = "date", marker: str | None = None) -> Chart:
    """One line per column of ``nav`` against its date index (NAV, or any series over dates:
    relative NAV, turnover per rebalance)."""
    fig = _figure(9.0 if nav.shape[1] <= 4 else 11.0, 4.2)
    ax = fig.add_subplot()
    for col in nav.columns:
        ax.plot(nav.index, nav[col].to_numpy(float), lw=1.3, label=_short(str(col)),
                marker=marker, ms=4)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    _series_legend(ax, len(nav.columns))
    return _render(fig, title)


@chart
def rolling_chart(returns: pd.DataFrame, window: int, title: str,
                  periods_per_year: int = 252) -> Chart:
    """Rolling annualised Sharpe ratio (mean / std x sqrt(252), no risk-free rate) and rolling
    annualised volatility (%) over ``window`` days, one line per strategy, two panels."""
    fig = _figure(9.0 if returns.shape[1] <= 4 else 11.0, 5.6)
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2, sharex=None)
    roll = returns.rolling(window, min_periods=window)
    mean, std = roll.mean(), roll.std(ddof=1)
    sharpe = (mean / std.where(std > 0)) * np.sqrt(periods_per_year)
    vol = 100 * std * np.sqrt(periods_per_year)
    for col in returns.columns:
        top.plot(sharpe.index, sharpe[col].to_numpy(float), lw=1.2, label=_short(str(col)))
        bottom.plot(vol.index, vol[col].to_numpy(float), lw=1.2, label=_short(str(col)))
    top.axhline(0, color="k", lw=0.8)
    top.set_title(f"Sharpe ratio over the past {window} days")
    bottom.set_title(f"annualised volatility over the past {window} days")
    top.set_ylabel("Sharpe ratio")
    bottom.set_ylabel("volatility (%)")
    for ax in (top, bottom):
        ax.set_xlabel("date")
        ax.grid(alpha=0.3)
        _series_legend(ax, len(returns.columns))
    fig.suptitle(title)
    return _render(fig, title)


@chart
def heatmap_chart(frame: pd.DataFrame, title: str, label: str, *,
                  diverging: bool = False) -> Chart:
    """A dates x assets frame as a heatmap (assets down, dates across), in the frame's units.

    ``diverging`` centres a red-blue colour map on 0 (e.g. active weights: weight minus the
    benchmark's), else a sequential map from 0.
    """
    v = frame.to_numpy(float).T
    fig = _figure(9.0, max(2.6, 0.26 * frame.shape[1] + 1.6))
    ax = fig.add_subplot()
    finite = v[np.isfinite(v)]
    if diverging:
        lim = float(np.abs(finite).max()) if finite.size else 1.0
        im = ax.imshow(v, aspect="auto", cmap="RdBu_r", vmin=-(lim or 1.0), vmax=lim or 1.0,
                       interpolation="nearest")
    else:
        im = ax.imshow(v, aspect="auto", cmap="viridis", interpolation="nearest",
                       vmin=min(0.0, float(finite.min()) if finite.size else 0.0))
    ax.set_yticks(range(frame.shape[1]))
    ax.set_yticklabels([_short(str(c), 24) for c in frame.columns], fontsize=7)
    step = max(1, len(frame.index) // 12)
    ax.set_xticks(range(0, len(frame.index), step))
    ax.set_xticklabels([str(pd.Timestamp(d).date()) for d in frame.index[::step]], rotation=45,
                       ha="right", fontsize=7)
    ax.set_xlabel("rebalance date")
    ax.set_ylabel("asset")
    ax.set_title(title)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label(label)
    return _render(fig, title)


@chart
def drawdown_chart(nav: pd.DataFrame, title: str = "Drawdown from running peak") -> Chart:
    """Drawdown (NAV / running max - 1, in %) of every strategy."""
    from ..backtest.metrics import drawdown

    fig = _figure(9.0 if nav.shape[1] <= 4 else 11.0, 3.4)
    ax = fig.add_subplot()
    for col in nav.columns:
        dd = drawdown(nav[col].dropna())
        ax.plot(dd.index, 100 * dd.to_numpy(float), lw=1.1, label=_short(str(col)))
    ax.set_title(title)
    ax.set_xlabel("date")
    ax.set_ylabel("drawdown (%)")
    ax.grid(alpha=0.3)
    _series_legend(ax, len(nav.columns))
    return _render(fig, title)


@chart
def weights_chart(weights: pd.DataFrame, title: str) -> Chart:
    """Target weights at each rebalance (dates x assets) as a stacked area, in %."""
    w = weights.drop(columns=[c for c in ("turnover",) if c in weights.columns])
    fig = _figure(9.0, 4.2)
    ax = fig.add_subplot()
    x = w.index
    ys = 100 * w.to_numpy(float).T
    ax.stackplot(x, ys, labels=[str(c) for c in w.columns], step="post", alpha=0.9,
                 colors=_colors(len(w.columns)))
    ax.set_title(title)
    ax.set_xlabel("rebalance date")
    ax.set_ylabel("weight (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(w.columns)
              // 16)
    return _render(fig, title)


@chart
def metrics_chart(metrics: pd.DataFrame, title: str = "Return, volatility and Sharpe") -> Chart:
    """Bars of annual return, annual volatility (in %) and Sharpe ratio per strategy."""
    fig = _figure(9.0, 3.4)
    cols = [("annual_return", "annual return (%)", 100), ("annual_volatility",
            "annual volatility (%)", 100), ("sharpe", "Sharpe ratio", 1)]
    labels = [_short(str(s), 28) for s in metrics.index]
    for k, (col, name, scale) in enumerate(cols, start=1):
        ax = fig.add_subplot(1, 3, k)
        vals = scale * metrics[col].to_numpy(float) if col in metrics else np.full(len(labels),
                                                                                    np.nan)
        ax.barh(range(len(labels)), np.nan_to_num(vals), color=[f"C{i}" for i in
                                                                  range(len(labels))])
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels if k == 1 else [""] * len(labels), fontsize=7)
        ax.categorical = True  # bars named by the strategy labels of the first panel
        ax.set_xlabel(name)
        ax.set_title(name, fontsize=9)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    return _render(fig, title)


# --- drivers and the sensitivity space --------------------------------------------------------


@chart
def drivers_chart(selections: Mapping[pd.Timestamp, Mapping[str, float]], title: str) -> Chart:
    """Which candidates were selected at each update, coloured by their evidence.

    Parameters
    ----------
    selections
        Date -> {driver name: evidence score} (e.g. rccp's strength; any number).
    """
    dates = sorted(selections)
    names: list[str] = []
    for d in dates:
        for n in selections[d]:
            if n not in names:
                names.append(n)
    if not names:
        raise DataError("no driver selections to chart")
    grid = np.full((len(names), len(dates)), np.nan)
    for j, d in enumerate(dates):
        for n, v in selections[d].items():
            grid[names.index(n), j] = v
    fig = _figure(9.0, max(2.6, 0.28 * len(names) + 1.4))
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="viridis",
                   interpolation="nearest")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    step = max(1, len(dates) // 12)
    ax.set_xticks(range(0, len(dates), step))
    ax.set_xticklabels([str(pd.Timestamp(d).date()) for d in dates[::step]], rotation=45,
                       ha="right", fontsize=7)
    ax.set_xlabel("selection date")
    ax.set_ylabel("candidate driver")
    ax.set_title(title)
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("evidence (blank: not selected)")
    return _render(fig, title)


def classical_mds(distance: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) multidimensional scaling of a distance matrix.

    Double-centres B = -J D^2 J / 2 and keeps the top ``dims`` eigenvectors scaled by the square
    roots of their eigenvalues; negative eigenvalues (a non-Euclidean D) are clipped to 0, so
    those coordinates are 0. For Euclidean distances between points in ``dims`` dimensions it
    recovers the points up to rotation, reflection and translation.

    Parameters
    ----------
    distance
        (N, N) symmetric distances.

    Returns
    -------
    (N, dims) coordinates, sign-normalised (largest |entry| of each axis positive).
    """
    d = np.asarray(distance, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise DataError(f"MDS needs a square distance matrix, got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise DataError("MDS needs a finite distance matrix")
    n = d.shape[0]
    d = 0.5 * (d + d.T)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    vals, vecs = np.linalg.eigh(b)
    idx = np.argsort(vals)[::-1][:dims]
    coords = vecs[:, idx] * np.sqrt(np.clip(vals[idx], 0.0, None))
    if coords.shape[1] < dims:
        coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
    for k in range(dims):
        col = coords[:, k]
        if col[np.argmax(np.abs(col))] < 0:
            coords[:, k] = -col
    return coords


@chart
def sensitivity_map(distance: np.ndarray, assets: Sequence[str], title: str,
                    weights: Sequence[float] | None = None) -> Chart:
    """2-D map of the sensitivity space: classical MDS of the distance matrix.

    Marker area is proportional to the asset's weight when ``weights`` are given.
    """
    xy = classical_mds(distance, 2)
    fig = _figure(8.0, 5.0)
    ax = fig.add_subplot()
    size = (np.asarray(weights, float) * 2500 + 10) if weights is not None else 60
    ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6, c="C0", edgecolors="k",
               label="asset (area = weight)" if weights is not None else "asset")
    ax.set_xlabel("MDS axis 1 (sensitivity units)")
    ax.set_ylabel("MDS axis 2 (sensitivity units)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              markerscale=0.5)
    fig.tight_layout()
    radius = np.sqrt(np.broadcast_to(np.asarray(size, float), (len(xy),))) / 2  # points
    for (x, y), name, (dx, dy) in zip(xy, assets, label_offsets(ax, xy, assets, radius),
                                      strict=True):
        ax.annotate(str(name), (x, y), fontsize=8, xytext=(dx, dy), textcoords="offset points",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5"}
                    if abs(dy) > 8 else None)
    return _render(fig, title)


def label_offsets(ax, xy: np.ndarray, names: Sequence[str],
                  radius: Sequence[float] | None = None, fontsize: float = 8.0
                  ) -> list[tuple[float, float]]:
    """Offsets (points) of point labels that overlap neither each other nor the markers: each
    label starts just right of its marker (``radius`` in points) and moves up (then down) in
    steps of a line until its box (estimated from the number of characters) is clear of every
    marker and of the labels placed before it."""
    pix = ax.transData.transform(np.asarray(xy, float))
    scale = ax.figure.dpi / 72.0
    h = 1.25 * fontsize * scale
    rad = np.zeros(len(pix)) if radius is None else np.asarray(radius, float)
    # the markers first: a label covers neither another label nor another point
    placed = [(px - r * scale, py - r * scale, px + r * scale, py + r * scale)
              for (px, py), r in zip(pix, rad, strict=True)]
    out = [(0.0, 0.0)] * len(pix)
    order = sorted(range(len(pix)), key=lambda i: (pix[i][1], pix[i][0]))
    for i in order:
        (px, py), name = pix[i], names[i]
        w = 0.62 * fontsize * scale * len(str(name))
        x0 = px + (rad[i] + 2) * scale
        for step in [0, *[s for k in range(1, 12) for s in (k, -k)]]:
            y0 = py - h / 2 + step * h
            box = (x0, y0, x0 + w, y0 + h)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3]
                   for b in placed):
                break
        placed.append(box)
        out[i] = ((box[0] - px) / scale, (box[1] - py) / scale)
    return out


@chart
def dendrogram_chart(linkage: np.ndarray, assets: Sequence[str], title: str) -> Chart:
    """The cluster tree (scipy linkage matrix) with asset labels."""
    from scipy.cluster.hierarchy import dendrogram

    fig = _figure(7.5, 4.0)
    ax = fig.add_subplot()
    dendrogram(np.asarray(linkage, float), labels=[str(a) for a in assets], ax=ax,
               leaf_rotation=90, leaf_font_size=8, color_threshold=0)
    ax.set_xlabel("asset (quasi-diagonal order)")
    ax.set_ylabel("linkage distance")
    ax.set_title(title)
    ax.plot([], [], color="C0", label="merge")
    ax.legend(fontsize=8, loc="upper right")
    return _render(fig, title)


@chart
def forecast_paths_chart(paths: np.ndarray, assets: Sequence[str], inputs: Sequence[str],
                         title: str, *, n_assets: int = 4, input_index: int = 0) -> Chart:
    """Forecast sensitivity paths of one input for a few assets: mean and 5-95% band.

    Parameters
    ----------
    paths
        (n_paths, H, N, P) simulated sensitivities (return per unit driver return).
    """
    p = np.asarray(paths, dtype=float)
    if p.ndim != 4:
        raise DataError(f"forecast paths must have shape (n_paths, H, N, P), got {p.shape}")
    h = np.arange(1, p.shape[1] + 1)
    fig = _figure(9.0, 3.6)
    ax = fig.add_subplot()
    for i in range(min(n_assets, p.shape[2])):
        s = p[:, :, i, input_index]
        lo, hi = np.nanpercentile(s, [5, 95], axis=0)
        ax.fill_between(h, lo, hi, color=f"C{i}", alpha=0.15)
        ax.plot(h, np.nanmean(s, axis=0), color=f"C{i}", lw=1.4,
                label=f"{assets[i]} (mean, 5-95% band)")
    ax.set_xlabel("days ahead")
    ax.set_ylabel(f"sensitivity to {inputs[input_index]}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _render(fig, title)


@chart
def attribution_chart(frame: pd.DataFrame, title: str, ylabel: str) -> Chart:
    """Per-driver attribution at each rebalance (dates x drivers) as stacked signed bars."""
    fig = _figure(9.0, 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(frame.index))
    pos = np.zeros(len(x))
    neg = np.zeros(len(x))
    colors = _colors(len(frame.columns))
    for k, col in enumerate(frame.columns):
        v = np.nan_to_num(frame[col].to_numpy(float))
        base = np.where(v >= 0, pos, neg)
        ax.bar(x, v, bottom=base, color=colors[k], label=str(col), width=0.8)
        pos += np.where(v >= 0, v, 0)
        neg += np.where(v < 0, v, 0)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(pd.Timestamp(d).date()) for d in frame.index[::step]], rotation=45,
                       ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("rebalance date")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
              ncol=1 + len(frame.columns) // 18)
    return _render(fig, title)


@chart
def bar_chart(values: pd.Series, title: str, xlabel: str, *,
              highlight: Collection[str] = (), zoom: bool = False) -> Chart:
    """Horizontal bars of one number per label (ablation summaries); labels in ``highlight``
    (e.g. benchmarks) are drawn in red. With ``zoom``, positive values that differ by less than
    a third of the largest get an axis that starts near the smallest (and says so)."""
    from matplotlib.patches import Patch

    fig = _figure(8.0, max(2.4, 0.32 * len(values) + 1.2))
    ax = fig.add_subplot()
    labels = [_short(str(i), 60) for i in values.index]
    marked = {str(h) for h in highlight}
    colors = ["C3" if str(i) in marked else "C0" for i in values.index]
    ax.barh(range(len(values)), np.nan_to_num(values.to_numpy(float)), color=colors)
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.categorical = True  # one bar per named label
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.8)
    v = values.to_numpy(float)
    v = v[np.isfinite(v)]
    if zoom and len(v) and v.min() > 0 and (v.max() - v.min()) < v.max() / 3:
        span = v.max() - v.min() or v.max() * 0.05
        ax.set_xlim(v.min() - 0.5 * span, v.max() + 0.1 * span)
        xlabel = f"{xlabel} (axis not from 0)"
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color="C0", label=xlabel)]
    if marked & {str(i) for i in values.index}:
        handles = [Patch(color="C0", label="pipeline"), Patch(color="C3", label="benchmark")]
    ax.legend(handles=handles, fontsize=8, loc="best")
    return _render(fig, title)


@chart
def forest_chart(frame: pd.DataFrame, title: str, xlabel: str, *,
                 marked: Collection[str] = ()) -> Chart:
    """Differences with their intervals, one row per label (a forest plot).

    Parameters
    ----------
    frame
        Columns ``label``, ``diff``, ``ci_low``, ``ci_high``; rows drawn top to bottom. Rows
        without an interval show the point only.
    marked
        Labels drawn as filled squares (e.g. members of the model confidence set); the others
        as open circles.
    """
    from matplotlib.lines import Line2D

    n = len(frame)
    fig = _figure(10.0, max(2.4, 0.32 * n + 1.4))
    ax = fig.add_subplot()
    y = np.arange(n)
    d = frame["diff"].to_numpy(float)
    lo, hi = frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float)
    has = np.isfinite(lo) & np.isfinite(hi)
    sig = has & ((lo > 0) | (hi < 0))
    for i in np.flatnonzero(has):
        ax.plot([lo[i], hi[i]], [y[i], y[i]], color="C3" if sig[i] else "C0", lw=2)
    names = [str(v) for v in frame["label"]]
    inset = np.array([nm in set(marked) for nm in names], dtype=bool)
    ax.scatter(d[inset], y[inset], marker="s", color="k", zorder=3, s=28)
    ax.scatter(d[~inset], y[~inset], marker="o", facecolors="white", edgecolors="k", zorder=3,
               s=28)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([_short(nm, 60) for nm in names], fontsize=7)
    ax.categorical = True
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color="C0", lw=2, label="95% interval includes 0"),
               Line2D([], [], color="C3", lw=2, label="95% interval excludes 0")]
    if len(marked):
        handles += [Line2D([], [], marker="s", color="k", ls="", label="in the confidence set"),
                    Line2D([], [], marker="o", markerfacecolor="white", color="k", ls="",
                           label="not in the set")]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0)
    return _render(fig, title)
