# The analysis app stores nothing: it reads votes and gold through selectors.
