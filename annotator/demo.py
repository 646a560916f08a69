"""Synthetic MSED-style demo data: text-image items, annotator votes, inference orders, durations.

Pure module (NumPy + Pillow, no Django). ``manage.py seed_demo``, tests and benchmarks all use it.

How the labels are built, and why fusing the two modalities beats either one alone
----------------------------------------------------------------------------------
Each item has a true desire and emotion; sentiment follows from emotion as in MSED Table 4
(happiness = positive, neutral = neutral, sad/disgust/anger/fear = negative). Both labels are
written partly into the text and partly into the image, so that for every task each modality
gives some of the answer and only the two together give all of it:

* **Desire.** The text carries an intent cue: ``together`` (spending time with loved ones),
  ``explore``, ``revenge``, ``calm`` or ``describe`` (a plain photo description). The image carries
  a scene: ``portrait``, ``couple`` (two figures and a heart), ``adult_child``, ``group`` (four
  figures) or ``nature`` (hills, sun, one figure). Curiosity and vengeance are read from the text;
  ``together`` is family, romance or social contact depending on the scene; ``calm`` is
  tranquility only in a nature scene, otherwise none (MSED Fig. 3 shows none and tranquility are
  often confused); ``describe`` is none whatever the scene, so a couple photo alone doesn't
  mean romance.
* **Emotion and sentiment.** The image shows faces of one of three kinds, on a background
  from a matching set of colours: ``soft`` (happiness or neutral, bright colours), ``tense``
  (fear or anger, dark colours) and ``downcast`` (sad or disgust, cool colours). One image in ten
  has colours from another set, but the faces are always right. Every text has a tone phrase:
  ``excited`` (breathless, trembling: happiness or fear), ``low`` (quiet, tired: neutral or sad)
  or ``hostile`` (fed up, had enough: anger or disgust). Each face/tone pair shares exactly one
  emotion, so the emotion needs both. So does the sentiment: an excited text can be positive or
  negative, and a soft face positive or neutral. These pairs copy the confusions MSED Fig. 3
  reports (neutral vs happiness, neutral vs sad) and the ambiguity of intense faces.

Text and image never contradict each other about the emotion. Each narrows the label, and the
label is the one both allow. The *conflict* items are the desire cases where the image suggests
a desire (couple, family, group or nature scene) but the text is a plain description or a calm
remark without a nature scene, so the gold is none. Every rule is an AND or an OR of one text cue
and one image cue, so a linear classifier on concatenated features can learn it. Nothing needs
an XOR-style interaction such as "negation flips the face". Titles are random and carry no
information. (An earlier version in which a named emotion overrode the face turned out fragile:
with sentence and CNN embeddings, a fused classifier barely beat text alone.)

Votes are simulated separately (`simulate_votes`). Each annotator has an error rate, and errors
go to the confusions MSED Fig. 3 reports (none and tranquility, neutral and positive/negative,
neutral and happiness/sad), so Fleiss' kappa is about 0.5-0.7 per task, as in MSED section 3.4.

Sizes: 600 items with images take about 2 s. For benchmarks up to 200k items use
``with_images=False`` (a few seconds), or ``image_pool=k``, which reuses k drawings for each
(scene, face, colours) combination. `simulate_votes` for 200k items x 5 annotators takes well under a
second.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

# --------------------------------------------------------------------------- schema


class LabelSpec(NamedTuple):
    key: str
    name: str
    description: str


class TaskSpec(NamedTuple):
    key: str
    name: str
    labels: tuple[LabelSpec, ...]


# Task and label order follows MSED (section 3.2, Table 4). Desire descriptions are Table 3.
MSED_SCHEMA: tuple[TaskSpec, ...] = (
    TaskSpec(
        "desire",
        "Desire",
        (
            LabelSpec("vengeance", "Vengeance", "The need to strike back against another person."),
            LabelSpec("curiosity", "Curiosity", "The wish to gain knowledge or explore the unexpected."),
            LabelSpec(
                "social-contact",
                "Social-contact",
                "The need to communicate, converse and establish a relationship with others.",
            ),
            LabelSpec("family", "Family", "The need to take care of one's offspring."),
            LabelSpec("tranquility", "Tranquility", "The wish to be secure, protected or company."),
            LabelSpec("romance", "Romance", "A feeling of excitement and mystery associated with love."),
            LabelSpec("none", "None", "No desire expressed."),
        ),
    ),
    TaskSpec(
        "sentiment",
        "Sentiment",
        (
            LabelSpec("positive", "Positive", "The post expresses a favourable attitude or feeling."),
            LabelSpec("neutral", "Neutral", "The post expresses no clear positive or negative attitude."),
            LabelSpec("negative", "Negative", "The post expresses an unfavourable attitude or feeling."),
        ),
    ),
    TaskSpec(
        "emotion",
        "Emotion",
        (
            LabelSpec("happiness", "Happiness", "Joy, delight or contentment."),
            LabelSpec("sad", "Sad", "Sorrow, grief, loss or disappointment."),
            LabelSpec("neutral", "Neutral", "No particular emotion is shown."),
            LabelSpec("disgust", "Disgust", "Revulsion or strong disapproval of something offensive."),
            LabelSpec("anger", "Anger", "Rage, annoyance or hostility toward someone or something."),
            LabelSpec("fear", "Fear", "Being afraid, anxious or threatened."),
        ),
    ),
)

TASKS: tuple[str, ...] = tuple(task.key for task in MSED_SCHEMA)
LABEL_KEYS: dict[str, tuple[str, ...]] = {task.key: tuple(label.key for label in task.labels) for task in MSED_SCHEMA}
N_CATEGORIES: tuple[int, ...] = tuple(len(LABEL_KEYS[task]) for task in TASKS)
SPLITS: tuple[str, ...] = ("train", "dev", "test")

_D = {key: i for i, key in enumerate(LABEL_KEYS["desire"])}
_S = {key: i for i, key in enumerate(LABEL_KEYS["sentiment"])}
_E = {key: i for i, key in enumerate(LABEL_KEYS["emotion"])}

# --------------------------------------------------------------------------- label distribution

# P(desire): close to MSED Fig. 4 (none 49%, family 14%, romance 11%, curiosity 11%, vengeance
# and tranquility 4%). The rare classes are raised to 6% so that a 120-item test split of a
# 600-item set still has about seven of each.
DESIRE_PRIOR = np.array([0.06, 0.10, 0.08, 0.13, 0.06, 0.11, 0.46])

# P(emotion | desire). Rows follow desire order; columns are happiness, sad, neutral, disgust,
# anger, fear. MSED Fig. 4: desire posts are mostly positive, non-desire posts mostly neutral,
# and vengeance comes with anger. Disgust is kept at about 7% overall so every split contains it.
EMOTION_GIVEN_DESIRE = np.array(
    [
        [0.04, 0.10, 0.04, 0.22, 0.52, 0.08],  # vengeance
        [0.42, 0.04, 0.26, 0.06, 0.02, 0.20],  # curiosity
        [0.62, 0.10, 0.14, 0.04, 0.04, 0.06],  # social-contact
        [0.62, 0.14, 0.10, 0.02, 0.04, 0.08],  # family
        [0.45, 0.08, 0.30, 0.02, 0.02, 0.13],  # tranquility
        [0.66, 0.14, 0.08, 0.02, 0.04, 0.06],  # romance
        [0.28, 0.08, 0.40, 0.10, 0.06, 0.08],  # none
    ]
)

# Emotion -> sentiment, exactly as in MSED Table 4.
SENTIMENT_OF_EMOTION = np.array(
    [_S["positive"], _S["negative"], _S["neutral"], _S["negative"], _S["negative"], _S["negative"]]
)

# Emotion cues (see the module docstring). The faces narrow the emotion to one pair, the text's
# tone to another, and the two pairs share exactly one emotion:
#              excited     low        hostile
#   soft       happiness   neutral    -
#   tense      fear        -          anger
#   downcast   -           sad        disgust
# Happiness and neutral, the common emotions, share a face. Telling a rare emotion from a common
# one (fear from happiness, sad from neutral) then relies on the face's valence, the cue that is
# easiest to see.
FACES: tuple[str, ...] = ("soft", "tense", "downcast")
TONES: tuple[str, ...] = ("excited", "low", "hostile")
# Indexed by emotion: happiness, sad, neutral, disgust, anger, fear.
FACE_OF_EMOTION = np.array([0, 2, 0, 2, 1, 1])
TONE_OF_EMOTION = np.array([0, 1, 1, 2, 2, 0])
# Fraction of images whose background colours belong to another face group (the faces still
# show the right one), so colour alone isn't enough.
MISLEADING_PALETTE_RATE = 0.10

SCENES: tuple[str, ...] = ("portrait", "couple", "adult_child", "group", "nature")
_SC = {key: i for i, key in enumerate(SCENES)}
TEXT_CUES: tuple[str, ...] = ("together", "explore", "revenge", "calm", "describe")
_TC = {key: i for i, key in enumerate(TEXT_CUES)}

# Scene distribution where the desire doesn't fix the scene (columns follow SCENES).
_FREE_SCENE = np.array([0.45, 0.10, 0.10, 0.20, 0.15])
_NONE_DESCRIBE_SCENE = np.array([0.30, 0.15, 0.15, 0.15, 0.25])
_NONE_CALM_SCENE = np.array([0.50, 0.15, 0.15, 0.20, 0.00])  # calm + nature would be tranquility
NONE_CALM_RATE = 0.20  # share of "none" posts that talk about calm but show no nature scene

# --------------------------------------------------------------------------- text templates
# "{a|b}" alternatives are expanded into every combination once. A cue phrase is chosen
# independently of the scene, so the text never reveals the image's content.

_DESIRE_PHRASES: dict[str, tuple[str, ...]] = {
    "together": (
        "spending the {evening|weekend|afternoon|whole day} together with "
        "{the ones I love|my favourite people|the people who matter most}",
        "nothing beats {quality|slow|precious} time with "
        "{the ones I love|my favourite people|the people who matter most}",
        "{finally|at last} together again after {a long week|months apart|such a busy month}",
        "making {new|more} memories with {the ones I love|my favourite people|the people closest to me}",
        "{cannot|can't} wait to {see|hold} them again {this weekend|tonight|very soon}",
        "all I {need|want} is {more|a little more} time {together|with them}",
    ),
    "explore": (
        "I wonder what is {behind that door|around the next corner|inside the old box|at the end of the trail}",
        "so curious to find out {how it works|where this road goes|what they are hiding}",
        "{exploring|discovering} {a place|somewhere} I have never been before",
        "need to know {the answer|the whole story|the secret} {right now|before tomorrow}",
        "what {would happen|happens} if {we|I} {opened it|kept walking|pressed the button}",
        "{always|still} asking questions about {everything|the unknown|how things work}",
    ),
    "revenge": (
        "{they|he|she} will {regret|pay for} what {they|he|she} did to me",
        "payback is coming {soon|for sure|and it will be sweet}",
        "I will get even {one day|no matter what|with every one of them}",
        "time to strike back at {the people who hurt me|whoever did this|them}",
        "nobody {crosses|betrays|cheats} me and gets away with it",
        "{revenge|retaliation} is {all I think about|the only plan|long overdue}",
    ),
    "calm": (
        "{just|only} want some peace and quiet {today|for once|tonight}",
        "{feeling|finally} safe and {calm|protected} {at last|here|for now}",
        "slow {breaths|mornings|evenings}, no rush and no noise",
        "{a|one} quiet moment {to myself|away from it all|without any worries}",
        "{looking for|craving} {calm|stillness|a safe place} {after all that|this week}",
    ),
    "describe": (
        "close up shot taken {on a sunny afternoon|this morning|in the studio|last week}",
        "{random|quick} snapshot from {last weekend|the city centre|my walk home}",
        "{portrait|photo} taken with {an old camera|my phone|a fifty millimetre lens}",
        "{background|colour} study {in natural light|at golden hour|under street lamps}",
        "{testing|trying} {the new|my old} {camera|phone|lens} {outdoors|today|again}",
        "{senior|young} {woman|man|girl|boy} using a phone {near the window|on the street|at home}",
    ),
}

# Tone phrases, one per text (order follows TONES): "excited" fits happiness or fear (a racing
# heart), "low" neutral or sad, "hostile" anger or disgust. All tones share the same sentence
# frames, so only the tone words tell them apart, like the lexical cues in real captions.
_TONE_WORDS: tuple[str, ...] = (
    "breathless|trembling|wired|shaking|stunned",
    "quiet|tired|flat|blank|subdued",
    "fed up|sick of it|done with this|had enough|over it",
)
_TONE_FRAMES: tuple[str, ...] = (
    "feeling {%s}{| today| tonight| right now}",
    "{honestly|to be fair|all in all}, {%s}",
    "{%s}, {as usual|again|all day|if I am honest}",
    "{still|just} {%s} {about it|after all that|this week}",
)
_TONE_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(frame % words for frame in _TONE_FRAMES) for words in _TONE_WORDS
)

_FILLERS: tuple[str, ...] = (
    "{posted|shared} {from my phone|late at night|on the way home}",
    "{more|another} {photo|shot|post} coming {soon|tomorrow}",
    "{anyway|so yeah|well}, {that was|that is} {today|my day|the update}",
    "{taken|written} {yesterday|last night|on Sunday}",
    "{first|second} post of the {week|month}",
)
_HASHTAGS: tuple[str, ...] = ("#photooftheday", "#life", "#mood", "#weekend", "#nofilter", "#today", "#instadaily")
_TITLES: tuple[str, ...] = (
    "Saturday",
    "Moments",
    "Untitled",
    "Life lately",
    "Today",
    "Thoughts",
    "Little things",
    "Out and about",
    "Diary",
    "Weekend notes",
    "Snapshot",
    "Photo dump",
)

_ALTERNATIVES = re.compile(r"\{([^{}]*)\}")


def _expand(template: str) -> list[str]:
    """Every string that a template with "{a|b}" alternatives can produce."""
    parts = _ALTERNATIVES.split(template)  # literal, alternatives, literal, ...
    choices = [[part] if i % 2 == 0 else part.split("|") for i, part in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


@cache
def _phrase_bank(templates: tuple[str, ...]) -> tuple[str, ...]:
    # Expand each template separately and weight templates equally by cycling the shorter lists.
    expanded = [_expand(t) for t in templates]
    longest = max(len(e) for e in expanded)
    return tuple(e[i % len(e)] for e in expanded for i in range(longest))


# --------------------------------------------------------------------------- items


@dataclass(slots=True)
class SyntheticItem:
    """One synthetic text-image pair with its true labels.

    ``text`` is None when the text is missing and ``image_bytes`` is None when the image is
    missing or ``with_images=False``. ``labels`` maps task key to label key. ``conflict`` is True
    when the scene suggests a desire (couple, family, group or nature) but the label is none.
    """

    external_id: str
    title: str
    text: str | None
    image_bytes: bytes | None
    labels: dict[str, str]
    split: str
    conflict: bool = False


def generate_items(
    n: int,
    *,
    seed: int = 0,
    with_images: bool = True,
    image_size: int = 256,
    image_format: str = "JPEG",
    image_pool: int | None = None,
    missing_text_rate: float = 0.03,
    missing_image_rate: float = 0.03,
) -> list[SyntheticItem]:
    """Generate ``n`` synthetic MSED-style items, deterministic for a given ``seed``.

    Labels, texts and splits don't depend on the image options, so ``with_images=False`` gives
    the same items without pictures. Splits are 70/10/20 train/dev/test, stratified by desire and
    by emotion within each desire. An item lacks either its text or its image, never both, with
    the given rates (either may be 0).

    ``image_pool=k`` draws only k variants for each (scene, face, colours) combination and reuses
    them (the same ``bytes`` object), so large sets with images stay fast and small. By default
    every image is drawn separately. Images are RGB, ``image_size`` pixels square, and all cues
    stay inside the central 224/256 crop.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if missing_text_rate < 0 or missing_image_rate < 0 or missing_text_rate + missing_image_rate > 1:
        raise ValueError("missing rates must be >= 0 and sum to at most 1")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    label_rng, cue_rng, text_rng, split_rng, missing_rng = streams

    desire, emotion = _sample_labels(n, label_rng)
    sentiment = SENTIMENT_OF_EMOTION[emotion]
    text_cue, scene, face, palette = _sample_cues(desire, emotion, cue_rng)
    split = _assign_splits(desire, emotion, split_rng)
    texts, titles = _compose_texts(text_cue, TONE_OF_EMOTION[emotion], text_rng)

    u = missing_rng.random(n)
    missing_text = u < missing_text_rate
    missing_image = (u >= missing_text_rate) & (u < missing_text_rate + missing_image_rate)

    images: list[bytes | None] = [None] * n
    if with_images:
        images = _render_images(
            n,
            scene,
            face,
            palette,
            missing_image,
            seed=seed,
            size=image_size,
            fmt=image_format,
            pool=image_pool,
        )

    desire_keys, sentiment_keys, emotion_keys = (LABEL_KEYS[t] for t in TASKS)
    scene_suggests_desire = scene != _SC["portrait"]
    width = max(6, len(str(n)))
    return [
        SyntheticItem(
            external_id=f"demo-{i + 1:0{width}d}",
            title=titles[i],
            text=None if missing_text[i] else texts[i],
            image_bytes=images[i],
            labels={
                "desire": desire_keys[desire[i]],
                "sentiment": sentiment_keys[sentiment[i]],
                "emotion": emotion_keys[emotion[i]],
            },
            split=SPLITS[split[i]],
            conflict=bool(scene_suggests_desire[i] and desire[i] == _D["none"]),
        )
        for i in range(n)
    ]


