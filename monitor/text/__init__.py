"""Text: normalising, segmenting, sentiment and its training, the advertising-law check."""
