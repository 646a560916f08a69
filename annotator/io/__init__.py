"""Import and export stages that know nothing about Django.

readers  stream rows out of CSV, JSONL, ZIP and MSED-layout datasets
validate check rows against a project's label schema (annotator.schemas)
images   decide whether bytes are an image we accept, and hash them
zipsafe  refuse ZIP archives with unsafe names or sizes
writers  stream CSV, JSONL, ZIP and MSED-layout output (CSV cells formula-escaped)
jsonsafe parse JSON with limits on depth and numbers (no NaN)
soft_labels  vote distributions and gold posteriors per item and task (soft labels)

Services in ``annotator.services`` wire these to the database.
"""


class DatasetError(Exception):
    """A problem with an input file, worded for the person who made it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
