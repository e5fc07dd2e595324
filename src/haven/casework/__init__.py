"""Casework: a case's life from report to an authority's action.

Importing the package hands the policy gate the audiences of cases (:mod:`.audiences`), so every
process that works with cases judges them by the same rule.
"""

from haven.casework.audiences import register

register()
