"""Every change to annotation data goes through these functions.

Each runs in a transaction, checks the domain rules and raises
`annotator.errors.DomainError` with a message a person can act on.
"""
