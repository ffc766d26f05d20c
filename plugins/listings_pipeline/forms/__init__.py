"""The operators' forms (DAG params): what they offer, and every problem of a filled-in form at once.

A form that stops at its first problem costs one run per typo (issue #14: an unknown seller hid
three other mistakes). Here each check adds to one list of :class:`problems.FormProblem`, and the
form's first task fails once with all of them, in its failure message and in the run's note.
"""
