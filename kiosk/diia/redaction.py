"""Keeping the acquirer token and the customer's code out of logs and error texts.

The acquirer token travels in the login URL's path, a share's status poll carries the code
in its query (`?barcode=…`), and httpx logs every request URL at INFO (its exceptions carry
the request too), so a filter on httpx's and httpcore's loggers masks that path segment and
every query before any handler sees the record. httpcore's debug trace prints the text
of a failed step's exception, and h11's texts can quote a header (the Basic credential), so
the filter keeps only the exception's name. Error texts from lower layers are scrubbed of
URLs before they become our messages.
"""

from __future__ import annotations

import logging
import re
import threading

_ACQUIRER_SEGMENT = re.compile(r"(/auth/acquirer/)[^/?#\s\"'<>]+")
_QUERY = re.compile(r"\?[^#\s\"'<>]+")  # what follows "?" up to the end of the URL
_ANY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# httpcore's debug trace prints a failed step's exception with its text, and h11's text can
# quote a request header (a credential): only the exception's name is kept.
_TRACED_EXCEPTION = re.compile(r"(exception=[A-Za-z_][\w.]*)\(.*", re.DOTALL)
_REDACTED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
_install_lock = threading.Lock()


def redact(text: str) -> str:
    """`text` with any acquirer token in a login path, and any URL's query, replaced by
    `***` (a query's parameters may be a code: none of ours carries anything else worth a
    log line)."""
    return _QUERY.sub("?***", _ACQUIRER_SEGMENT.sub(r"\1***", text))


def scrub(text: str) -> str:
    """Text from a lower layer, fit for an error message: no URL, no token, short."""
    return _ANY_URL.sub("<url>", redact(text))[:120]


class _RedactAcquirerToken(logging.Filter):
    """Masks the login path's token, and library error texts, in a record before any
    handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's problem, not ours
            return True
        cleaned = _TRACED_EXCEPTION.sub(r"\1(…)", redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Put the redacting filter on httpx's and httpcore's loggers (idempotent)."""
    with _install_lock:
        for name in _REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _RedactAcquirerToken) for f in logger.filters):
                logger.addFilter(_RedactAcquirerToken())
