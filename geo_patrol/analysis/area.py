"""Area coverage: the share of each area's ground within ``R`` of a patrol path.

The paths are drawn into a grid of ``cell`` metres (every step sampled at least once per
cell), a Euclidean distance transform (scipy) gives each cell's distance to the nearest
path, and the cells of each area (their centres inside its polygon) are counted.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage

from geo_patrol.analysis.paths import Steps


def area_coverage(areas_m: np.ndarray, steps: Steps, *, radius: float, cell: float = 5.0
                  ) -> np.ndarray:
    """For each polygon (metric CRS) the share of its area within ``radius`` of the steps."""
    out = np.zeros(len(areas_m))
    if not len(areas_m) or not len(steps):
        return out
    x0, y0, x1, y1 = shapely.total_bounds(areas_m)
    pad = radius + cell
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    nx, ny = int(np.ceil((x1 - x0) / cell)), int(np.ceil((y1 - y0) / cell))
    # sample every step at least once per half cell
    length = np.hypot(steps.bx - steps.ax, steps.by - steps.ay)
    n = np.maximum(np.ceil(length / (cell / 2)).astype("int64"), 1) + 1
    idx = np.repeat(np.arange(len(steps)), n)
    frac = (np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n) \
        .clip(min=1)
    px = steps.ax[idx] + frac * (steps.bx - steps.ax)[idx]
    py = steps.ay[idx] + frac * (steps.by - steps.ay)[idx]
    ix = np.floor((px - x0) / cell).astype("int64")
    iy = np.floor((py - y0) / cell).astype("int64")
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    free = np.ones((ny, nx), dtype=bool)
    free[iy[inside], ix[inside]] = False
    near = ndimage.distance_transform_edt(free, sampling=cell) <= radius
    for i, poly in enumerate(areas_m):  # hundreds of areas: the cells are vectorised
        bx0, by0, bx1, by1 = poly.bounds
        c0, c1 = int((bx0 - x0) // cell), int(np.ceil((bx1 - x0) / cell))
        r0, r1 = int((by0 - y0) // cell), int(np.ceil((by1 - y0) / cell))
        cx = x0 + (np.arange(c0, c1) + 0.5) * cell
        cy = y0 + (np.arange(r0, r1) + 0.5) * cell
        gx, gy = np.meshgrid(cx, cy)
        mask = shapely.contains_xy(poly, gx, gy)
        total = mask.sum()
        out[i] = near[r0:r1, c0:c1][mask].sum() / total if total else 0.0
    return out
