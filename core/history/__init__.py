"""History and time travel: what a moment is (`moment.py`) and how a version is shown (`entries.py`)."""
