"""Area coverage: the share of each area's ground within ``R`` of a patrol path.

The paths are drawn into a grid of ``cell`` metres (every step sampled once per cell
length), a Euclidean distance transform (scipy) gives each cell's distance to the nearest
path, and the cells of each area (their centres inside its polygon) are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage

from geo_patrol.analysis.paths import Steps


_CHUNK = 1_000_000


def _mark(free: np.ndarray, steps: Steps, part: slice, x0: float, y0: float,
          cell: float) -> None:
    """Clear the cells the steps in ``part`` pass through (sampled once per cell length)."""
    ax = ((steps.ax[part] - x0) / cell).astype("float32")
    ay = ((steps.ay[part] - y0) / cell).astype("float32")
    dx = ((steps.bx[part] - x0) / cell).astype("float32") - ax
    dy = ((steps.by[part] - y0) / cell).astype("float32") - ay
    n = (np.ceil(np.hypot(dx, dy)).astype("int32") + 1)
    starts = np.cumsum(n) - n
    idx = np.repeat(np.arange(len(n), dtype="int32"), n)
    frac = (np.arange(len(idx), dtype="int32") - starts[idx]).astype("float32") / \
        np.maximum(n - 1, 1).astype("float32")[idx]
    ix = (ax[idx] + frac * dx[idx]).astype("int32")
    iy = (ay[idx] + frac * dy[idx]).astype("int32")
    ny, nx = free.shape
    ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    free[iy[ok], ix[ok]] = False


@dataclass(frozen=True)
class Grid:
    """The cells the areas' ground is counted in: origin, cell size and shape."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    @classmethod
    def around(cls, areas_m: np.ndarray, radius: float, cell: float = 5.0) -> Grid:
        x0, y0, x1, y1 = shapely.total_bounds(areas_m)
        pad = radius + cell
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        return cls(float(x0), float(y0), cell, int(np.ceil((x1 - x0) / cell)),
                   int(np.ceil((y1 - y0) / cell)))


def path_cells(grid: Grid, steps: Steps) -> np.ndarray:
    """Flat indices (sorted) of the grid cells the steps pass through; the cells of several
    step sets (days) unite into those of all their steps."""
    free = np.ones((grid.ny, grid.nx), dtype=bool)
    for lo in range(0, len(steps), _CHUNK):
        _mark(free, steps, slice(lo, lo + _CHUNK), grid.x0, grid.y0, grid.cell)
    return np.flatnonzero(~free)


def shares_near(areas_m: np.ndarray, grid: Grid, cells: np.ndarray, *, radius: float
                ) -> np.ndarray:
    """For each polygon the share of its area within ``radius`` of the path ``cells``."""
    out = np.zeros(len(areas_m))
    if not len(areas_m) or not len(cells):
        return out
    x0, y0, cell = grid.x0, grid.y0, grid.cell
    free = np.ones(grid.ny * grid.nx, dtype=bool)
    free[cells] = False
    near = ndimage.distance_transform_edt(free.reshape(grid.ny, grid.nx),
                                          sampling=cell) <= radius
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


def area_coverage(areas_m: np.ndarray, steps: Steps, *, radius: float, cell: float = 5.0
                  ) -> np.ndarray:
    """For each polygon (metric CRS) the share of its area within ``radius`` of the steps."""
    if not len(areas_m) or not len(steps):
        return np.zeros(len(areas_m))
    grid = Grid.around(areas_m, radius, cell)
    return shares_near(areas_m, grid, path_cells(grid, steps), radius=radius)
