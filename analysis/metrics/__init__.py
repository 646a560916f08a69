"""Inter-annotator agreement and classification metrics as pure NumPy functions.

No Django here: a selector turns votes into arrays and these functions turn
arrays into numbers (STYLE.md, "Pure computation has no Django imports").
Import from the package (``from analysis.metrics import fleiss_kappa``): its
names below are the public surface; the modules hold them by concern:

* ``agreement``: percent agreement, Fleiss' kappa, Krippendorff's alpha,
  Gwet's AC1, Cohen's kappa, Landis & Koch bands, and the count matrix;
* ``bootstrap``: confidence intervals and the dashboard's agreement summary;
* ``gold``: majority gold and leave-one-out agreement;
* ``confusion``: label confusion and the difference between rounds;
* ``classification``: precision, recall, F1 of a model;
* ``keywords``: weighted log-odds keywords;
* ``anchoring``: the anchoring experiment's arms compared (bootstrap
  difference, chi-square test of independence, Cohen's h);
* ``proportions``: the Wilson interval of a proportion (control accuracy);
* annotator reliability models (Dawid-Skene, MACE) live in
  ``analysis.reliability`` and are re-exported here; both sides share
  ``analysis.label_matrix`` (input checks, ``UndefinedMetric``).

Two input shapes are used throughout:

* ``labels``: int array of shape (n_items, n_raters); entry [i, r] is the
  category index (0..k-1) annotator r gave item i, or -1 when r did not vote.
  Floats are accepted too, with NaN (or -1) for a missing vote.
* ``counts``: int array of shape (n_items, k); entry [i, c] is how many
  annotators put item i in category c (``counts_from_labels`` builds it, and a
  SQL ``GROUP BY item, label`` gives it directly). The ``*_from_counts``
  functions take this shape.

``n_categories`` (k) defaults to max label + 1. Pass the size of the task's
label set (7 for desire, 3 for sentiment, 6 for emotion in MSED): Gwet's AC1
and the per-category arrays depend on it.

Conventions shared by the agreement statistics:

* m_i = number of votes on item i. Items with m_i < 2 cannot contribute to
  pairwise agreement; they are excluded from it and ``agreement_summary``
  reports how many. Following Gwet, a one-vote item still counts in the
  category prevalences of the chance terms of Fleiss' kappa (unequal votes)
  and AC1; Krippendorff's alpha ignores it entirely, by its definition.
* A value that does not exist for the input (no items, no item with two
  votes, only one category used where the chance term makes the formula
  0/0) raises ``UndefinedMetric`` with the reason as its message; scalar
  functions never return NaN or a silent 0. Functions that return arrays
  (per-category kappa, pairwise matrices) put NaN in the undefined cells.
* Every computation is vectorised over items; loops run over raters,
  categories or bootstrap replicates only.
"""

from __future__ import annotations

from analysis.label_matrix import UndefinedMetric
from analysis.reliability import DawidSkeneResult, MaceResult, dawid_skene, mace

from .agreement import (
    PairwiseCohen,
    cohen_kappa,
    counts_from_labels,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    fleiss_kappa_per_category,
    fleiss_kappa_per_category_from_counts,
    gwet_ac1,
    gwet_ac1_from_counts,
    krippendorff_alpha,
    krippendorff_alpha_from_counts,
    landis_koch,
    pairwise_cohen,
    percent_agreement,
    percent_agreement_from_counts,
)
from .anchoring import ArmComparison, ChiSquare, chi_square_independence, chi_square_sf, cohens_h, compare_arms
from .bootstrap import (
    ConfidenceInterval,
    agreement_summary,
    agreement_summary_from_counts,
    bootstrap_ci,
    bootstrap_ci_from_counts,
)
from .classification import classification_metrics
from .confusion import ModalityDifference, label_confusion, label_confusion_from_counts, modality_difference
from .gold import LeaveOneOut, MajorityGold, leave_one_out_agreement, majority_gold, majority_gold_from_counts
from .keywords import keywords
from .proportions import wilson_interval

__all__ = [
    "UndefinedMetric",
    "ConfidenceInterval",
    "MajorityGold",
    "LeaveOneOut",
    "PairwiseCohen",
    "ModalityDifference",
    "counts_from_labels",
    "percent_agreement",
    "percent_agreement_from_counts",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "fleiss_kappa_per_category",
    "fleiss_kappa_per_category_from_counts",
    "cohen_kappa",
    "pairwise_cohen",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
    "gwet_ac1",
    "gwet_ac1_from_counts",
    "bootstrap_ci",
    "bootstrap_ci_from_counts",
    "landis_koch",
    "majority_gold",
    "majority_gold_from_counts",
    "leave_one_out_agreement",
    "label_confusion",
    "label_confusion_from_counts",
    "modality_difference",
    "classification_metrics",
    "keywords",
    "ArmComparison",
    "ChiSquare",
    "compare_arms",
    "chi_square_independence",
    "chi_square_sf",
    "cohens_h",
    "wilson_interval",
    "agreement_summary",
    "agreement_summary_from_counts",
    # annotator reliability models, defined in analysis.reliability
    "DawidSkeneResult",
    "MaceResult",
    "dawid_skene",
    "mace",
]
