"""Checking a code: a Diia code in, a verdict out.

`checker` (the mode policy, the seen-code cache, Diia's errors as reasons), `names` (where
mode "name" gets the expected names), `share` (sharing a document as a check, offline and
online). Import from the module that defines a name: nothing is re-exported.
"""
