"""A small tokenizer and English stop-word list for keyword analysis (no NLTK data).

Social-media captions carry URLs, @mentions and #hashtags: URLs and mentions
are dropped, a hashtag keeps its word (``#love`` -> ``love``).
"""

from __future__ import annotations

import re

# Function words that would otherwise top every class's keyword list; the list
# follows the usual English lists (SMART / scikit-learn / NLTK) in spirit, kept
# short enough to read, plus a few social-media fillers (rt, amp, via).
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also although am among an and
    another any anyone anything are aren't around as at be became because been
    before being below beside besides between both but by can can't cannot could
    couldn't did didn't do does doesn't doing don't done down during each either
    else enough etc even ever every few for from further get gets got had hadn't
    has hasn't have haven't having he he'd he'll he's her here here's hers herself
    him himself his how how's however i i'd i'll i'm i've ie if in into is isn't it
    it's its itself just least less let's like made make many may me might mine
    more most much must mustn't my myself neither never no nor not now of off often
    on once one only onto or other others otherwise ought our ours ourselves out
    over own per perhaps quite rather really same see seem seems several shall
    shan't she she'd she'll she's should shouldn't since so some something such
    than that that's the their theirs them themselves then there there's therefore
    these they they'd they'll they're they've this those though through thus to
    too toward towards under until up upon us very via was wasn't we we'd we'll
    we're we've well were weren't what what's whatever when when's where where's
    whether which while who who's whom whose why why's will with within without
    won't would wouldn't yet you you'd you'll you're you've your yours yourself
    yourselves
    rt amp im dont cant wont didnt doesnt isnt
    """.split()
)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
# A word is a run of letters (any script) with inner apostrophes ("don't");
# digits alone are not words.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def tokenize(text: str, *, stop_words: frozenset[str] = STOP_WORDS, min_length: int = 2) -> list[str]:
    """Lower-cased word tokens of ``text`` without URLs, @mentions, stop words or short tokens.

    Returns the tokens in text order (repeats kept, so counts are word frequencies).
    """
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    tokens = (match.group().replace("’", "'") for match in _WORD.finditer(text))
    return [t for t in tokens if len(t) >= min_length and t not in stop_words]