def label_index_matrix(items: Sequence[SyntheticItem]) -> np.ndarray:
    """True labels as indices, shape (n_items, 3), columns in TASKS order (for `simulate_votes`)."""
    lookup = [{key: i for i, key in enumerate(LABEL_KEYS[t])} for t in TASKS]
    return np.array(
        [[lookup[j][item.labels[t]] for j, t in enumerate(TASKS)] for item in items], dtype=np.int8
    ).reshape(len(items), len(TASKS))


def _largest_remainder(n: int, p: np.ndarray) -> np.ndarray:
    """Integer counts summing to n that are as close as possible to n * p."""
    exact = n * p / p.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _sample_labels(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Fixed quotas per (desire, emotion) cell rather than independent draws, so a 600-item set has
    # exactly the intended class shares and every class shows up.
    joint = (DESIRE_PRIOR[:, None] * EMOTION_GIVEN_DESIRE).ravel()
    cells = np.repeat(np.arange(joint.size), _largest_remainder(n, joint))
    rng.shuffle(cells)
    n_emotions = EMOTION_GIVEN_DESIRE.shape[1]
    return cells // n_emotions, cells % n_emotions


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(p), size=size, p=p / p.sum())


def _sample_cues(desire: np.ndarray, emotion: np.ndarray, rng: np.random.Generator):
    """Text intent cue, scene, face group and palette group for each item."""
    n = desire.size
    text_cue = np.empty(n, dtype=np.int64)
    scene = np.empty(n, dtype=np.int64)
    fixed = {
        "family": ("together", "adult_child"),
        "romance": ("together", "couple"),
        "social-contact": ("together", "group"),
        "tranquility": ("calm", "nature"),
    }
    for desire_key, (cue, scene_key) in fixed.items():
        mask = desire == _D[desire_key]
        text_cue[mask], scene[mask] = _TC[cue], _SC[scene_key]
    for desire_key, cue in (("curiosity", "explore"), ("vengeance", "revenge")):
        mask = desire == _D[desire_key]
        text_cue[mask] = _TC[cue]
        scene[mask] = _pick(rng, _FREE_SCENE, int(mask.sum()))
    none = np.flatnonzero(desire == _D["none"])
    calm = rng.random(none.size) < NONE_CALM_RATE
    text_cue[none] = np.where(calm, _TC["calm"], _TC["describe"])
    scene[none[calm]] = _pick(rng, _NONE_CALM_SCENE, int(calm.sum()))
    scene[none[~calm]] = _pick(rng, _NONE_DESCRIBE_SCENE, int((~calm).sum()))

    face = FACE_OF_EMOTION[emotion]
    misleading = rng.random(n) < MISLEADING_PALETTE_RATE
    palette = np.where(misleading, (face + rng.integers(1, len(FACES), size=n)) % len(FACES), face)
    return text_cue, scene, face, palette


