"""A figure of Hagen et al. (2022) assembled from the run's own figures
(``hpckernels paper-figure``): the panels side by side with their letters, under the
paper figure's title."""

from __future__ import annotations

import math
from pathlib import Path

from .common import finish, pyplot


def panel_provenance(path):
    """The PNG text metadata of a figure of hpckernels ({} for any other PNG).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str
    """
    from PIL import Image

    with Image.open(path) as image:
        if image.format != "PNG":
            return {}
        info = dict(getattr(image, "text", {}) or {})
    return info if info.get("Software") == "hpckernels" else {}


def paper_figure(panels, title, output, config_hash):
    """Draw the panels (PNG files) in a grid of at most two columns, lettered A, B, ...

    Parameters
    ----------
    panels : sequence of Path
        The run's figures, in panel order.
    title : str
        The paper figure's title (printed above the panels).
    output : Path
        PNG file.
    config_hash : str
        Hash of the config the panels were made from (the figure's provenance).

    Returns
    -------
    Path
    """
    plt = pyplot()
    images = [plt.imread(str(panel)) for panel in panels]
    columns = 1 if len(images) == 1 else 2
    rows = math.ceil(len(images) / columns)
    # each row as tall as its tallest panel (height / width) at 7 inches per column
    aspects = [image.shape[0] / image.shape[1] for image in images]
    heights = [max(aspects[r * columns : (r + 1) * columns]) for r in range(rows)]
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(7.0 * columns, 7.0 * sum(heights) + 0.6),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": heights},
    )
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= len(images):
            continue
        ax.imshow(images[index])
        ax.set_title(chr(ord("A") + index), loc="left", fontweight="bold", fontsize=14)
    fig.suptitle(title, fontsize=12)
    infos = {"": {"config_hash": config_hash}}
    return finish(fig, output, title, [Path(p).name for p in panels], infos)
