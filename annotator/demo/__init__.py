"""Synthetic MSED-style demo data: text-image items, annotator votes, inference orders, durations.

Pure package (NumPy + Pillow, no Django). ``manage.py seed_demo``, tests and benchmarks all use it
through the names imported below. `items` builds labels, texts and splits, `images` draws the
pictures, `simulate` makes votes, inference orders and durations, a pre-labeller's suggestions and
annotators anchored on them. Task and label keys come from
the MSED template in annotator.schemas, so the demo and a new MSED project share one schema.

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

from .images import FACES, SCENES, draw_image
from .items import (
    LABEL_INDEX,
    LABEL_KEYS,
    N_CATEGORIES,
    SPLITS,
    TASKS,
    SyntheticItem,
    generate_items,
    label_index_matrix,
)
from .simulate import (
    CARELESS_ERROR_RATE,
    DEFAULT_ERROR_RATES,
    DEFAULT_MODEL_ACCURACY,
    DEFAULT_TASK_DIFFICULTY,
    DEFAULT_TASK_SECONDS,
    DEMO_ERROR_RATES,
    INFERENCE_ORDER_WEIGHTS,
    INFERENCE_ORDERS,
    MSED_CONFUSIONS,
    inference_order_keys,
    simulate_anchoring,
    simulate_durations,
    simulate_inference_orders,
    simulate_suggestions,
    simulate_votes,
)

__all__ = [
    "CARELESS_ERROR_RATE",
    "DEFAULT_ERROR_RATES",
    "DEFAULT_MODEL_ACCURACY",
    "DEFAULT_TASK_DIFFICULTY",
    "DEFAULT_TASK_SECONDS",
    "DEMO_ERROR_RATES",
    "FACES",
    "INFERENCE_ORDERS",
    "INFERENCE_ORDER_WEIGHTS",
    "LABEL_INDEX",
    "LABEL_KEYS",
    "MSED_CONFUSIONS",
    "N_CATEGORIES",
    "SCENES",
    "SPLITS",
    "TASKS",
    "SyntheticItem",
    "draw_image",
    "generate_items",
    "inference_order_keys",
    "label_index_matrix",
    "simulate_durations",
    "simulate_inference_orders",
    "simulate_anchoring",
    "simulate_suggestions",
    "simulate_votes",
]
