"""The bad-input corpus of issue #11: defective catalog rows and records, and what must become of each.

Every case is a row copied from a good row of ``good_rows.csv`` (frozen rows of the sample catalog,
so the corpus does not move when the sample is regenerated) with some cells changed, or a record
mangled on its way to the file. :func:`write_corpus` writes them, mixed with at least as many good
rows, into the few files one run reads, and says on which physical line each one landed: the test
(tests/pipeline/test_bad_input_corpus.py) runs the bulk path's steps over them and checks that each
case ends in ``quarantine`` exactly as declared here and in no feed document, and that every good
row reaches one.

A case states the quarantine records it must produce (:class:`Expect`: rule, column, value and a
fragment of the reason), not merely that it fails: a corrupted row that fails for an unrelated
reason would prove nothing about its kind.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

HERE = Path(__file__).resolve().parent
GOOD_ROWS = HERE / "good_rows.csv"

US: Final = "ATVPDKIKX0DER"
CA: Final = "A2EUQ1WTGCTBG2"
DE: Final = "A1PA6795UKMFR9"
NA_SELLER: Final = "A1SANDBOXNA0001"  # US and CA, reads the shared catalog; its US branch claims defects
EU_SELLER: Final = "A3SANDBOXEU0003"  # DE, reads the shared catalog
NA2_SELLER: Final = "A2SANDBOXNA0002"  # US, reads its own catalog, which lacks a required column
SELLER_OF: Final = {US: NA_SELLER, CA: NA_SELLER, DE: EU_SELLER}

#: The files of one run. ``shared/*`` is one glob read by the NA and EU sellers; ``nofit`` is NA2's.
SHARED_FILES: Final = ("us.csv", "ca.csv", "de.csv", "records.csv", "gz.csv.gz")
NOFIT_FILE: Final = "nofit.csv"
#: Extract defects of the shared catalog are recorded once, by the first branch reading it.
CLAIMER: Final = (NA_SELLER, US)


class Kind(StrEnum):
    """What is wrong with a case; the README quotes the corpus size per kind."""

    MARKETPLACE = "marketplace_id empty, unknown, mistyped or not served"
    CURRENCY = "currency not of the marketplace"
    CONTROL = "control characters (NUL, C0, C1, DEL, ANSI escapes)"
    INVISIBLE = "bidi overrides and zero-width characters"
    EMOJI = "emoji in titles"
    LINE_BREAK = "line breaks and tabs in one-line attributes"
    PLACEHOLDER = "placeholders (NULL, N/A, TBD, -, ...)"
    FORMULA = "spreadsheet formula prefixes"
    CREDENTIALS = "URLs carrying credentials"
    IMAGE_URL = "image URLs that are not https images"
    IDENTIFIER = "UPC/EAN length and check digit"
    CROSS_FIELD = "cross-field rules (expanded capacity >= capacity)"
    BANNED = "banned terms"
    HTML = "HTML tags and entities"
    TOO_LONG = "too-long title, bullet, description, brand, model"
    PRICE = "negative, zero, too high or non-numeric price"
    QUANTITY = "non-integer or out-of-range quantity"
    ENUM = "unknown enum codes and yes/no values"
    PRODUCT_TYPE = "unknown product type"
    REQUIRED = "missing required values"
    MISSING_COLUMN = "missing required column"
    DUPLICATE = "duplicate SKU rows"
    NO_SKU = "rows without SKU"
    SKU_PATTERN = "SKUs the mapping's pattern or length forbids"
    SCHEMA = "product type schema (requirements, counts, byte lengths)"
    MAPPING = "values the mapping cannot translate (units)"
    RECORD = "unreadable records (extra fields, quotes, bytes, size)"
    GZIP = "defects inside a gzip CSV"


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


#: The stored value is not compared (it is the cell as changed, or says nothing more).
UNCHECKED: Final = _Unchecked()
#: The stored value is the case's changed cell of the record's column, stripped.
CELL: Final = "<the changed cell>"


@dataclass(frozen=True)
class Expect:
    """One quarantine record a case must produce.

    :param rule: the rule, exactly; or a prefix ending in "." (``product_type_schema.``).
    :param column: ``quarantine.column_name``.
    :param value: ``quarantine.value``: :data:`CELL`, a literal (None for NULL), or :data:`UNCHECKED`.
    :param where: how the reason names the place; default ``column '<column>'``.
    :param says: a fragment the reason must hold after the place: it says what is wrong.
    """

    rule: str
    column: str | None
    value: object = CELL
    where: str | None = None
    says: str = ""


Mangle = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Case:
    """A defective (or, with no ``expect``, a tricky but good) catalog row and its fate.

    :param id: also names the row's SKU (``BAD-<ID>``) unless ``cells`` sets one.
    :param base: (SKU, marketplace) of the good row copied.
    :param cells: the cells changed.
    :param expect: the quarantine records of the row; empty: the row is good and must be published.
    :param file: the corpus file it goes to; default that of the base row's marketplace.
    :param twin: cells of a second row written for the case (duplicates), checked like the first.
    :param twin_base: the good row the second row copies, when not ``base``.
    :param twin_file: the file the second row goes to, when not the first's.
    :param mangle: applied to the record's bytes as written (quotes, bytes, extra fields).
    :param last: the record ends its file (an unclosed quote at the end).
    :param defect: a known product defect: the case is expected to fail (``xfail(strict=True)``).
    """

    id: str
    kind: Kind | None
    base: tuple[str, str]
    cells: Mapping[str, str]
    expect: tuple[Expect, ...]
    file: str | None = None
    twin: Mapping[str, str] | None = None
    twin_base: tuple[str, str] | None = None
    twin_file: str | None = None
    mangle: Mangle | None = None
    last: bool = False
    defect: str | None = None

    @property
    def sku(self) -> str:
        prefix = "GOOD-" if not self.expect else "BAD-"
        return self.cells.get("sku", prefix + self.id.upper().replace("_", "-"))


def _e(
    rule: str, column: str | None, value: object = CELL, *, where: str | None = None, says: str = ""
) -> Expect:
    return Expect(rule, column, value, where, says)


# rules as the quarantine table names them
NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
REGEX = "expect_column_values_to_match_regex"
BETWEEN = "expect_column_values_to_be_between"
LENGTH = "expect_column_value_lengths_to_be_between"
CURRENCY_PAIR = "expect_column_pair_values_to_be_in_set"
UNIQUE = "expect_compound_columns_to_be_unique"
COLUMN_EXISTS = "expect_column_to_exist"
UNKNOWN_TYPE = "unknown_product_type"
CP = "content_policy."

# the good rows copied (all in good_rows.csv)
US_SHIRT, US_LUG, US_HP, US_WIRED = (
    ("NW-01M-BLK-M", US),
    ("TT-01-CABIN-GRY", US),
    ("SA-01-WHT", US),
    ("SA-04-BLK", US),
)
CA_SHIRT, CA_LUG, CA_HP = ("NW-01M-WHT-S", CA), ("TT-01-CABIN-GRY", CA), ("SA-01-WHT", CA)
DE_SHIRT, DE_LUG, DE_HP = ("NW-01M-BLK-M", DE), ("TT-01-CABIN-GRY", DE), ("SA-01-BLK", DE)


def _text(n: int, word: str = "Comfortable ") -> str:
    return (word * (n // len(word) + 1))[:n]


def _replace(old: bytes, new: bytes) -> Mangle:
    def mangle(record: bytes) -> bytes:
        assert old in record, (old, record[:80])
        return record.replace(old, new, 1)

    return mangle


def _truncate_after(marker: bytes) -> Mangle:
    def mangle(record: bytes) -> bytes:
        at = record.index(marker) + len(marker)
        return record[:at] + record[len(record.rstrip(b"\r\n")) :]

    return mangle


def _prepend(lines: bytes) -> Mangle:
    return lambda record: lines + record


def _append(extra: bytes) -> Mangle:
    def mangle(record: bytes) -> bytes:
        body = record.rstrip(b"\r\n")
        return body + extra + record[len(body) :]

    return mangle


def _cases(kind: Kind, *rows: tuple[str, tuple[str, str], dict[str, str], tuple[Expect, ...]]) -> list[Case]:
    return [Case(id, kind, base, cells, expect) for id, base, cells, expect in rows]


K = Kind
MP = "marketplace_id"
with GOOD_ROWS.open(encoding="utf-8") as _handle:
    COLUMNS: Final = _handle.readline().strip().split(",")
EXTRACT_MISSING, EXTRACT_UNKNOWN, EXTRACT_UNSERVED = (
    "extract.marketplace_missing",
    "extract.marketplace_unknown",
    "extract.marketplace_not_served",
)

CASES: list[Case] = [
    # -- 1. marketplace scoping: a row that names no configured marketplace reaches no branch --------
    *_cases(
        K.MARKETPLACE,
        # the issue's own example: empty marketplace and currency, which once went out everywhere
        (
            "mkt_empty",
            US_SHIRT,
            {MP: "", "currency": ""},
            (_e(EXTRACT_MISSING, MP, "", says="never means every"),),
        ),
        ("mkt_empty_de", DE_LUG, {MP: ""}, (_e(EXTRACT_MISSING, MP, ""),)),
        ("mkt_blank", CA_HP, {MP: "   "}, (_e(EXTRACT_MISSING, MP, "   "),)),
        ("mkt_typo", US_LUG, {MP: "ATVPDKIKX0DR"}, (_e(EXTRACT_UNKNOWN, MP, says="did you mean"),)),
        ("mkt_lowercase", US_HP, {MP: "atvpdkikx0der"}, (_e(EXTRACT_UNKNOWN, MP, says="case-sensitive"),)),
        (
            "mkt_country_code",
            CA_SHIRT,
            {MP: "CA"},
            (_e(EXTRACT_UNKNOWN, MP, says="not an Amazon marketplace"),),
        ),
        ("mkt_domain", DE_SHIRT, {MP: "amazon.de"}, (_e(EXTRACT_UNKNOWN, MP),)),
        (
            "mkt_zero_width",
            CA_LUG,
            {MP: "A2EUQ1WTGCTBG2\u200b"},
            (_e(EXTRACT_UNKNOWN, MP, "A2EUQ1WTGCTBG2\u200b"),),
        ),
        ("mkt_uk", US_SHIRT, {MP: "A1F83G8C2ARO7P"}, (_e(EXTRACT_UNSERVED, MP, says="is not configured"),)),
        ("mkt_fr", DE_HP, {MP: "A13V1IB3VIYZZH"}, (_e(EXTRACT_UNSERVED, MP),)),
        ("mkt_jp", US_WIRED, {MP: "A1VC38T7YXB528"}, (_e(EXTRACT_UNSERVED, MP),)),
        ("mkt_mx", CA_SHIRT, {MP: "A1AM78C64UM0Y8", "currency": "MXN"}, (_e(EXTRACT_UNSERVED, MP),)),
    ),
    # PostgreSQL cannot store a NUL: the record must still be written, the NUL shown as an escape
    Case(
        "mkt_nul",
        K.MARKETPLACE,
        US_SHIRT,
        {MP: "ATVPDKIKX0DER\x00"},
        (_e(EXTRACT_UNKNOWN, MP, "ATVPDKIKX0DER\\x00"),),
    ),
    Case("mkt_empty_no_sku", K.MARKETPLACE, DE_SHIRT, {"sku": "", MP: ""}, (_e(EXTRACT_MISSING, MP, ""),)),
    # -- currency must be the marketplace's ------------------------------------------------------------
    *_cases(
        K.CURRENCY,
        ("cur_us_cad", US_SHIRT, {"currency": "CAD"}, (_e(CURRENCY_PAIR, "currency", says="(USD)"),)),
        ("cur_us_eur", US_LUG, {"currency": "EUR"}, (_e(CURRENCY_PAIR, "currency"),)),
        ("cur_ca_usd", CA_HP, {"currency": "USD"}, (_e(CURRENCY_PAIR, "currency", says="(CAD)"),)),
        ("cur_de_usd", DE_SHIRT, {"currency": "USD"}, (_e(CURRENCY_PAIR, "currency", says="(EUR)"),)),
        ("cur_de_cad", DE_HP, {"currency": "CAD"}, (_e(CURRENCY_PAIR, "currency"),)),
        ("cur_de_gbp", DE_LUG, {"currency": "GBP"}, (_e(CURRENCY_PAIR, "currency"), _e(IN_SET, "currency"))),
        (
            "cur_us_lowercase",
            US_HP,
            {"currency": "usd"},
            (_e(CURRENCY_PAIR, "currency"), _e(IN_SET, "currency")),
        ),
    ),
    # -- 3. content policy -----------------------------------------------------------------------------
    *_cases(
        K.CONTROL,
        (
            "ctl_nul",
            US_SHIRT,
            {"title": "Northwind Apparel Men's Crew Tee\x00, Black"},
            (
                _e(
                    CP + "control_characters",
                    "title",
                    "Northwind Apparel Men's Crew Tee\\x00, Black",
                    says="NUL",
                ),
            ),
        ),
        (
            "ctl_bell",
            US_LUG,
            {"brand": "Trailhead\x07 Travel"},
            (_e(CP + "control_characters", "brand", "Trailhead\\x07 Travel", says="BELL"),),
        ),
        (
            "ctl_ansi",
            US_HP,
            {"title": "\x1b[31mSonora Audio Buds\x1b[0m Wireless Earbuds"},
            (_e(CP + "control_characters", "title", UNCHECKED, says="ANSI escape"),),
        ),
        (
            "ctl_c1_csi",
            CA_SHIRT,
            {"bullets": "\x9b1mMade from 100% cotton|Relaxed fit"},
            (_e(CP + "control_characters", "bullets", UNCHECKED, says="ANSI escape"),),
        ),
        (
            "ctl_c1_nel",
            CA_LUG,
            {"description": "A carry-on\x85that rolls."},
            (_e(CP + "control_characters", "description", "A carry-on\\x85that rolls.", says="NEXT LINE"),),
        ),
        ("ctl_nul_sku", US_SHIRT, {"sku": "BAD-NUL\x00"}, (_e(REGEX, "sku", "BAD-NUL\\x00"),)),
        (
            "ctl_nul_currency",
            US_SHIRT,
            {"currency": "US\x00D"},
            (_e(IN_SET, "currency", "US\\x00D"), _e(CURRENCY_PAIR, "currency", "US\\x00D")),
        ),
        (
            "ctl_del",
            DE_HP,
            {"model": "SA-01\x7f"},
            (_e(CP + "control_characters", "model", "SA-01\\x7f", says="DELETE"),),
        ),
        (
            "ctl_backspace",
            DE_SHIRT,
            {"title": "Northwind Herren T-Shirt\x08, Schwarz"},
            (_e(CP + "control_characters", "title", UNCHECKED, says="BACKSPACE"),),
        ),
        (
            "ctl_vertical_tab",
            US_SHIRT,
            {"description": "Soft cotton.\x0bMachine washable."},
            (_e(CP + "control_characters", "description", UNCHECKED, says="VERTICAL TAB"),),
        ),
        (
            "ctl_form_feed",
            DE_LUG,
            {"bullets": "Leicht\x0c|Robust"},
            (_e(CP + "control_characters", "bullets", UNCHECKED, says="FORM FEED"),),
        ),
    ),
    *_cases(
        K.INVISIBLE,
        (
            "inv_rlo",
            US_SHIRT,
            {"title": "Northwind Apparel Crew Tee \u202eeeT weN"},
            (
                _e(
                    CP + "invisible_characters",
                    "title",
                    "Northwind Apparel Crew Tee \\u202eeeT weN",
                    says="U+202E",
                ),
            ),
        ),
        (
            "inv_zwsp",
            US_HP,
            {"brand": "Sonora\u200bAudio"},
            (_e(CP + "invisible_characters", "brand", "Sonora\\u200bAudio"),),
        ),
        (
            "inv_bom",
            CA_HP,
            {"bullets": "\ufeffBalanced sound|Soft cushions"},
            (_e(CP + "invisible_characters", "bullets", UNCHECKED),),
        ),
        (
            "inv_isolate",
            DE_SHIRT,
            {"description": "Aus \u2066100 % Baumwolle\u2069."},
            (_e(CP + "invisible_characters", "description", UNCHECKED, says="U+2066"),),
        ),
        # a word joiner hides a banned term from the word match: the invisible rule still sees it
        (
            "inv_hides_banned_term",
            US_LUG,
            {"title": "Trailhead Travel Fa\u2060ke Voyager Spinner"},
            (_e(CP + "invisible_characters", "title", UNCHECKED, says="U+2060"),),
        ),
        (
            "inv_zwj",
            CA_SHIRT,
            {"model": "NW-01M\u200d"},
            (_e(CP + "invisible_characters", "model", UNCHECKED),),
        ),
        (
            "inv_lre",
            DE_HP,
            {"title": "\u202aSonora Audio Buds"},
            (_e(CP + "invisible_characters", "title", UNCHECKED),),
        ),
    ),
    *_cases(
        K.EMOJI,
        (
            "emoji_fire",
            US_SHIRT,
            {"title": "Northwind Crew Tee \U0001f525 Hot"},
            (_e(CP + "emoji", "title", says="emoji"),),
        ),
        ("emoji_star", US_LUG, {"title": "\u2b50 Trailhead Voyager Spinner"}, (_e(CP + "emoji", "title"),)),
        (
            "emoji_heart",
            CA_SHIRT,
            {"title": "Northwind Tee \u2764\ufe0f Cotton"},
            (_e(CP + "emoji", "title"),),
        ),
        (
            "emoji_flag",
            DE_SHIRT,
            {"title": "Northwind T-Shirt \U0001f1e9\U0001f1ea"},
            (_e(CP + "emoji", "title"),),
        ),
        (
            "emoji_keycap",
            US_HP,
            {"title": "Sonora Buds 1\ufe0f\u20e3 Wireless"},
            (_e(CP + "emoji", "title"),),
        ),
        (
            "emoji_skin_tone",
            CA_HP,
            {"title": "Sonora Buds \U0001f44d\U0001f3fd"},
            (_e(CP + "emoji", "title"),),
        ),
        # the trade mark sign is allowed as text, not in its emoji form
        (
            "emoji_tm_presentation",
            DE_LUG,
            {"title": "Trailhead\u2122\ufe0f Voyager"},
            (_e(CP + "emoji", "title"),),
        ),
    ),
    *_cases(
        K.LINE_BREAK,
        (
            "lb_lf_title",
            US_SHIRT,
            {"title": "Northwind Crew Tee\nBlack, Size M"},
            (_e(CP + "line_breaks", "title", UNCHECKED, says="LINE FEED"),),
        ),
        (
            "lb_crlf_brand",
            CA_LUG,
            {"brand": "Trailhead\r\nTravel"},
            (_e(CP + "line_breaks", "brand", UNCHECKED, says="CARRIAGE RETURN"),),
        ),
        (
            "lb_tab_title",
            DE_HP,
            {"title": "Sonora Buds\tSchwarz"},
            (_e(CP + "line_breaks", "title", UNCHECKED, says="a tab"),),
        ),
        (
            "lb_line_separator",
            US_HP,
            {"bullets": "Balanced sound\u2028Soft cushions|Two-year warranty"},
            (_e(CP + "line_breaks", "bullets", UNCHECKED, says="U+2028"),),
        ),
        ("lb_cr_model", US_LUG, {"model": "TT-01\rCABIN"}, (_e(CP + "line_breaks", "model", UNCHECKED),)),
        (
            "lb_lf_bullet",
            DE_SHIRT,
            {"bullets": "Aus 100 % Baumwolle|Bequeme\nPassform"},
            (_e(CP + "line_breaks", "bullets", UNCHECKED),),
        ),
    ),
    *_cases(
        K.PLACEHOLDER,
        ("ph_title_na", US_SHIRT, {"title": "N/A"}, (_e(CP + "placeholders", "title", says="placeholder"),)),
        ("ph_brand_null", CA_SHIRT, {"brand": "NULL"}, (_e(CP + "placeholders", "brand"),)),
        (
            "ph_bullet_tbd",
            US_LUG,
            {"bullets": "TBD|4 smooth-rolling wheels"},
            (_e(CP + "placeholders", "bullets", says="'TBD'"),),
        ),
        ("ph_model_dash", US_HP, {"model": "-"}, (_e(CP + "placeholders", "model"),)),
        ("ph_description_dots", DE_SHIRT, {"description": "..."}, (_e(CP + "placeholders", "description"),)),
        ("ph_title_excel_na", DE_LUG, {"title": "#N/A"}, (_e(CP + "placeholders", "title"),)),
        ("ph_sku_null", US_SHIRT, {"sku": "NULL"}, (_e(CP + "placeholders", "sku"),)),
        ("ph_brand_tba_lowercase", CA_HP, {"brand": "tba"}, (_e(CP + "placeholders", "brand"),)),
        (
            "ph_description_undefined",
            CA_LUG,
            {"description": "undefined"},
            (_e(CP + "placeholders", "description"),),
        ),
        ("ph_model_xxx", DE_HP, {"model": "XXX"}, (_e(CP + "placeholders", "model"),)),
        ("ph_title_ellipsis", US_WIRED, {"title": "\u2026"}, (_e(CP + "placeholders", "title"),)),
    ),
    *_cases(
        K.FORMULA,
        (
            "fx_hyperlink",
            US_SHIRT,
            {"title": '=HYPERLINK("http://evil.example","Click here")'},
            (_e(CP + "formula_prefixes", "title", says="formula"),),
        ),
        ("fx_plus", US_LUG, {"brand": "+cmd|' /C calc'!A0"}, (_e(CP + "formula_prefixes", "brand"),)),
        (
            "fx_at_bullet",
            CA_SHIRT,
            {"bullets": "Made from 100% cotton|@SUM(1+1)*cmd|' /C calc'!A0"},
            (_e(CP + "formula_prefixes", "bullets", says="'@SUM"),),
        ),
        (
            "fx_minus",
            DE_HP,
            {"description": "-2+3+cmd|' /C calc'!A0"},
            (_e(CP + "formula_prefixes", "description"),),
        ),
        ("fx_model", CA_HP, {"model": "=1+1"}, (_e(CP + "formula_prefixes", "model"),)),
        # white space before the sign is stripped before the value is sent, so it hides nothing
        (
            "fx_padded",
            DE_SHIRT,
            {"title": "   =SUM(A1:A9)"},
            (_e(CP + "formula_prefixes", "title", "=SUM(A1:A9)"),),
        ),
        (
            "fx_minus_bullet",
            DE_LUG,
            {"bullets": "Stabil|-cmd /c calc"},
            (_e(CP + "formula_prefixes", "bullets"),),
        ),
    ),
    *_cases(
        K.CREDENTIALS,
        (
            "cred_image",
            US_SHIRT,
            {"image_url": "https://shop:s3cret@images.northwind.example/NW-01M-BLK-M.jpg"},
            (
                _e(
                    CP + "url_credentials",
                    "image_url",
                    "https://***@images.northwind.example/NW-01M-BLK-M.jpg",
                    says="https://***@images",
                ),
            ),
        ),
        (
            "cred_user_only",
            CA_LUG,
            {"image_url": "https://admin@images.trailhead.example/TT-01.jpg"},
            (_e(CP + "url_credentials", "image_url", "https://***@images.trailhead.example/TT-01.jpg"),),
        ),
        (
            "cred_description",
            DE_HP,
            {"description": "Anleitung: https://dealer:hunter2@files.sonora.example/manual.pdf"},
            (
                _e(
                    CP + "url_credentials",
                    "description",
                    "Anleitung: https://***@files.sonora.example/manual.pdf",
                ),
            ),
        ),
        (
            "cred_ftp_bullet",
            US_HP,
            {"bullets": "Firmware at ftp://u:p@ftp.sonora.example/fw|Two-year warranty"},
            (_e(CP + "url_credentials", "bullets", UNCHECKED),),
        ),
    ),
    *_cases(
        K.IMAGE_URL,
        (
            "img_http",
            US_LUG,
            {"image_url": "http://images.trailhead.example/TT-01.jpg"},
            (_e(CP + "image_url", "image_url", says="https://"),),
        ),
        (
            "img_no_extension",
            CA_SHIRT,
            {"image_url": "https://images.northwind.example/NW-01M"},
            (_e(CP + "image_url", "image_url"),),
        ),
        (
            "img_webp",
            DE_SHIRT,
            {"image_url": "https://images.northwind.example/NW-01M.webp"},
            (_e(CP + "image_url", "image_url"),),
        ),
        (
            "img_protocol_relative",
            US_HP,
            {"image_url": "//images.sonora.example/SA-01.jpg"},
            (_e(CP + "image_url", "image_url"),),
        ),
        (
            "img_data_uri",
            CA_HP,
            {"image_url": "data:image/png;base64,iVBORw0KGgo="},
            (_e(CP + "image_url", "image_url"),),
        ),
        (
            "img_space",
            DE_LUG,
            {"image_url": "https://images.trailhead.example/my image.jpg"},
            (_e(CP + "image_url", "image_url"),),
        ),
        (
            "img_javascript",
            US_SHIRT,
            {"image_url": "javascript:alert(1)//x.jpg"},
            (_e(CP + "image_url", "image_url"),),
        ),
    ),
    *_cases(
        K.IDENTIFIER,
        (
            "upc_check_digit",
            US_SHIRT,
            {"upc": "084034910659"},
            (_e(CP + "product_identifiers", "upc", says="check digit"),),
        ),
        (
            "upc_transposed",
            US_LUG,
            {"upc": "086030177873"},
            (_e(CP + "product_identifiers", "upc", says="check digit"),),
        ),
        ("upc_check_digit_ca", CA_LUG, {"upc": "086030177830"}, (_e(CP + "product_identifiers", "upc"),)),
        (
            "upc_11_digits",
            CA_HP,
            {"upc": "08701135311"},
            (_e(CP + "product_identifiers", "upc", says="11 digits"), _e(REGEX, "upc")),
        ),
        (
            "upc_letter_o",
            CA_SHIRT,
            {"upc": "08403491065O"},
            (_e(CP + "product_identifiers", "upc", says="digits only"), _e(REGEX, "upc")),
        ),
        (
            "ean_check_digit",
            DE_SHIRT,
            {"ean": "0084034910651"},
            (_e(CP + "product_identifiers", "ean", says="check digit"),),
        ),
        ("ean_check_digit_lug", DE_LUG, {"ean": "0086030177831"}, (_e(CP + "product_identifiers", "ean"),)),
        (
            "ean_12_digits",
            DE_HP,
            {"ean": "008701135311"},
            (_e(CP + "product_identifiers", "ean"), _e(REGEX, "ean")),
        ),
        # the US listing sends the UPC, but a wrong EAN in the same row is still a wrong EAN
        ("ean_bad_on_us_row", US_WIRED, {"ean": "0087053308100"}, (_e(CP + "product_identifiers", "ean"),)),
    ),
    *_cases(
        K.CROSS_FIELD,
        (
            "xf_expanded_smaller",
            US_LUG,
            {"capacity_l": "38", "expanded_capacity_l": "30"},
            (_e(CP + "expanded_capacity_ge_capacity", "expanded_capacity_l", says="capacity_l"),),
        ),
        (
            "xf_expanded_decimal",
            CA_LUG,
            {"capacity_l": "38", "expanded_capacity_l": "37.5"},
            (_e(CP + "expanded_capacity_ge_capacity", "expanded_capacity_l"),),
        ),
        (
            "xf_expanded_de",
            DE_LUG,
            {"capacity_l": "105", "expanded_capacity_l": "95"},
            (_e(CP + "expanded_capacity_ge_capacity", "expanded_capacity_l"),),
        ),
    ),
    *_cases(
        K.BANNED,
        (
            "ban_replica",
            US_SHIRT,
            {"title": "Northwind Replica Crew Tee, Black"},
            (_e(CP + "banned_terms", "title", says="'replica'"),),
        ),
        (
            "ban_counterfeit",
            CA_SHIRT,
            {"description": "Not a Counterfeit: the classic crew tee."},
            (_e(CP + "banned_terms", "description", says="'counterfeit'"),),
        ),
        (
            "ban_knock_off",
            US_LUG,
            {"bullets": "Not a knock-off|4 wheels"},
            (_e(CP + "banned_terms", "bullets"),),
        ),
        (
            "ban_number_one",
            US_HP,
            {"title": "Sonora Buds, the #1 Wireless Earbuds"},
            (_e(CP + "banned_terms", "title", says="'#1'"),),
        ),
        (
            "ban_free_shipping",
            DE_HP,
            {"description": "Sonora Buds. Free Shipping!"},
            (_e(CP + "banned_terms", "description"),),
        ),
        ("ban_best_seller_brand", CA_HP, {"brand": "Best Seller Audio"}, (_e(CP + "banned_terms", "brand"),)),
        (
            "ban_on_sale",
            DE_SHIRT,
            {"bullets": "Aus Baumwolle|Jetzt on sale"},
            (_e(CP + "banned_terms", "bullets"),),
        ),
        (
            "ban_lowest_price",
            CA_LUG,
            {"description": "Guaranteed lowest price on the Voyager."},
            (_e(CP + "banned_terms", "description"),),
        ),
        ("ban_fake", DE_LUG, {"title": "Trailhead Fake Voyager Koffer"}, (_e(CP + "banned_terms", "title"),)),
        (
            "ban_hot_deal",
            US_WIRED,
            {"title": "Hot Deal: Sonora Studio Wired Headphones"},
            (_e(CP + "banned_terms", "title"),),
        ),
    ),
    *_cases(
        K.HTML,
        (
            "html_bold",
            US_HP,
            {"title": "Sonora Audio <b>Sonora Buds</b> Earbuds"},
            (_e(CP + "html", "title", says="'<b>'"),),
        ),
        (
            "html_entity",
            US_SHIRT,
            {"brand": "Northwind &amp; Co"},
            (_e(CP + "html", "brand", says="'&amp;'"),),
        ),
        ("html_br", CA_SHIRT, {"bullets": "Soft<br/>cotton|Relaxed fit"}, (_e(CP + "html", "bullets"),)),
        (
            "html_paragraph",
            DE_SHIRT,
            {"description": '<p class="lead">Klassisches T-Shirt.</p>'},
            (_e(CP + "html", "description"),),
        ),
        (
            "html_script",
            CA_HP,
            {"description": "<script>alert(1)</script> Sonora Buds"},
            (_e(CP + "html", "description"),),
        ),
        ("html_numeric_entity", DE_HP, {"title": "Sonora &#174; Buds In-Ear"}, (_e(CP + "html", "title"),)),
    ),
    *_cases(
        K.TOO_LONG,
        (
            "long_title_151",
            US_SHIRT,
            {"title": _text(151)},
            (_e(CP + "max_length", "title", says="at most 150"),),
        ),
        (
            "long_title_201",
            CA_LUG,
            {"title": _text(201)},
            (_e(CP + "max_length", "title"), _e(LENGTH, "title", UNCHECKED)),
        ),
        (
            "long_bullet_256",
            US_HP,
            {"bullets": "Short|" + _text(256)},
            (_e(CP + "max_length", "bullets", UNCHECKED),),
        ),
        (
            "long_description_2001",
            DE_SHIRT,
            {"description": _text(2001)},
            (_e(CP + "max_length", "description", UNCHECKED),),
        ),
        ("long_brand_51", DE_HP, {"brand": _text(51, "Sonora ")}, (_e(CP + "max_length", "brand"),)),
        ("long_model_41", CA_SHIRT, {"model": "NW-" + "1" * 38}, (_e(LENGTH, "model"),)),
    ),
    *_cases(
        K.PRICE,
        ("price_negative", US_SHIRT, {"price": "-17.99"}, (_e(BETWEEN, "price", says="below the minimum"),)),
        ("price_zero", CA_SHIRT, {"price": "0"}, (_e(BETWEEN, "price"),)),
        ("price_minus_zero", DE_LUG, {"price": "-0.00"}, (_e(BETWEEN, "price"),)),
        ("price_word", US_LUG, {"price": "abc"}, (_e(REGEX, "price", says="not a number"),)),
        ("price_decimal_comma", DE_SHIRT, {"price": "16,99"}, (_e(REGEX, "price"),)),
        ("price_dollar", US_HP, {"price": "$128.99"}, (_e(REGEX, "price"),)),
        ("price_with_currency", DE_HP, {"price": "119.99 EUR"}, (_e(REGEX, "price"),)),
        ("price_too_high", CA_LUG, {"price": "10000.01"}, (_e(BETWEEN, "price", says="above the maximum"),)),
        ("price_nan", US_WIRED, {"price": "NaN"}, (_e(REGEX, "price"), _e(CP + "placeholders", "price"))),
        # never rounded to a price the seller did not write (a float artifact is a good row, below)
        (
            "price_three_decimals",
            CA_SHIRT,
            {"price": "24.999"},
            (_e("mapping", "price", says="decimal places"),),
        ),
    ),
    *_cases(
        K.QUANTITY,
        ("qty_fraction", US_SHIRT, {"quantity": "2.5"}, (_e(REGEX, "quantity", says="whole number"),)),
        ("qty_word", CA_HP, {"quantity": "ten"}, (_e(REGEX, "quantity"),)),
        ("qty_negative", DE_SHIRT, {"quantity": "-1"}, (_e(BETWEEN, "quantity"),)),
        ("qty_thousands", US_LUG, {"quantity": "1,000"}, (_e(REGEX, "quantity"),)),
        ("qty_point_zero", CA_SHIRT, {"quantity": "5.0"}, (_e(REGEX, "quantity"),)),
        ("qty_too_many", DE_HP, {"quantity": "100001"}, (_e(BETWEEN, "quantity"),)),
    ),
    *_cases(
        K.ENUM,
        ("enum_color", US_SHIRT, {"color": "BLCK"}, (_e(IN_SET, "color", says="BLK"),)),
        ("enum_fit", CA_SHIRT, {"fit": "X"}, (_e(IN_SET, "fit"),)),
        ("enum_fabric", DE_SHIRT, {"fabric": "WOOL"}, (_e(IN_SET, "fabric"),)),
        ("enum_size", US_SHIRT, {"size": "XXXL"}, (_e(IN_SET, "size"),)),
        ("enum_sleeve", US_SHIRT, {"sleeve": "3Q"}, (_e(IN_SET, "sleeve"),)),
        ("enum_color_lowercase", DE_SHIRT, {"color": "blk"}, (_e(IN_SET, "color"),)),
        ("enum_luggage_size", US_LUG, {"luggage_size": "HUGE"}, (_e(IN_SET, "luggage_size"),)),
        ("enum_wheel_type", CA_LUG, {"wheel_type": "TRACK"}, (_e(IN_SET, "wheel_type"),)),
        ("enum_lock", DE_LUG, {"lock": "PADLOCK"}, (_e(IN_SET, "lock"),)),
        ("enum_weight_unit", US_LUG, {"weight_unit": "STONE"}, (_e(IN_SET, "weight_unit"),)),
        ("enum_expandable", CA_LUG, {"expandable": "maybe"}, (_e(REGEX, "expandable", says="yes/no"),)),
        ("enum_form_factor", US_HP, {"form_factor": "BONE"}, (_e(IN_SET, "form_factor"),)),
        ("enum_connectivity", CA_HP, {"connectivity": "BT|NFC"}, (_e(REGEX, "connectivity"),)),
        ("enum_country", DE_HP, {"country_of_origin": "XX"}, (_e(IN_SET, "country_of_origin"),)),
        ("enum_bt_version", US_HP, {"bt_version": "6.0"}, (_e(IN_SET, "bt_version"),)),
        ("enum_anc", DE_HP, {"anc": "MAYBE"}, (_e(IN_SET, "anc"),)),
    ),
    *_cases(
        K.PRODUCT_TYPE,
        (
            "pt_plural",
            US_SHIRT,
            {"product_type": "SHIRTS"},
            (_e(UNKNOWN_TYPE, "product_type", says="no catalog mapping"),),
        ),
        ("pt_unknown", CA_LUG, {"product_type": "BACKPACK"}, (_e(UNKNOWN_TYPE, "product_type"),)),
        ("pt_empty", DE_HP, {"product_type": ""}, (_e(UNKNOWN_TYPE, "product_type", None),)),
        (
            "pt_nul",
            US_SHIRT,
            {"product_type": "SHIRT\x00"},
            (_e(UNKNOWN_TYPE, "product_type", "SHIRT\\x00"),),
        ),
    ),
    *_cases(
        K.REQUIRED,
        ("req_title", US_SHIRT, {"title": ""}, (_e(NOT_NULL, "title", None, says="is empty"),)),
        ("req_brand_blank", CA_HP, {"brand": "   "}, (_e(NOT_NULL, "brand", None),)),
        ("req_price", DE_LUG, {"price": ""}, (_e(NOT_NULL, "price", None),)),
        ("req_quantity", US_HP, {"quantity": ""}, (_e(NOT_NULL, "quantity", None),)),
        ("req_image_url", CA_SHIRT, {"image_url": ""}, (_e(NOT_NULL, "image_url", None),)),
        ("req_color", DE_SHIRT, {"color": ""}, (_e(NOT_NULL, "color", None),)),
        ("req_wheels", US_LUG, {"wheels": ""}, (_e(NOT_NULL, "wheels", None),)),
        ("req_dg_hz", DE_HP, {"dg_hz": ""}, (_e(NOT_NULL, "dg_hz", None),)),
        ("req_bullets_shirt", CA_SHIRT, {"bullets": ""}, (_e(NOT_NULL, "bullets", None),)),
    ),
    *[
        Case(
            f"nocol_fit_{i}",
            K.MISSING_COLUMN,
            base,
            {},
            (_e(COLUMN_EXISTS, "fit", None, says="not in the catalog"),),
            file=NOFIT_FILE,
        )
        for i, base in enumerate((US_SHIRT, ("NW-01M-WHT-M", US)), start=1)
    ],
    # -- duplicates: both rows are set aside (which one is right cannot be known) --------------------
    Case("dup_same", K.DUPLICATE, US_SHIRT, {}, (_e(UNIQUE, "sku", says="more than once"),), twin={}),
    Case(
        "dup_other_price",
        K.DUPLICATE,
        CA_SHIRT,
        {"price": "24.99"},
        (_e(UNIQUE, "sku"),),
        twin={"price": "19.99"},
    ),
    Case("dup_de", K.DUPLICATE, DE_LUG, {}, (_e(UNIQUE, "sku"),), twin={"quantity": "3"}),
    Case(
        "dup_across_types",
        K.DUPLICATE,
        US_HP,
        {},
        (_e(UNIQUE, "sku", says="as product types"),),
        twin={},
        twin_base=US_SHIRT,
    ),
    # two exports of one catalog overlap: the same SKU in two files of the glob
    Case(
        "dup_across_files",
        K.DUPLICATE,
        DE_HP,
        {},
        (_e(UNIQUE, "sku"),),
        twin={"price": "99.99"},
        twin_file="gz.csv.gz",
    ),
    Case(
        "dup_padded",
        K.DUPLICATE,
        US_LUG,
        {"sku": "BAD-DUP-PADDED"},
        (_e(UNIQUE, "sku", "BAD-DUP-PADDED"),),
        twin={"sku": " BAD-DUP-PADDED "},
    ),
    *_cases(
        K.NO_SKU,
        ("nosku_us", US_SHIRT, {"sku": ""}, (_e(NOT_NULL, "sku", None),)),
        ("nosku_blank", CA_LUG, {"sku": "   "}, (_e(NOT_NULL, "sku", None),)),
        ("nosku_de", DE_HP, {"sku": ""}, (_e(NOT_NULL, "sku", None),)),
    ),
    *_cases(
        K.SKU_PATTERN,
        ("sku_spaces", US_SHIRT, {"sku": "BAD SKU SPACES"}, (_e(REGEX, "sku", says="pattern"),)),
        ("sku_lowercase", CA_SHIRT, {"sku": "bad-lowercase"}, (_e(REGEX, "sku"),)),
        ("sku_slash", US_LUG, {"sku": "BAD/SLASH"}, (_e(REGEX, "sku"),)),
        ("sku_underscore", DE_SHIRT, {"sku": "BAD_UNDERSCORE"}, (_e(REGEX, "sku"),)),
        ("sku_leading_dash", US_HP, {"sku": "-BAD-LEADING-DASH"}, (_e(REGEX, "sku"),)),
        ("sku_hash", CA_HP, {"sku": "BAD#HASH"}, (_e(REGEX, "sku"),)),
        ("sku_umlaut", DE_LUG, {"sku": "BAD-\u00dcBER"}, (_e(REGEX, "sku"),)),
        ("sku_too_long", DE_HP, {"sku": "BAD-" + "L" * 37}, (_e(LENGTH, "sku"),)),
    ),
    # -- passes every column rule, fails the product type's conditional requirements -----------------
    *_cases(
        K.SCHEMA,
        (
            "schema_bt_version",
            US_HP,
            {"bt_version": ""},
            (_e("product_type_schema.", "bt_version", None, says="'bluetooth_version' is required"),),
        ),
        (
            "schema_bt_version_ca",
            CA_HP,
            {"bt_version": ""},
            (_e("product_type_schema.", "bt_version", None),),
        ),
        (
            "schema_batteries_required",
            DE_HP,
            {"needs_battery": ""},
            (_e("product_type_schema.", "needs_battery", None),),
        ),
        (
            "schema_batteries_included",
            US_HP,
            {"battery_included": ""},
            (_e("product_type_schema.", "battery_included", None),),
        ),
        ("schema_battery", CA_HP, {"battery_type": ""}, (_e("product_type_schema.", "battery_type", None),)),
        (
            "schema_lithium_cells",
            DE_HP,
            {"battery_cells": ""},
            (_e("product_type_schema.", "battery_cells", None),),
        ),
        # the identifier is required; which column feeds it depends on the marketplace
        ("schema_upc_missing", US_SHIRT, {"upc": ""}, (_e("product_type_schema.", "upc", None),)),
        ("schema_ean_missing", DE_SHIRT, {"ean": ""}, (_e("product_type_schema.", "ean", None),)),
        # a shirt needs bullets: separators alone hold none
        (
            "schema_bullets_only_separators",
            US_SHIRT,
            {"bullets": "|||"},
            (_e("product_type_schema.", "bullets"),),
        ),
        (
            "schema_six_bullets",
            CA_SHIRT,
            {"bullets": "Cotton|Relaxed fit|Tagless|Machine wash|Pre-shrunk|Made to last"},
            (_e("product_type_schema.", "bullets", UNCHECKED, says="number of values"),),
        ),
        # length, width and height are each refused
        (
            "schema_zero_dimensions",
            US_SHIRT,
            {"dimensions_cm": "0x0x0"},
            tuple(_e("product_type_schema.", "dimensions_cm") for _ in range(3)),
        ),
        # 67 characters pass the 150-character policy; 201 UTF-8 bytes do not pass Amazon's 200
        (
            "schema_title_bytes",
            DE_HP,
            {"title": "\u20ac" * 67},
            (_e("product_type_schema.", "title", UNCHECKED, says="UTF-8 bytes"),),
        ),
    ),
    *_cases(
        K.MAPPING,
        # "in" is not taken for centimeters: the row is set aside, not sent 2.54 times too small
        (
            "map_dimensions_in_inches",
            US_HP,
            {"dimensions_cm": "4x3x2 in"},
            (_e("mapping", "dimensions_cm", says="unknown unit 'in'"),),
        ),
        (
            "map_weight_without_unit",
            CA_SHIRT,
            {"weight_unit": ""},
            (_e("mapping", "weight", UNCHECKED, says="has no unit"),),
        ),
    ),
    # -- 4. records that cannot be read: set aside with their line, the file goes on -----------------
    Case(
        "rec_extra_fields",
        K.RECORD,
        US_SHIRT,
        {},
        (
            _e(
                "extract.extra_fields",
                None,
                "EXTRA,VALUES",
                where="field 43, past the header's 42 columns",
                says="44 fields where the header has 42",
            ),
        ),
        file="records.csv",
        mangle=_append(b",EXTRA,VALUES"),
    ),
    # an unquoted comma shifts the row: its last value lands past the header
    Case(
        "rec_unquoted_comma",
        K.RECORD,
        CA_SHIRT,
        {"title": "Northwind Tee WHITE-S"},
        (_e("extract.extra_fields", None, UNCHECKED, where="field 43, past the header's 42 columns"),),
        file="records.csv",
        mangle=_replace(b"Northwind Tee WHITE-S", b"Northwind Tee, WHITE-S"),
    ),
    # a quote opens the last field in the middle of the file and swallows the lines after it, until
    # another record's quote closes it: the swallowed lines are read again as records of their own
    Case(
        "rec_stray_quote_swallows",
        K.RECORD,
        US_WIRED,
        {"dimensions_cm": "20x18x9"},
        (_e("extract.malformed_record", "dimensions_cm", UNCHECKED, says="read again"),),
        file="records.csv",
        mangle=_replace(b",20x18x9\n", b',"20x18x9\n'),
    ),
    Case(
        "rec_stray_quote",
        K.RECORD,
        DE_SHIRT,
        {"brand": "Northwind Apparel STRAY"},
        (_e("extract.malformed_record", "brand", UNCHECKED, says="a quote ends the quoted value"),),
        file="records.csv",
        mangle=_replace(b",Northwind Apparel STRAY,", b',"Northwind Apparel STRAY,'),
    ),
    Case(
        "rec_inner_quote",
        K.RECORD,
        US_LUG,
        {"title": "Trailhead VOYAGER Spinner, Gray"},
        (_e("extract.malformed_record", "title", UNCHECKED, says='doubled ("")'),),
        file="records.csv",
        mangle=_replace(b'"Trailhead VOYAGER Spinner, Gray"', b'"Trailhead "Voyager" Spinner, Gray"'),
    ),
    Case(
        "rec_invalid_utf8",
        K.RECORD,
        DE_HP,
        {"title": "Sonora Buds INVALID"},
        (_e("extract.encoding", "title", "Sonora Buds \\xff\\xfe", says="not valid utf-8"),),
        file="records.csv",
        mangle=_replace(b"Sonora Buds INVALID", b"Sonora Buds \xff\xfe"),
    ),
    Case(
        "rec_latin1_byte",
        K.RECORD,
        CA_HP,
        {"brand": "Sonora LATIN1"},
        (_e("extract.encoding", "brand", "Sonora Caf\\xe9", says="cp1252"),),
        file="records.csv",
        mangle=_replace(b"Sonora LATIN1", b"Sonora Caf\xe9"),
    ),
    Case(
        "rec_oversized_field",
        K.RECORD,
        US_HP,
        {"description": "x" * ((1 << 20) + 1)},
        (_e("extract.oversized_field", "description", UNCHECKED, says="over the limit"),),
        file="records.csv",
    ),
    Case(
        "rec_unclosed_at_end",
        K.RECORD,
        DE_LUG,
        {"description": "UNCLOSED description"},
        (_e("extract.malformed_record", "description", UNCHECKED, says="never closed"),),
        file="records.csv",
        mangle=_replace(b",UNCLOSED description,", b',"UNCLOSED description,'),
        last=True,
    ),
    # a record cut short: the missing cells are empty, and the required ones say so
    Case(
        "rec_short_row",
        K.RECORD,
        US_SHIRT,
        {"model": "SHORTROW", "price": "17.99"},
        (_e(NOT_NULL, "quantity", None), _e(NOT_NULL, "image_url", None)),
        file="records.csv",
        mangle=_truncate_after(b"SHORTROW,17.99"),
    ),
    # two exports pasted together: the second header is a row for no marketplace
    Case(
        "rec_repeated_header",
        K.RECORD,
        CA_LUG,
        {c: c for c in COLUMNS},
        (_e(EXTRACT_UNKNOWN, MP, "marketplace_id"),),
        file="records.csv",
    ),
    # -- a gzip CSV (CRLF line ends) is read like any other, one bad record at a time ----------------
    Case(
        "gz_invalid_utf8",
        K.GZIP,
        US_SHIRT,
        {"brand": "Northwind GZBYTES"},
        (_e("extract.encoding", "brand", "Northwind \\xc3(", says="not valid utf-8"),),
        file="gz.csv.gz",
        mangle=_replace(b"Northwind GZBYTES", b"Northwind \xc3\x28"),
    ),
    Case(
        "gz_extra_fields",
        K.GZIP,
        DE_SHIRT,
        {},
        (_e("extract.extra_fields", None, UNCHECKED, where="field 43, past the header's 42 columns"),),
        file="gz.csv.gz",
        mangle=_append(b",SHIFTED"),
    ),
    Case(
        "gz_currency", K.GZIP, CA_LUG, {"currency": "EUR"}, (_e(CURRENCY_PAIR, "currency"),), file="gz.csv.gz"
    ),
    Case(
        "gz_placeholder",
        K.GZIP,
        US_HP,
        {"title": "TBD"},
        (_e(CP + "placeholders", "title"),),
        file="gz.csv.gz",
    ),
]

#: Rows that look suspicious and are fine: a gate that refused them would be refusing sellers' data.
TRICKY_GOOD: list[Case] = [
    Case(
        "tm_symbols",
        None,
        US_SHIRT,
        {"title": "Northwind\u00ae Apparel\u2122 Crew Tee \u00a9 2026, Black"},
        (),
    ),
    Case(
        "description_lines",
        None,
        CA_SHIRT,
        {"description": "Classic crew tee.\nCut from 100% cotton,\nmachine washable."},
        (),
    ),
    Case("quotes_and_commas", None, US_LUG, {"title": 'Trailhead "Voyager" Spinner, 38 L, Heather Gray'}, ()),
    Case("emoji_in_bullets", None, US_HP, {"bullets": "Balanced sound \U0001f3b5|Two-year warranty"}, ()),
    Case("lock_none", None, DE_LUG, {"lock": "NONE"}, ()),
    Case("product_type_lowercase", None, CA_HP, {"product_type": "headphones"}, ()),
    Case("sku_padded", None, DE_SHIRT, {"sku": "  GOOD-SKU-PADDED  "}, ()),
    Case("marketplace_padded", None, US_WIRED, {MP: " ATVPDKIKX0DER "}, ()),
    Case("currency_empty", None, CA_LUG, {"currency": ""}, ()),
    Case("umlauts", None, DE_SHIRT, {"title": "Northwind Herren T-Shirt, Größe M, Weiß"}, ()),
    Case("gz_good", None, DE_HP, {}, (), file="gz.csv.gz"),
    # a blank line and a line of delimiters only: skipped, and the lines after keep their numbers
    Case("after_blank_lines", None, US_SHIRT, {}, (), mangle=_prepend(b"\n" + b"," * 41 + b"\n")),
    Case("trailing_delimiters", None, CA_SHIRT, {}, (), mangle=_append(b",,,")),
    Case("price_float_artifact", None, DE_SHIRT, {"price": "16.990000000001"}, ()),
    Case("product_type_padded", None, US_LUG, {"product_type": " LUGGAGE "}, ()),
]


# --- writing the files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    """One row of a case as written: the file as the extract names it, its first physical line, and
    its SKU cell stripped (None when empty)."""

    source_file: str
    line: int
    sku: str | None


@dataclass(frozen=True)
class Placed:
    """Where a case's rows landed, and which branch's quarantine must record them."""

    case: Case
    rows: tuple[Landed, ...]
    branch: tuple[str, str]  # (seller, marketplace)


@dataclass
class Corpus:
    """What :func:`write_corpus` wrote and what each branch must end with."""

    shared_glob: str
    nofit_path: str
    placed: dict[str, Placed] = field(default_factory=dict)
    #: (seller, marketplace) -> the SKUs that must be in its built documents, exactly
    published: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: (seller, marketplace) -> rows the extract must count for it
    extracted: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (seller, marketplace) -> rows that must be quarantined
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)
    good_rows: int = 0
    #: (seller, marketplace) -> SKUs live on Amazon before the run: every bad case's SKU, where its
    #: row was meant to be, and one SKU that is truly gone from the catalog
    live: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: (seller, marketplace) -> the SKUs the run may delete: only the truly gone one, and only from a
    #: catalog that was read cleanly (no row set aside by the extract) and holds rows
    deleted: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: (seller, marketplace) -> why the other live SKUs were kept (``run_summaries.withheld_reasons``)
    withheld: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)


def load_good_rows() -> tuple[list[str], list[dict[str, str]]]:
    with GOOD_ROWS.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _field(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def render(header: list[str], row: Mapping[str, str], eol: str = "\n") -> bytes:
    """One CSV record: a field is quoted when it holds a comma, a quote or a line break."""
    return (",".join(_field(row.get(name, "")) for name in header) + eol).encode("utf-8")


_LINE_BREAKS = re.compile(rb"\r\n|\r|\n")
_FILE_OF = {US: "us.csv", CA: "ca.csv", DE: "de.csv"}


def _stripped(value: str) -> str | None:
    return value.strip() or None


Record = tuple[Case | None, dict[str, str]]  # a case's row, or a good row (None)


def write_corpus(
    directory: Path,
    cases: list[Case] | None = None,
    tricky: list[Case] | None = None,
    keep_good: Callable[[dict[str, str]], bool] | None = None,
) -> Corpus:
    """Write the run's files under ``directory``; return where every case landed.

    By default the whole corpus; ``cases``, ``tricky`` and ``keep_good`` (which good rows to mix
    in) narrow it for a quicker run. In each file good rows and cases alternate; the second rows of
    duplicates follow, then the case that must end its file.
    """
    header, good = load_good_rows()
    by_key = {(r["sku"], r["marketplace_id"]): r for r in good}
    chosen = [*(CASES if cases is None else cases), *(TRICKY_GOOD if tricky is None else tricky)]
    shared = directory / "shared"
    shared.mkdir(parents=True)
    corpus = Corpus(shared_glob=str(shared / "*.csv*"), nofit_path=str(directory / NOFIT_FILE))
    names = (*SHARED_FILES, NOFIT_FILE)
    # the good rows each file mixes in: records.csv and the gzip file take a few of each marketplace
    pools: dict[str, list[dict[str, str]]] = {name: [] for name in names}
    seen: Counter[str] = Counter()
    for row in good:
        if keep_good is not None and not keep_good(row):
            continue
        market = row["marketplace_id"]
        seen[market] += 1
        if seen[market] % 9 == 4:
            pools["records.csv"].append(row)
        elif seen[market] % 9 == 7:
            pools["gz.csv.gz"].append(row)
        else:
            pools[_FILE_OF[market]].append(row)
        if market == US and row["product_type"] != "SHIRT" and len(pools[NOFIT_FILE]) < 12:
            pools[NOFIT_FILE].append(row)
    body: dict[str, list[Record]] = {name: [] for name in names}
    twins: dict[str, list[Record]] = {name: [] for name in names}
    last: dict[str, list[Record]] = {name: [] for name in names}
    for name in names:
        mine = [c for c in chosen if (c.file or _FILE_OF[c.base[1]]) == name]
        for i in range(max(len(pools[name]), len(mine))):
            if i < len(pools[name]):
                body[name].append((None, pools[name][i]))
            if i < len(mine):
                case = mine[i]
                row = {**by_key[case.base], "sku": case.sku, **case.cells}
                (last if case.last else body)[name].append((case, row))
                if case.twin is not None:
                    copied = by_key[case.twin_base or case.base]
                    twin = {**copied, "sku": case.sku, **case.cells, **case.twin}
                    twins[case.twin_file or name].append((case, twin))
    landed: dict[str, list[Landed]] = {}
    for name in names:
        path = directory / NOFIT_FILE if name == NOFIT_FILE else shared / name
        columns = [c for c in header if c != "fit"] if name == NOFIT_FILE else header
        seller_of = {US: NA2_SELLER} if name == NOFIT_FILE else SELLER_OF
        eol = "\r\n" if name.endswith(".gz") else "\n"
        chunks = [render(columns, {c: c for c in columns}, eol)]
        line = 1 + len(_LINE_BREAKS.findall(chunks[0]))
        for case, row in [*body[name], *twins[name], *last[name]]:
            data = render(columns, row, eol)
            if case is not None and case.mangle is not None:
                data = case.mangle(data)
            chunks.append(data)
            if case is None or not case.expect:
                market = row["marketplace_id"].strip()
                branch = (seller_of[market], market)
                corpus.published.setdefault(branch, set()).add(row["sku"].strip())
                corpus.extracted[branch] += 1
                corpus.good_rows += 1
            else:
                landed.setdefault(case.id, []).append(Landed(str(path), line, _stripped(row["sku"])))
            line += len(_LINE_BREAKS.findall(data))
        blob = b"".join(chunks)
        if name == "de.csv":  # as spreadsheets export "CSV UTF-8": a byte order mark first
            blob = b"\xef\xbb\xbf" + blob
        path.write_bytes(gzip.compress(blob, mtime=0) if name.endswith(".gz") else blob)
    kept = Counter(corpus.extracted)  # rows that reach a snapshot, by branch
    unclean: set[str] = set()  # the catalogs (NOFIT_FILE or "shared") the extract sets rows aside in
    branches = [(NA_SELLER, US), (NA_SELLER, CA), (EU_SELLER, DE), (NA2_SELLER, US)]
    for branch in branches:
        corpus.live[branch] = {"GONE-NA2" if branch[0] == NA2_SELLER else f"GONE-{branch[1]}"}
    for case in chosen:
        if not case.expect:
            continue
        market = by_key[case.base]["marketplace_id"]
        catalog = NOFIT_FILE if case.file == NOFIT_FILE else "shared"
        home = (NA2_SELLER, market) if catalog == NOFIT_FILE else (SELLER_OF[market], market)
        rows = tuple(landed[case.id])
        if any(e.rule.startswith("extract.") for e in case.expect):
            # recorded once, by the branch that claims the defects of the catalog the row is in
            branch = (NA2_SELLER, US) if catalog == NOFIT_FILE else CLAIMER
            unclean.add(catalog)
        else:
            branch = home
            kept[branch] += len(rows)
        corpus.placed[case.id] = Placed(case=case, rows=rows, branch=branch)
        corpus.extracted[branch] += len(rows)
        corpus.quarantined[branch] += len(rows)
        # PostgreSQL holds no SKU with a NUL, so no such listing can be live
        corpus.live[home] |= {r.sku for r in rows if r.sku and "\x00" not in r.sku}
    for branch in branches:
        live = len(corpus.live[branch])
        if ("shared" if branch[0] != NA2_SELLER else NOFIT_FILE) in unclean:
            corpus.withheld[branch] = {"catalog_not_clean": live}
        elif not kept[branch]:
            corpus.withheld[branch] = {"catalog_empty": live}
        else:  # the bad rows' SKUs are still in the catalog; the gone one goes
            corpus.deleted[branch] = {s for s in corpus.live[branch] if s.startswith("GONE-")}
            corpus.withheld[branch] = {"still_in_catalog": live - 1} if live > 1 else {}
    return corpus


def figures() -> dict[str, int]:
    """Cases per kind, in the order of :class:`Kind`."""
    counts = Counter(case.kind for case in CASES)
    return {kind.value: counts[kind] for kind in Kind if counts[kind]}


# --- whole files the extract refuses -------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedFile:
    """A catalog file whose header cannot be trusted: the extract stops and names the file and the
    fault rather than guess which column is which (no row of it can be placed)."""

    id: str
    header: Callable[[list[str]], bytes]
    says: str
    rows: bool = True


def _named(*renames: tuple[str, str]) -> Callable[[list[str]], bytes]:
    def header(names: list[str]) -> bytes:
        out = list(names)
        for old, new in renames:
            out = [new if n == old else n for n in out]
        return (",".join(out) + "\n").encode()

    return header


def _dropped(column: str) -> Callable[[list[str]], bytes]:
    return lambda names: (",".join(n for n in names if n != column) + "\n").encode()


REFUSED_FILES: list[RefusedFile] = [
    RefusedFile("no_marketplace_column", _dropped("marketplace_id"), "no 'marketplace_id' column"),
    RefusedFile("no_sku_column", _named(("sku", "Seller SKU")), "no 'sku' column"),
    RefusedFile("duplicate_column", _named(("ean", "price")), "duplicate column name(s) ['price']"),
    RefusedFile("reserved_column", _named(("ean", "_source_row")), "reserved for the extract"),
    RefusedFile(
        "header_unclosed_quote", lambda names: ('"' + ",".join(names) + "\n").encode(), "line 1: the header"
    ),
    # a spreadsheet's "sep=" hint line where the header should be
    RefusedFile(
        "excel_sep_line", lambda names: ("sep=,\n" + ",".join(names) + "\n").encode(), "no 'sku' column"
    ),
    # an upload still in progress: nothing at all, not even a header
    RefusedFile("empty_file", lambda names: b"", "no 'sku' column (columns: none)", rows=False),
    RefusedFile(
        "header_invalid_byte",
        lambda names: (",".join(names) + "\n").encode().replace(b"brand", b"br\xe4nd"),
        "line 1: the header",
    ),
]


def write_refused(directory: Path, refused: RefusedFile) -> Path:
    """The refused header over good rows of every marketplace."""
    header, good = load_good_rows()
    path = directory / f"{refused.id}.csv"
    rows = b"".join(render(header, row) for row in good[:6]) if refused.rows else b""
    path.write_bytes(refused.header(header) + rows)
    return path


#: Cases for a run on PostgreSQL, the production warehouse: one product type and marketplace (US
#: shirts) keep it quick; it holds the NUL cases, which SQLite would store as they are.
POSTGRES_CASES: list[Case] = [c for c in CASES if c.base == US_SHIRT and c.file != NOFIT_FILE]
POSTGRES_TRICKY: list[Case] = [c for c in TRICKY_GOOD if c.base == US_SHIRT]


def us_shirts(row: Mapping[str, str]) -> bool:
    return row["marketplace_id"] == US and row["product_type"] == "SHIRT"
