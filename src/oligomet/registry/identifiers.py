"""Direct identifiers: refused, or replaced by a keyed hash (HMAC-SHA256) when the user gives a key.

A registry column whose (normalised) name is in ``fields.DIRECT_IDENTIFIERS`` (name, MRN,
national id, ...) is never kept in memory, in a report or in the store:

* without a key it is an error (rule ``direct_identifier``); the column is dropped and its
  values are not echoed in the report;
* with a key, the patients table gets ``pseudonym`` = HMAC-SHA256(key, identifiers) in hex,
  so that the key holder (and only they) can re-link a patient across exports; the raw columns
  are dropped from every table.

HMAC rather than a plain hash: identifiers such as national ids have few enough values that an
unkeyed hash is reversed by enumeration. For the same reason a ``pseudonym`` column that arrives
in the source is accepted only with a key (the data controller's statement that it is their
keyed hash) and only when every value is a 64-hex digest; any other value is replaced by
:data:`NOT_A_KEYED_HASH` before it is parsed, so the raw text is never kept (rules
``pseudonym_without_key`` and ``pseudonym_not_hmac``).

Column names are recognised in English, Dutch, German and French (:data:`FOREIGN_IDENTIFIERS`);
a foreign name is hashed under its English name, so ``naam`` and ``name`` give one pseudonym.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata

import numpy as np
import pandas as pd

from .fields import DIRECT_IDENTIFIERS
from .report import ProblemLog

MIN_KEY_LENGTH = 16
#: What a source pseudonym that is not a 64-hex digest becomes (the raw text is not kept).
NOT_A_KEYED_HASH = "<not a keyed hash>"
HMAC_HEX = r"[0-9a-fA-F]{64}"

#: Direct-identifier column names in Dutch, German and French -> the English name they are hashed
#: under. Compared after normalisation (``normalise_name``) and with accents and case folded.
FOREIGN_IDENTIFIERS: dict[str, str] = {
    # Dutch
    "naam": "name", "voornaam": "first_name", "voornamen": "first_name", "achternaam": "last_name",
    "familienaam": "last_name", "patientnaam": "patient_name", "volledige_naam": "full_name",
    "geboortedatum": "date_of_birth", "geb_datum": "date_of_birth", "adres": "address", "straat": "street",
    "straatnaam": "street", "huisnummer": "address", "woonadres": "address", "burgerservicenummer": "bsn",
    "sofinummer": "bsn", "telefoon": "phone", "telefoonnummer": "phone_number", "mobiel": "mobile",
    "mobiel_nummer": "mobile", "emailadres": "email_address", "e_mailadres": "email_address",
    "ziekenhuisnummer": "hospital_number", "patientnummer_ziekenhuis": "hospital_number",
    "verzekeringsnummer": "insurance_number", "paspoortnummer": "passport_number",
    # German
    "vorname": "first_name", "nachname": "last_name", "familienname": "last_name", "geburtsdatum": "date_of_birth",
    "geburtstag": "date_of_birth", "adresse": "address", "anschrift": "address", "strasse": "street",
    "plz": "postcode", "postleitzahl": "postcode", "telefonnummer": "phone_number", "handy": "mobile",
    "handynummer": "mobile", "versichertennummer": "insurance_number",
    "krankenversichertennummer": "insurance_number", "sozialversicherungsnummer": "social_security_number",
    "reisepassnummer": "passport_number",
    # French
    "nom": "name", "prenom": "first_name", "nom_de_famille": "last_name", "nom_complet": "full_name",
    "date_de_naissance": "date_of_birth", "ddn": "date_of_birth", "code_postal": "postcode", "rue": "street",
    "telephone": "telephone", "portable": "mobile", "courriel": "email", "adresse_email": "email_address",
    "adresse_e_mail": "email_address", "adresse_electronique": "email_address",
    "numero_de_securite_sociale": "social_security_number", "nir": "social_security_number",
    "numero_de_passeport": "passport_number",
}


def _fold(name: str) -> str:
    """Case- and accent-folded: ``Prénom`` -> ``prenom``, ``Straße`` -> ``strasse``."""
    text = unicodedata.normalize("NFKD", str(name).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def identifier_name(column: str) -> str | None:
    """The English direct-identifier name of a (normalised) column name, or None if it is none."""
    if column in DIRECT_IDENTIFIERS:
        return column
    folded = _fold(column)
    if folded in DIRECT_IDENTIFIERS:
        return folded
    return FOREIGN_IDENTIFIERS.get(folded)


def normalise_key(key: str | bytes | None) -> bytes | None:
    if key is None:
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw.strip()) < MIN_KEY_LENGTH:
        raise ValueError(f"identifier_key must be at least {MIN_KEY_LENGTH} characters (a secret kept by the "
                         "data controller); got a shorter one")
    return raw.strip()


def pseudonymise(values: pd.DataFrame, key: bytes) -> pd.Series:
    """HMAC-SHA256 of ``name=value`` pairs (columns sorted, empty values skipped); None if all empty."""
    cols = sorted(values.columns)
    text = values[cols].astype(object).where(values[cols].notna(), None)
    out = []
    # One HMAC per row: hmac has no vectorised form, and 1e5 rows take ~0.1 s.
    for row in text.itertuples(index=False, name=None):
        parts = [f"{c}={str(v).strip()}" for c, v in zip(cols, row) if v is not None and str(v).strip() != ""]
        out.append(hmac.new(key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest() if parts else None)
    return pd.Series(out, index=values.index, dtype=object)


def strip_identifiers(table: str, frame: pd.DataFrame, log: ProblemLog, key: bytes | None) -> pd.DataFrame:
    """Remove direct-identifier columns from ``frame``; add ``pseudonym`` to patients when keyed.

    A source ``pseudonym`` column is checked first (see the module docstring).
    """
    if table == "patients" and "pseudonym" in frame.columns:
        frame = _source_pseudonyms(frame, log, key)
    found = [c for c in frame.columns if identifier_name(c) is not None]
    if not found:
        return frame
    if key is None:
        for c in found:
            log.error(table, "direct_identifier",
                      f"column {c!r} is a direct identifier and is never stored; remove it, or pass an "
                      "identifier key to store a keyed hash (pseudonym) instead", field=c)
    elif table == "patients":
        frame = frame.copy()
        names = {c: identifier_name(c) for c in found}
        # Hash under the English name (same person, same pseudonym whatever the language of the
        # header), unless two columns would then share a name.
        if len(set(names.values())) < len(names):
            names = {c: c for c in found}
        frame["pseudonym"] = pseudonymise(frame[found].rename(columns=names), key).to_numpy(dtype=object)
    return frame.drop(columns=found)


def _source_pseudonyms(frame: pd.DataFrame, log: ProblemLog, key: bytes | None) -> pd.DataFrame:
    """Replace source pseudonyms that are not 64-hex digests; refuse any without a key."""
    col = frame["pseudonym"]
    if isinstance(col, pd.DataFrame):  # a repeated header is reported by the parser; check each copy
        col = col.iloc[:, 0]
    values = col.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":   # the cells of a CSV file: each text once
        codes, uniques = pd.factorize(values)
        text = pd.Series(np.array([v.strip() for v in uniques], dtype=object)[codes], index=col.index, dtype=object)
    else:
        text = col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v).strip())
    given = text.notna() & (text != "")
    if not given.any():
        return frame
    hexed = text.str.fullmatch(HMAC_HEX).fillna(False).astype(bool)
    if key is None:
        log.error("patients", "pseudonym_without_key",
                  f"the source has a 'pseudonym' column ({int(given.sum())} value(s)) but no identifier key was "
                  "given; a pseudonym is accepted only as the data controller's keyed hash (64 hex digits): "
                  "pass the key (--identifier-key-file), or remove the column", field="pseudonym")
    bad = given & ~hexed
    if bad.any():
        frame = frame.copy()
        frame["pseudonym"] = text.where(~bad, NOT_A_KEYED_HASH).to_numpy(dtype=object)
    return frame
