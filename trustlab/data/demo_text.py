"""The strings drawn on demo adverts: contact details (phone, e-mail, URL), deliberately ambiguous
ones (a URL made of digit groups, a phone number written with dots) and distractor text (prices,
sale words) that appears in every class, so that "there is text" does not give the class away."""

from __future__ import annotations

import numpy as np

NAMES = ("sam", "jo", "lee", "ann", "max", "kim", "ray", "eva", "tom", "mia", "dan", "zoe", "ben", "ali")
WORDS = ("autos", "cars", "motors", "wheels", "drive", "deals", "garage", "fleet", "carmart", "vans",
         "autohub", "rides", "dealer", "usedcar")
TLDS = ("com", "net", "org", "co.uk", "io", "de")
DISTRACTORS = ("SALE", "4x4", "LOW KM", "AUTO", "DIESEL", "AS NEW", "1 OWNER", "HYBRID", "TURBO", "FSH")


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=count))


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def phone_text(rng: np.random.Generator) -> str:
    """A phone number in one of several everyday formats (never with dots: those are ambiguous)."""
    d = lambda k: _digits(rng, k)  # noqa: E731 - a short local helper reads better here
    formats = (
        lambda: f"{d(3)}-{d(3)}-{d(4)}",
        lambda: f"({d(3)}) {d(3)} {d(4)}",
        lambda: f"0{d(3)} {d(3)} {d(4)}",
        lambda: f"+44 {d(4)} {d(6)}",
        lambda: f"Tel {d(3)} {d(4)}",
        lambda: f"Call {d(3)}-{d(4)}",
        lambda: f"{d(3)} {d(4)}",
    )
    return formats[int(rng.integers(len(formats)))]()


def email_text(rng: np.random.Generator) -> str:
    name, word, tld = _pick(rng, NAMES), _pick(rng, WORDS), _pick(rng, TLDS)
    formats = (
        lambda: f"{name}@{word}.{tld}",
        lambda: f"{name}{_digits(rng, 2)}@{word}.{tld}",
        lambda: f"{name}.{_pick(rng, NAMES)}@{word}.com",
        lambda: f"info@{word}.{tld}",
    )
    return formats[int(rng.integers(len(formats)))]()


def url_text(rng: np.random.Generator) -> str:
    """A web address that reads as one: it starts with www. or http:// (only the ambiguous digit-group
    addresses go without), so an address and an e-mail differ by more than the @ alone."""
    word, tld = _pick(rng, WORDS), _pick(rng, TLDS)
    formats = (
        lambda: f"www.{word}.{tld}",
        lambda: f"www.{word}.{tld}/{_pick(rng, ('buy', 'sale', 'car', 'ad'))}",
        lambda: f"http://{word}.{tld}",
        lambda: f"www.{word}-{_pick(rng, WORDS)}.com",
        lambda: f"www.{word}{_digits(rng, 2)}.{tld}",
    )
    return formats[int(rng.integers(len(formats)))]()


def ambiguous_url_text(rng: np.random.Generator) -> str:
    """A URL whose name is digit groups, so it reads much like a phone number."""
    d = lambda k: _digits(rng, k)  # noqa: E731
    formats = (
        lambda: f"www.{d(3)}-{d(4)}.net",
        lambda: f"0800 {d(4)}.com",
        lambda: f"{d(3)}-{d(4)}.com",
        lambda: f"www.{d(3)}{d(4)}.com",
    )
    return formats[int(rng.integers(len(formats)))]()


def ambiguous_phone_text(rng: np.random.Generator) -> str:
    """A phone number written with dots, so it reads much like a domain name."""
    d = lambda k: _digits(rng, k)  # noqa: E731
    formats = (
        lambda: f"{d(3)}.{d(3)}.{d(4)}",
        lambda: f"0{d(3)}.{d(3)}.{d(4)}",
        lambda: f"+44.{d(4)}.{d(6)}",
    )
    return formats[int(rng.integers(len(formats)))]()


def distractor_text(rng: np.random.Generator) -> str:
    """Advert text that is not contact detail: a price or a selling point."""
    if rng.random() < 0.5:
        # Only "$": the built-in font has no glyph for pound or euro signs.
        price = f"{int(rng.integers(1, 40))},{int(rng.integers(0, 10))}00"
        return f"${price}" if rng.random() < 0.7 else f"{price} ONO"
    return _pick(rng, DISTRACTORS)


def contact_text(kind: str, rng: np.random.Generator, *, ambiguous: bool = False) -> str | None:
    """The contact string of an image of content ``kind`` (phone/email/url/none)."""
    if kind == "none":
        return None
    if kind == "phone":
        return ambiguous_phone_text(rng) if ambiguous else phone_text(rng)
    if kind == "url":
        return ambiguous_url_text(rng) if ambiguous else url_text(rng)
    if kind == "email":
        return email_text(rng)
    raise ValueError(f"unknown content kind {kind!r}")
