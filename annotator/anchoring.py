"""The anchoring experiment (issue 14.6): does seeing the model's suggestion
pull an annotator towards it?

When a project shows suggestions to only a share of (annotator, item) pairs
(Project.suggestion_share < 1), each pair falls in one arm: "shown" (the
labelling page shows the suggestions) or "hidden" (it does not). The arm is
a keyed hash of (project, annotator, item), so it is

* stable: the same pair gets the same arm on every claim, reload, fetch-ahead
  and API call, without storing anything before the submit;
* unguessable from the page: the key derives from SECRET_KEY, so seeing
  one's own arms says nothing about the next item's;
* free: no query, so the labelling loop's statement count stays pinned.

The server records the arm on each annotation at submit
(annotator.services.votes); the client never sends it. With a share of 1
(the default) there is no experiment: the arm stays blank ("") and the
loop behaves as before, so a blank arm means "not in the experiment", never
"shown by assignment". Unimodal rounds never show suggestions and are not in
the experiment either. Rotating SECRET_KEY reshuffles the arms of pairs not
yet submitted; recorded arms do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.crypto import salted_hmac

if TYPE_CHECKING:
    from .models import Project

SHOWN = "shown"
HIDDEN = "hidden"
NONE = ""

_SALT = "affect-studio.anchoring.arm"
_MULTIMODAL = "multimodal"


def is_running(project: Project) -> bool:
    """Whether the project runs the experiment: suggestions on, shown to fewer than all pairs."""
    return bool(project.show_suggestions) and project.suggestion_share < 1


def pair_position(project_id: int, annotator_id: int, item_id: int) -> float:
    """A uniform number in [0, 1) fixed for the pair (the first 64 bits of an HMAC-SHA256)."""
    digest = salted_hmac(_SALT, f"{project_id}:{annotator_id}:{item_id}", algorithm="sha256").digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def suggestion_arm(project: Project, *, annotator_id: int, item_id: int, round_: str = _MULTIMODAL) -> str:
    """ "shown", "hidden", or "" when the pair is not in the experiment (see the module's notes)."""
    if not is_running(project) or round_ != _MULTIMODAL:
        return NONE
    return SHOWN if pair_position(project.pk, annotator_id, item_id) < project.suggestion_share else HIDDEN
