"""Draw the application icon: a descending dose staircase (the taper) on a rounded tile.

Run from the repository root with the project's environment; it rewrites the committed
files in resources/icons/:

    .venv/bin/python tools/make_icon.py

taper-app.png (512 px, for the window and Linux), taper-app.ico (16-256 px, Windows
program icon) and taper-app.icns (macOS bundle icon). Uses matplotlib's Agg renderer and
Pillow, both already installed with matplotlib.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure  # a bare Figure saves through Agg; no GUI backend
from matplotlib.patches import FancyBboxPatch
from PIL import Image

HERE = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 512
TILE = "#1f5f8b"  # deep blue
STEP = "#ffffff"
TARGET = "#f2b134"  # amber: the target dose


def draw(size: int = SIZE) -> Image.Image:
    fig = Figure(figsize=(1, 1), dpi=size)
    fig.patch.set_alpha(0)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    ax.add_patch(FancyBboxPatch((0.06, 0.06), 0.88, 0.88,
                                boxstyle="round,pad=0,rounding_size=0.18",
                                facecolor=TILE, edgecolor="none"))
    # A taper: a high starting dose, then steps down to a low maintenance dose.
    xs = [0.18, 0.36, 0.36, 0.52, 0.52, 0.66, 0.66, 0.82]
    ys = [0.76, 0.76, 0.56, 0.56, 0.42, 0.42, 0.32, 0.32]
    # Line widths in points: the figure is one inch wide, so 72 points span the icon.
    ax.plot(xs, ys, color=STEP, linewidth=72 * 0.075, solid_capstyle="round",
            solid_joinstyle="round")
    ax.plot([0.18, 0.82], [0.22, 0.22], color=TARGET, linewidth=72 * 0.045,
            solid_capstyle="round")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=size, transparent=True)
    buffer.seek(0)
    return Image.open(buffer).convert("RGBA")


def main() -> None:
    image = draw()
    image.save(HERE / "taper-app.png", optimize=True)
    image.save(HERE / "taper-app.ico",
               sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    image.save(HERE / "taper-app.icns")
    for name in ("taper-app.png", "taper-app.ico", "taper-app.icns"):
        print(f"wrote {HERE / name} ({(HERE / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
