"""Synthetic MSED-style items: true labels, texts, image cues and splits.

How the labels are written into the two modalities is explained in the
package docstring (annotator/demo/__init__.py). Task and label keys come from
the MSED template (annotator.schemas.MSED), the one place the schema is
written.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..schemas import MSED
from .images import FACES, SCENES, render_images

# --------------------------------------------------------------------------- schema (from the MSED template)

TASKS: tuple[str, ...] = MSED.keys
LABEL_KEYS: dict[str, tuple[str, ...]] = {task.key: task.label_keys for task in MSED.tasks}
# task key -> label key -> index of the label in its task
LABEL_INDEX: dict[str, dict[str, int]] = {
    task: {key: i for i, key in enumerate(keys)} for task, keys in LABEL_KEYS.items()
}
N_CATEGORIES: tuple[int, ...] = tuple(task.n_categories for task in MSED.tasks)
SPLITS: tuple[str, ...] = ("train", "dev", "test")

_D, _S, _E = LABEL_INDEX["desire"], LABEL_INDEX["sentiment"], LABEL_INDEX["emotion"]

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
TONES: tuple[str, ...] = ("excited", "low", "hostile")
# Indexed by emotion: happiness, sad, neutral, disgust, anger, fear.
FACE_OF_EMOTION = np.array([0, 2, 0, 2, 1, 1])
TONE_OF_EMOTION = np.array([0, 1, 1, 2, 2, 0])
# Fraction of images whose background colours belong to another face group (the faces still
# show the right one), so colour alone isn't enough.
MISLEADING_PALETTE_RATE = 0.10

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
        images = render_images(
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
