"""Template helpers: safe Markdown for guidelines."""

import markdown as md
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}


@register.filter
def markdown_safe(text: str) -> str:
    """Render Markdown and keep only harmless HTML (no scripts, no event handlers)."""
    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    return mark_safe(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


@register.filter
def percent(value) -> str:
    try:
        return f"{100 * float(value):.0f}%"
    except (TypeError, ValueError):
        return "–"


@register.filter
def task_order(keys, tasks) -> str:
    """An inference order (task keys) in the tasks' names: "Desire → Sentiment → Emotion"."""
    names = {task.key: task.name for task in tasks or ()}
    return " → ".join(names.get(key, key) for key in keys or ())
