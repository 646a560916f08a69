"""Label-schema templates offered when a project is created.

A schema is an ordered list of tasks, each an ordered list of labels:
    [{"key", "name", "required", "labels": [{"key", "name", "description", "hotkey"}]}]
The MSED template follows the paper: six desires plus none (explanations of
MSED Table 3), three sentiments and six emotions.
"""

from __future__ import annotations

MSED_DESIRES = [
    ("vengeance", "Vengeance", "The need to strike back against another person."),
    ("curiosity", "Curiosity", "The wish to gain knowledge or explore the unexpected."),
    ("social-contact", "Social-contact", "The need to communicate, converse and establish a relationship with others."),
    ("family", "Family", "The need to take care of one's offspring."),
    ("tranquility", "Tranquility", "The wish to be secure, protected or company."),
    ("romance", "Romance", "A feeling of excitement and mystery associated with love."),
    ("none", "None", "No desire is expressed: the post describes an object, scene or action."),
]
MSED_SENTIMENTS = [
    ("positive", "Positive", "The post conveys a favourable, pleasant attitude."),
    ("neutral", "Neutral", "Neither clearly favourable nor unfavourable."),
    ("negative", "Negative", "The post conveys an unfavourable, unpleasant attitude."),
]
MSED_EMOTIONS = [
    ("happiness", "Happiness", "Joy, delight, amusement or contentment."),
    ("sad", "Sad", "Sorrow, grief, loneliness or disappointment."),
    ("neutral", "Neutral", "No marked emotion."),
    ("disgust", "Disgust", "Revulsion or strong disapproval."),
    ("anger", "Anger", "Irritation, rage or hostility."),
    ("fear", "Fear", "Fright, anxiety or worry about a threat."),
]


def _task(key: str, name: str, labels: list[tuple[str, str, str]], hotkeys: str) -> dict:
    return {
        "key": key,
        "name": name,
        "required": True,
        "labels": [
            {"key": lk, "name": ln, "description": ld, "hotkey": hk}
            for (lk, ln, ld), hk in zip(labels, hotkeys, strict=True)
        ],
    }


SCHEMA_TEMPLATES: dict[str, dict] = {
    "msed": {
        "name": "MSED: desire, sentiment and emotion",
        "tasks": [
            _task("desire", "Desire", MSED_DESIRES, "1234567"),
            _task("sentiment", "Sentiment", MSED_SENTIMENTS, "qwe"),
            _task("emotion", "Emotion", MSED_EMOTIONS, "asdfgh"),
        ],
    },
    "sentiment": {
        "name": "Sentiment only",
        "tasks": [_task("sentiment", "Sentiment", MSED_SENTIMENTS, "123")],
    },
    "custom": {"name": "Custom (define your own tasks)", "tasks": []},
}


def template_tasks(template: str) -> list[dict]:
    """A deep copy of the tasks of a template, ready to be edited or saved."""
    import copy

    if template not in SCHEMA_TEMPLATES:
        raise KeyError(template)
    return copy.deepcopy(SCHEMA_TEMPLATES[template]["tasks"])
