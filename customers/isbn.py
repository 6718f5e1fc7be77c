"""Book details by ISBN: openBD first, NDL Search when openBD does not know the book.

Only the ISBN leaves the shop: a GET of ``<base>?isbn=<13 digits>``, with no cookie, no
referrer and no customer data, from the server (the browser asks our own endpoint, same
origin, so the CSP stays ``connect-src 'self'``). Redirects are not followed. The whole lookup
has BOOKSHOP_ISBN_TIMEOUT seconds (3): the clerk is waiting at the counter. Offline, on a miss
or when BOOKSHOP_ISBN_LOOKUP is off, the clerk types the title, author and publisher, and the
form says why.

Answers are cached (``BookInfo``) for CACHE_DAYS. Book details are not personal data, but the
list of books a shop looked up, with the day, could be matched with the days of its orders,
whose book details are encrypted and, once closed, cleared: so a cached row is found by a
keyed hash of the ISBN (a key derived from the keyring's index root) and its details are
sealed with AES-GCM under another derived key, and rows older than CACHE_DAYS are deleted.
Without the keyring the table says nothing about which books were looked up.
"""

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request

# NDL's answers are parsed only without a DOCTYPE and under a size cap (_parse_ndl, _get).
import xml.etree.ElementTree as ET  # nosec B405
from dataclasses import asdict, dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum import isbn as stdnum_isbn

from customers import validators
from customers.models import BookInfo
from privacy.vault import crypto, keyring, normalize

logger = logging.getLogger("shiori.isbn")

CACHE_DAYS = 180
MAX_BYTES = 1_000_000
LIMITS = {"title": 300, "author": 200, "publisher": 200}
SOURCES = {"openbd": "openBD", "ndl": "NDL Search"}

FOUND = "found"
NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"
OFF = "off"

MESSAGES = {
    FOUND: _("Filled in from %(source)s. Check the title before saving."),
    NOT_FOUND: _("No book with this ISBN was found: type the title, author and publisher."),
    UNAVAILABLE: _("The book lookup could not be reached: type the title, author and publisher."),
    OFF: _("Book lookup by ISBN is turned off: type the title, author and publisher."),
}


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    publisher: str
    source: str


@dataclass(frozen=True)
class Lookup:
    state: str
    book: Book | None = None

    @property
    def message(self) -> str:
        source = SOURCES.get(self.book.source, "") if self.book else ""
        return str(MESSAGES[self.state]) % {"source": source}


class Unavailable(Exception):
    """The service did not answer in time, or answered something unreadable."""


def normalize_isbn(value: str) -> str:
    """The 13 digits of a valid ISBN-10 or ISBN-13 (hyphens, spaces and full-width digits
    accepted); ValidationError with the clerk's message otherwise."""
    return validators.clean_isbn(value).replace("-", "")


def formatted(isbn13: str) -> str:
    return stdnum_isbn.format(isbn13)


def lookup(isbn13: str) -> Lookup:
    """Book details for a normalized ISBN-13: from the cache, openBD, then NDL Search."""
    if not settings.BOOKSHOP_ISBN_LOOKUP:
        return Lookup(OFF)
    cached = _cached(isbn13)
    if cached is not None:
        return Lookup(FOUND, cached)
    deadline = time.monotonic() + settings.BOOKSHOP_ISBN_TIMEOUT
    unavailable = False
    for source, ask in (("openbd", _ask_openbd), ("ndl", _ask_ndl)):
        try:
            book = ask(isbn13, deadline)
        except Unavailable as error:
            logger.warning("ISBN lookup: %s unavailable (%s).", SOURCES[source], error)
            unavailable = True
            continue
        if book is not None:
            _store(isbn13, book)
            return Lookup(FOUND, book)
    return Lookup(UNAVAILABLE if unavailable else NOT_FOUND)


# --- The services ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, "redirect not followed", headers, fp)


# No cookie jar, no proxy auth, no redirects: a plain GET that carries the ISBN only.
_opener = urllib.request.build_opener(_NoRedirect)
_opener.addheaders = [("User-Agent", "Shiori (bookshop ISBN lookup)")]


