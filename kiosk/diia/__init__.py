"""The Diia partner API: the client the kiosk calls, its errors, and the embedded sandbox.

A library of its own: nothing here imports from the rest of `kiosk` (a test holds it to
that); what it is given comes in through its own small types (`types.py`).
"""