def _assign_splits(desire: np.ndarray, emotion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0/1/2 = train/dev/test in a 70/10/20 ratio, stratified by desire, then emotion.

    Items are sorted by (desire, emotion, random) and dealt out with a period-10 pattern, so every
    desire block (and every larger emotion cell within it) is split 7:1:2 to within one item.
    """
    n = desire.size
    order = np.lexsort((rng.random(n), emotion, desire))
    pattern = np.array([0, 2, 0, 0, 1, 0, 0, 2, 0, 0], dtype=np.int8)
    split = np.empty(n, dtype=np.int8)
    split[order] = pattern[(np.arange(n) + rng.integers(pattern.size)) % pattern.size]
    return split


def _compose_texts(text_cue, tone, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    n = text_cue.size
    desire_banks = [_phrase_bank(_DESIRE_PHRASES[cue]) for cue in TEXT_CUES]
    tone_banks = [_phrase_bank(phrases) for phrases in _TONE_PHRASES]
    filler_bank = _phrase_bank(_FILLERS)
    # Draw every random number up front (vectorised); the loop below only joins strings.
    r_desire, r_tone, r_filler, r_title, r_tag, r_day = (rng.integers(0, 1 << 30, size=n) for _ in range(6))
    tone_first = rng.random(n) < 0.3
    with_filler = rng.random(n) < 0.5
    with_tag = rng.random(n) < 0.35
    numbered_title = rng.random(n) < 0.25
    separators = (", ", ". ", " - ", "! ")
    r_sep = rng.integers(0, len(separators), size=n)

    texts, titles = [], []
    for i in range(n):
        bank = desire_banks[text_cue[i]]
        parts = [bank[r_desire[i] % len(bank)]]
        bank = tone_banks[tone[i]]
        parts.insert(0 if tone_first[i] else 1, bank[r_tone[i] % len(bank)])
        if with_filler[i] or len(" ".join(parts).split()) < 8:
            parts.append(filler_bank[r_filler[i] % len(filler_bank)])
        separator = separators[r_sep[i]]
        if separator in (". ", "! "):
            parts = [part[0].upper() + part[1:] for part in parts]
        text = separator.join(parts)
        if with_tag[i]:
            text += " " + _HASHTAGS[r_tag[i] % len(_HASHTAGS)]
        texts.append(text[0].upper() + text[1:])
        title = _TITLES[r_title[i] % len(_TITLES)]
        titles.append(f"{title} #{r_day[i] % 365 + 1}" if numbered_title[i] else title)
    return texts, titles


# --------------------------------------------------------------------------- images

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


def _render_images(n, scene, face, palette, missing, *, seed, size, fmt, pool) -> list[bytes | None]:
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


# --------------------------------------------------------------------------- votes

# Default per-annotator error rates (before the per-task multiplier): two careful annotators,
# two average, one sloppy.
DEFAULT_ERROR_RATES: tuple[float, ...] = (0.06, 0.10, 0.14, 0.18, 0.24)
# Per-task multiplier on the error rate. MSED section 3.4: sentiment agrees best (kappa 0.67),
# desire and emotion less (0.53 and 0.56).
DEFAULT_TASK_DIFFICULTY: tuple[float, ...] = (1.3, 0.8, 1.15)


def _confusion(n: int, pairs: dict[tuple[int, int], float]) -> np.ndarray:
    """Where an annotator's wrong vote goes: row = true label, off-diagonal weights.

    Every wrong label keeps a weight of 1, and the confusions MSED reports get more.
    """
    weights = np.ones((n, n))
    for (a, b), w in pairs.items():
        weights[a, b] = weights[b, a] = w
    np.fill_diagonal(weights, 0)
    return weights / weights.sum(axis=1, keepdims=True)


# MSED Fig. 3: (a) vengeance, none and tranquility are confused most; (b) neutral is hard to
# separate from positive and negative, positive vs negative is easy; (c) neutral vs happiness and
# neutral vs sad.
MSED_CONFUSIONS: tuple[np.ndarray, ...] = (
    _confusion(
        7,
        {
            (_D["none"], _D["tranquility"]): 8,
            (_D["none"], _D["vengeance"]): 5,
            (_D["vengeance"], _D["tranquility"]): 3,
            (_D["none"], _D["curiosity"]): 4,
            (_D["family"], _D["romance"]): 4,
            (_D["family"], _D["social-contact"]): 4,
            (_D["romance"], _D["social-contact"]): 3,
        },
    ),
    _confusion(3, {(_S["neutral"], _S["positive"]): 6, (_S["neutral"], _S["negative"]): 5}),
    _confusion(
        6,
        {
            (_E["neutral"], _E["happiness"]): 8,
            (_E["neutral"], _E["sad"]): 6,
            (_E["anger"], _E["disgust"]): 4,
            (_E["fear"], _E["sad"]): 3,
            (_E["happiness"], _E["sad"]): 0.3,
        },
    ),
)


def simulate_votes(
    true_labels: np.ndarray,
    n_annotators: int = 5,
    *,
    error_rates: Sequence[float] = DEFAULT_ERROR_RATES,
    seed: int = 0,
    n_categories: Sequence[int] = N_CATEGORIES,
    task_difficulty: Sequence[float] | None = None,
    confusions: Sequence[np.ndarray] | None = None,
    item_difficulty: np.ndarray | None = None,
) -> np.ndarray:
    """Simulated annotator votes, shape (n_items, n_annotators, n_tasks), label indices (int8).

    ``true_labels`` is (n_items, n_tasks) label indices, e.g. from `label_index_matrix`. Annotator
    a votes wrongly on task t with probability
    ``error_rates[a] * task_difficulty[t] * item_difficulty[i]`` (capped at 0.95), and a wrong
    vote is drawn from row ``true`` of ``confusions[t]`` (zero diagonal, rows sum to 1). The
    defaults follow MSED when ``n_categories`` is (7, 3, 6) and are uniform otherwise. Tasks are
    simulated independently. Vectorised: 200k items take well under a second.
    """
    true = np.asarray(true_labels)
    if true.ndim != 2 or true.shape[1] != len(n_categories):
        raise ValueError(f"true_labels must be (n_items, {len(n_categories)})")
    if len(error_rates) != n_annotators:
        raise ValueError("error_rates needs one value per annotator")
    n_items, n_tasks = true.shape
    msed = tuple(n_categories) == N_CATEGORIES
    if task_difficulty is None:
        task_difficulty = DEFAULT_TASK_DIFFICULTY if msed else (1.0,) * n_tasks
    if confusions is None:
        confusions = MSED_CONFUSIONS if msed else tuple(_confusion(k, {}) for k in n_categories)
    rates = np.asarray(error_rates, dtype=np.float64)[None, :]
    if item_difficulty is not None:
        rates = rates * np.asarray(item_difficulty, dtype=np.float64)[:, None]

    rng = np.random.default_rng(seed)
    votes = np.empty((n_items, n_annotators, n_tasks), dtype=np.int8)
    for t in range(n_tasks):
        k = n_categories[t]
        truth = true[:, t].astype(np.int64)
        wrong_vote = rng.random((n_items, n_annotators)) < np.minimum(rates * task_difficulty[t], 0.95)
        cumulative = np.cumsum(np.asarray(confusions[t], dtype=np.float64), axis=1)
        cumulative /= cumulative[:, -1:]
        u = rng.random((n_items, n_annotators))
        # Inverse-CDF sampling, one row of the confusion matrix per item.
        wrong = np.zeros((n_items, n_annotators), dtype=np.int64)
        for j in range(k - 1):
            wrong += u > cumulative[truth, j][:, None]
        # Float rounding can land on the true label's zero-width slot; move it to a neighbour.
        wrong = np.where(wrong == truth[:, None], (wrong + 1) % k, wrong)
        votes[:, :, t] = np.where(wrong_vote, wrong, truth[:, None])
    return votes


# --------------------------------------------------------------------------- inference orders, durations

# All orders of the three tasks and how often annotators use each by default: desire first
# most often, the way MSED's Fig. 1 example (desire -> sentiment -> emotion) reads.
INFERENCE_ORDERS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))
INFERENCE_ORDER_WEIGHTS = np.array([0.40, 0.20, 0.12, 0.08, 0.12, 0.08])  # same order as INFERENCE_ORDERS


def simulate_inference_orders(n_items: int, n_annotators: int = 5, seed: int = 0) -> np.ndarray:
    """Inference order per (item, annotator), shape (n_items, n_annotators, 3), task indices.

    Each row is a permutation of (0, 1, 2) = TASKS; see `inference_order_keys`. Every annotator
    has a personal preference drawn around INFERENCE_ORDER_WEIGHTS.
    """
    rng = np.random.default_rng(seed)
    preference = rng.dirichlet(INFERENCE_ORDER_WEIGHTS * 40, size=n_annotators)
    cumulative = np.cumsum(preference, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random((n_items, n_annotators))
    choice = (u[:, :, None] > cumulative[None, :, :]).sum(axis=2)
    return np.asarray(INFERENCE_ORDERS, dtype=np.int8)[np.minimum(choice, len(INFERENCE_ORDERS) - 1)]


def inference_order_keys(order: Sequence[int]) -> tuple[str, ...]:
    """(0, 2, 1) -> ("desire", "emotion", "sentiment")."""
    return tuple(TASKS[int(t)] for t in order)


# Median seconds per vote for each task; desire needs the most reading (MSED section 3.3).
DEFAULT_TASK_SECONDS: tuple[float, ...] = (9.0, 4.0, 6.0)


def simulate_durations(
    n_items: int,
    n_annotators: int = 5,
    *,
    seed: int = 0,
    task_seconds: Sequence[float] = DEFAULT_TASK_SECONDS,
    annotator_speed: Sequence[float] | None = None,
    inference_orders: np.ndarray | None = None,
    sigma: float = 0.5,
) -> np.ndarray:
    """Time spent on each vote in milliseconds, shape (n_items, n_annotators, n_tasks), int32.

    Log-normal around ``task_seconds[t] * annotator_speed[a]``. Speeds default to a log-normal
    draw per annotator (a slow annotator takes about twice as long as a fast one). When
    ``inference_orders`` (from `simulate_inference_orders`) is given, the first task in each
    order takes 1.6x longer, because that is when the annotator takes in the post.
    """
    rng = np.random.default_rng(seed)
    n_tasks = len(task_seconds)
    if annotator_speed is None:
        annotator_speed = np.exp(rng.normal(0.0, 0.3, n_annotators))
    median = np.asarray(task_seconds)[None, None, :] * np.asarray(annotator_speed)[None, :, None]
    seconds = median * np.exp(rng.normal(0.0, sigma, (n_items, n_annotators, n_tasks)))
    if inference_orders is not None:
        first = np.asarray(inference_orders)[:, :, 0]
        seconds = seconds * np.where(np.arange(n_tasks)[None, None, :] == first[:, :, None], 1.6, 1.0)
    return np.round(seconds * 1000).astype(np.int32)