def _get(base: str, isbn13: str, deadline: float, accept: str) -> bytes:
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Unavailable("bad base URL")
    query = urllib.parse.urlencode({"isbn": isbn13})
    url = f"{base}{'&' if parts.query else '?'}{query}"
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        raise Unavailable("no time left")
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310
    try:
        # The scheme is checked above (http or https only).
        with _opener.open(request, timeout=remaining) as response:  # nosec B310
            body = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise Unavailable(type(error).__name__) from None
    if len(body) > MAX_BYTES:
        raise Unavailable("answer too large")
    if time.monotonic() > deadline:
        raise Unavailable("too slow")
    return body


def _clean(value, limit: int) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v)
    text = normalize.text(str(value or ""))
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:limit].strip()


def _book(title, author, publisher, source: str) -> Book | None:
    book = Book(
        title=_clean(title, LIMITS["title"]),
        author=_clean(author, LIMITS["author"]),
        publisher=_clean(publisher, LIMITS["publisher"]),
        source=source,
    )
    return book if book.title else None


def _ask_openbd(isbn13: str, deadline: float) -> Book | None:
    """openBD answers a JSON list, one entry per ISBN asked: null when it does not know it."""
    body = _get(settings.BOOKSHOP_ISBN_OPENBD_URL, isbn13, deadline, "application/json")
    try:
        answer = json.loads(body)
    except ValueError:
        raise Unavailable("not JSON") from None
    if not isinstance(answer, list) or not answer or not isinstance(answer[0], dict):
        return None
    summary = answer[0].get("summary")
    if not isinstance(summary, dict):
        return None
    return _book(summary.get("title"), summary.get("author"), summary.get("publisher"), "openbd")


_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _ask_ndl(isbn13: str, deadline: float) -> Book | None:
    """NDL Search's OpenSearch answers RSS 2.0: the first item, its dc:title, dc:creator (or
    author) and dc:publisher."""
    body = _get(settings.BOOKSHOP_ISBN_NDL_URL, isbn13, deadline, "application/rss+xml")
    return _parse_ndl(body)


def _parse_ndl(body: bytes) -> Book | None:
    # A DOCTYPE is where entity attacks live; NDL's answers have none. pyexpat (2.4.1 and
    # later, with Python 3.11) also limits entity expansion, and the size is capped above.
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise Unavailable("XML with a DOCTYPE")
    try:
        root = ET.fromstring(body)  # noqa: S314  # nosec B314
    except ET.ParseError:
        raise Unavailable("not XML") from None
    item = root.find("./channel/item")
    if item is None:
        return None

    def texts(path: str) -> list[str]:
        return [e.text.strip() for e in item.findall(path, _NS) if e.text and e.text.strip()]

    title = (texts("dc:title") or texts("title") or [""])[0]
    authors = texts("author")[:1] or texts("dc:creator")
    publisher = (texts("dc:publisher") or [""])[0]
    return _book(title, authors, publisher, "ndl")


# --- The cache ------------------------------------------------------------------------------


def _keys() -> tuple[bytes, AESGCM]:
    ring = keyring.load()
    return ring.index_key("customers.bookinfo.isbn"), AESGCM(
        ring.index_key("customers.bookinfo.details")
    )


def _hash(isbn13: str) -> str:
    hash_key, _aead = _keys()
    return crypto.keyed_hash(hash_key, isbn13.encode()).hex()


def _cached(isbn13: str) -> Book | None:
    key = _hash(isbn13)
    row = BookInfo.objects.filter(
        isbn_hash=key, fetched_at__gte=timezone.now() - timedelta(days=CACHE_DAYS)
    ).first()
    if row is None:
        return None
    try:
        data = json.loads(crypto.unseal(_keys()[1], bytes(row.sealed), key.encode()))
        return Book(**data)
    except (crypto.DecryptionError, ValueError, TypeError):
        return None  # another keyring, or damaged: asked again and replaced


def _store(isbn13: str, book: Book) -> None:
    key = _hash(isbn13)
    sealed = crypto.seal(_keys()[1], json.dumps(asdict(book)).encode(), key.encode())
    now = timezone.now()
    try:
        with transaction.atomic():
            BookInfo.objects.filter(fetched_at__lt=now - timedelta(days=CACHE_DAYS)).delete()
            BookInfo.objects.update_or_create(
                isbn_hash=key, defaults={"sealed": sealed, "source": book.source, "fetched_at": now}
            )
    except IntegrityError:  # a colleague's lookup of the same book stored it first
        pass


def validation_message(error: ValidationError) -> str:
    return error.messages[0] if error.messages else str(error)
