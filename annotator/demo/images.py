"""Drawing the demo's images: scenes of figures whose faces carry the emotion cue.

Pure (NumPy + Pillow). `annotator.demo.items` decides what each image shows;
this module only draws it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

# Face groups (see the package docstring): each narrows the emotion to a pair.
FACES: tuple[str, ...] = ("soft", "tense", "downcast")
SCENES: tuple[str, ...] = ("portrait", "couple", "adult_child", "group", "nature")

# Background colours per face group (soft, tense, downcast): bright, dark, cool. Within a group
# the colour is random, so it never tells the two emotions of the group apart.
_PALETTES: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((250, 200, 60), (245, 150, 60), (240, 140, 170)),
    ((150, 35, 35), (70, 30, 80), (45, 45, 55)),
    ((70, 100, 150), (110, 120, 70), (120, 135, 130)),
)
_SKINS = ((255, 224, 189), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36))
_CLOTHES = ((60, 60, 70), (90, 70, 50), (40, 70, 90), (110, 110, 120), (70, 90, 60), (120, 80, 90))
_INK = (25, 20, 20)


def render_images(n, scene, face, palette, missing, *, seed, size, fmt, pool) -> list[bytes | None]:
    """One encoded image per item (None where `missing`); with `pool`, k variants per cue combination are reused."""
    images: list[bytes | None] = [None] * n
    if pool is None:
        for i in np.flatnonzero(~missing):
            rng = np.random.default_rng([seed, int(i), 1])
            images[i] = draw_image(int(scene[i]), int(face[i]), int(palette[i]), rng, size=size, fmt=fmt)
        return images
    if pool < 1:
        raise ValueError("image_pool must be >= 1")
    # Key on the palette too, so items with misleading colours keep them.
    cache: dict[tuple[int, int, int, int], bytes] = {}
    variant = np.random.default_rng([seed, 2]).integers(0, pool, size=n)
    for i in np.flatnonzero(~missing):
        key = (int(scene[i]), int(face[i]), int(palette[i]), int(variant[i]))
        if key not in cache:
            rng = np.random.default_rng([seed, *key, 3])
            cache[key] = draw_image(*key[:3], rng, size=size, fmt=fmt)
        images[i] = cache[key]
    return images


def draw_image(
    scene: int, face: int, palette: int, rng: np.random.Generator, *, size: int = 256, fmt: str = "JPEG"
) -> bytes:
    """Draw one image and return it encoded as ``fmt``.

    ``scene`` indexes SCENES; ``face`` and ``palette`` index FACES. Drawing happens on a 256 canvas
    that is resized to ``size``, and the cues stay within pixels 22-234, so a 224 centre crop
    keeps them.
    """
    canvas = 256
    choices = _PALETTES[palette]
    base = np.array(choices[rng.integers(len(choices))], dtype=np.float64)
    base = np.clip(base + rng.normal(0, 12, 3), 0, 255)
    # Vertical gradient: the bottom is 15-35% darker than the top.
    shade = 1.0 - rng.uniform(0.15, 0.35) * np.linspace(0, 1, canvas)[:, None, None]
    background = np.broadcast_to(base * shade, (canvas, canvas, 3)).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(background), "RGB")
    draw = ImageDraw.Draw(img)

    for _ in range(rng.integers(1, 4)):  # clutter: a few muted squares near the corners
        x, y = rng.integers(0, 60, 2) + rng.choice([0, 196], 2)
        r = int(rng.integers(6, 14))
        colour = tuple(int(c) for c in np.clip(base * rng.uniform(0.6, 1.3), 0, 255))
        draw.rectangle([x - r, y - r, x + r, y + r], fill=colour)

    # One face style per image, so every figure in it shows the same expression.
    style = int(rng.integers(2))

    def jitter(v: float, amount: float = 6) -> float:
        return v + float(rng.uniform(-amount, amount))

    def figure(cx: float, cy: float, r: float) -> None:
        skin = _SKINS[rng.integers(len(_SKINS))]
        clothes = _CLOTHES[rng.integers(len(_CLOTHES))]
        top, bottom = cy + 0.8 * r, max(cy + 1.6 * r, min(cy + 4.2 * r, 236))
        draw.rounded_rectangle([cx - 1.4 * r, top, cx + 1.4 * r, bottom], radius=0.7 * r, fill=clothes)
        _draw_face(draw, cx, cy, r, face, style, skin)

    name = SCENES[scene]
    if name == "portrait":
        figure(jitter(128, 10), jitter(105, 8), jitter(56, 4))
    elif name == "couple":
        y = jitter(118)
        figure(jitter(80), y, jitter(32, 2))
        figure(jitter(176), y, jitter(32, 2))
        _draw_heart(draw, jitter(128), jitter(62), jitter(24, 3))
    elif name == "adult_child":
        figure(jitter(88), jitter(80), jitter(34, 2))
        figure(jitter(178), jitter(150), jitter(21, 2))
    elif name == "group":
        y = jitter(112)
        for x in (52, 101, 150, 199):
            figure(jitter(x, 3), jitter(y, 4), jitter(21, 1.5))
    else:  # nature: sun, hills, water, one figure
        draw.ellipse(_box(jitter(190), jitter(58), 22), fill=(250, 240, 190))
        draw.ellipse([-40, jitter(160), 180, 360], fill=(60, 130, 60))
        draw.ellipse([90, jitter(175), 320, 380], fill=(40, 105, 50))
        draw.rectangle([0, 216, 256, 256], fill=(60, 120, 170))
        figure(jitter(96), jitter(128), jitter(26, 2))

    pixels = np.asarray(img, dtype=np.int16) + rng.normal(0, 7, (canvas, canvas, 3)).astype(np.int16)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if size != canvas:
        img = img.resize((size, size), Image.BILINEAR)
    out = io.BytesIO()
    img.save(out, format=fmt, **({"quality": 88} if fmt.upper() in ("JPEG", "JPG", "WEBP") else {}))
    return out.getvalue()


def _box(cx: float, cy: float, r: float) -> list[float]:
    return [cx - r, cy - r, cx + r, cy + r]


def _draw_heart(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    red = (225, 30, 70)
    draw.ellipse(_box(cx - r / 2, cy, r / 2 + 1), fill=red)
    draw.ellipse(_box(cx + r / 2, cy, r / 2 + 1), fill=red)
    draw.polygon([(cx - r, cy + r * 0.15), (cx + r, cy + r * 0.15), (cx, cy + r * 1.2)], fill=red)


def _draw_face(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, face: int, style: int, skin) -> None:
    """A head drawn bold enough to read at small sizes; ``style`` (0 or 1) varies the details.

    soft: calm eyes, gentle brows, a slight smile or a straight mouth (content or neutral).
    tense: wide eyes, brows pulled down or raised, bared teeth or an open mouth (anger or fear).
    downcast: heavy lids, a turned-down or twisted mouth (sorrow or disgust). Style is drawn at
    random, so it doesn't tell the two emotions of a face apart either.
    """
    key = FACES[face]
    w = max(2, round(r / 9))
    draw.ellipse(_box(cx, cy, r), fill=skin, outline=_INK, width=max(1, w // 2))
    ex, ey, er = 0.38 * r, cy - 0.12 * r, max(2.0, 0.10 * r)
    by = ey - 0.30 * r  # brow height
    for side in (-1, 1):
        x = cx + side * ex
        inner, outer = x - side * 0.18 * r, x + side * 0.18 * r
        if key == "soft":
            draw.ellipse(_box(x, ey, er), fill=_INK)
            brow = [min(inner, outer), by - 0.08 * r, max(inner, outer), by + 0.12 * r]
            draw.arc(brow, 200, 340, fill=_INK, width=w)
        elif key == "tense":  # wide eyes; brows in a V (style 0) or raised high (style 1)
            draw.ellipse(_box(x, ey, er * 1.8), fill=(255, 255, 255), outline=_INK, width=max(1, w // 2))
            draw.ellipse(_box(x, ey, er * 0.7), fill=_INK)
            if style == 0:
                draw.line([(inner, by + 0.12 * r), (outer, by - 0.12 * r)], fill=_INK, width=w + 1)
            else:
                draw.line([(inner, by - 0.22 * r), (outer, by - 0.14 * r)], fill=_INK, width=w + 1)
        else:  # downcast: heavy lids, inner brow ends raised (style 0) or one brow lowered
            draw.chord(_box(x, ey, er * 1.3), 0, 180, fill=_INK)
            if style == 0:
                draw.line([(inner, by - 0.12 * r), (outer, by + 0.08 * r)], fill=_INK, width=w)
            else:
                dy = 0.10 * r if side < 0 else 0.0
                draw.line([(inner, by + dy), (outer, by + dy)], fill=_INK, width=w)

    my, mw = cy + 0.45 * r, 0.40 * r
    if key == "soft":
        if style == 0:
            draw.arc([cx - mw, my - 0.25 * r, cx + mw, my + 0.12 * r], 20, 160, fill=_INK, width=w)
        else:
            draw.line([(cx - mw * 0.8, my), (cx + mw * 0.8, my)], fill=_INK, width=w)
    elif key == "tense":
        if style == 0:  # bared teeth
            teeth = [cx - mw, my - 0.06 * r, cx + mw, my + 0.14 * r]
            draw.rectangle(teeth, fill=(255, 255, 255), outline=_INK, width=w)
        else:
            draw.ellipse([cx - 0.20 * r, my - 0.14 * r, cx + 0.20 * r, my + 0.28 * r], fill=_INK)
    elif style == 0:  # turned down
        draw.arc([cx - mw, my - 0.02 * r, cx + mw, my + 0.45 * r], 200, 340, fill=_INK, width=w + 1)
    else:  # twisted
        xs = np.linspace(cx - mw, cx + mw, 7)
        zigzag = [(float(x), my + (0.08 * r if k % 2 else -0.06 * r)) for k, x in enumerate(xs)]
        draw.line(zigzag, fill=_INK, width=w)
