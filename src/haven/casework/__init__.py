"""Casework: from a report to an authority's acknowledgement, with every step kept."""
