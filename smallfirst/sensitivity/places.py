"""Street addresses and postcodes in the formats of many countries, for the boundary screen.

Streets: a house number next to a street word — the USPS Publication 28 street suffixes (``12 Larson
Wells``), French/Spanish/Italian/Portuguese street types before the name (``12, rue de la Paix``,
``Via Roma 12``, ``Rua X, 86``), Germanic/Nordic/Dutch compounds (``Hauptstraße 5``, ``Mayalaan 9``,
``Ekgatan 6``, ``Ipsensvej 1``), Polish ``ul./al./pl.``, Indian ``H.No. 79, Sane Marg``.
Postcodes: the country formats that are distinctive on their own (UK, Canada, US ``ST 12345``,
Japan ``〒``) anywhere; the bare-digit ones (``75011 Paris``, ``5290 Lejre``, ``98-981 Luboń``,
``1697-251 Tomar``, ``512 90 Karlstad``, ``8669 IX``) only next to a place name at the start of a
line or after a comma or a street, or after a postcode label, so years and quantities never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from smallfirst.sensitivity.recognizers import Hit

# USPS Publication 28, appendix C1: street suffix names and their standard abbreviations
_USPS = (
    "Alley|Aly|Annex|Anx|Arcade|Arc|Avenue|Ave|Bayou|Byu|Beach|Bch|Bend|Bnd|Bluffs?|Blf|Bottom|Btm|Boulevard|Blvd"
    "|Branch|Br|Bridge|Brg|Brooks?|Brk|Burgs?|Bg|Bypass|Byp|Camp|Cp|Canyon|Cyn|Cape|Cpe|Causeway|Cswy|Centers?|Ctr"
    "|Circles?|Cir|Cliffs?|Clf|Club|Clb|Common|Cmn|Corners?|Cor|Course|Crse|Courts?|Ct|Coves?|Cv|Creek|Crk|Crescent"
    "|Cres|Crest|Crst|Crossing|Xing|Crossroad|Xrd|Curve|Curv|Dale|Dl|Dam|Dm|Divide|Dv|Drives?|Dr|Estates?|Est"
    "|Expressway|Expy|Extensions?|Ext|Falls?|Fls|Ferry|Fry|Fields?|Fld|Flats?|Flt|Fords?|Frd|Forest|Frst|Forges?"
    "|Frg|Fork|Frk|Forks|Frks|Fort|Ft|Freeway|Fwy|Gardens?|Gdns?|Gateway|Gtwy|Glens?|Gln|Greens?|Grn|Groves?|Grv"
    "|Harbors?|Hbr|Haven|Hvn|Heights|Hts|Highway|Hwy|Hills?|Hl|Hollow|Holw|Inlet|Inlt|Islands?|Is|Isle|Junctions?"
    "|Jct|Keys?|Ky|Knolls?|Knl|Lakes?|Lk|Land|Landing|Lndg|Lane|Ln|Lights?|Lgt|Loaf|Lf|Locks?|Lck|Lodge|Ldg|Loop"
    "|Mall|Manors?|Mnr|Meadows?|Mdw|Mews|Mill|Mls?|Mission|Msn|Motorway|Mtwy|Mount|Mt|Mountains?|Mtn|Neck|Nck"
    "|Orchard|Orch|Oval|Overpass|Opas|Park|Parks|Parkways?|Pkwy|Pass|Passage|Psge|Path|Pike|Pines?|Pne|Place|Pl"
    "|Plains?|Pln|Plaza|Plz|Points?|Pt|Ports?|Prt|Prairie|Pr|Radial|Radl|Ramp|Ranch|Rnch|Rapids?|Rpd|Rest|Rst"
    "|Ridges?|Rdg|River|Riv|Roads?|Rd|Route|Rte|Row|Rue|Run|Shoals?|Shl|Shores?|Shr|Skyway|Skwy|Springs?|Spg|Spurs?"
    "|Squares?|Sq|Station|Sta|Stravenue|Stra|Stream|Strm|Streets?|St|Summit|Smt|Terrace|Ter|Throughway|Trwy|Trace"
    "|Trce|Track|Trak|Trafficway|Trfy|Trail|Trl|Trailer|Trlr|Tunnel|Tunl|Turnpike|Tpke|Underpass|Upas|Unions?|Un"
    "|Valleys?|Vly|Viaduct|Via|Views?|Vw|Villages?|Vlg|Ville|Vl|Vista|Vis|Walks?|Wall|Ways?|Wy|Wells?|Wl"
    # common UK / Commonwealth street words not in USPS
    "|Close|Gate|Grange|Green|Hill|Mews|Rise|Wharf|Yard|Parade|Promenade|Esplanade|Quay|Marg|Nagar|Chowk|Colony"
)
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_HOUSE = r"(?:\d{1,5}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?|[Ss]/[Nn])"
# street types written before the name ("rue Thorens 5", "Via Roma, 12"): English look-alikes only capitalised
_TYPE_FIRST = (
    r"(?i:rue|avenue|boulevard|chemin|all[ée]e|impasse|quai|viale|piazza|piazzale|corso|vicolo|contrada|borgo"
    r"|strada|calle|c/|avenida|avda\.?|paseo|carrer|ronda|pasaje|callej[oó]n|glorieta|rambla|carretera|traves[ií]a"
    r"|rua|travessa|pra[cç]a|estrada|rodovia|recanto|alameda|ladeira|ul\.|ulica|al\.|aleja|pl\.|plac|os\.|osiedle)"
    r"|Via|Vía|Plaza|Place|Camino|Vila|Largo|Cours|Route|Square|Passage|Quadra|Setor"
)
_COMPOUND = (
    r"stra(?:ß|ss)e|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|markt|steig|pfad"
    r"|straat|laan|plein|gracht|kade|singel|dijk|hof|pad|steeg|dreef|baan"
    r"|gatan|g[aå]ngen|v[äa]gen|gr[äa]nd|torget|stigen|backen|leden|gata|gate|veien|vegen|vej|gade|all[ée]|str[æa]de"
    r"|plads|v[æa]nge|parken|tie|katu|polku"
)
_STREET_PATTERNS = (
    # 12 Larson Wells / 788 Simmons Wall / 1600 Pennsylvania Avenue NW
    rf"\b{_HOUSE},?[ \t]+(?:{_NAME_WORD}[ \t]+){{1,4}}(?:{_USPS})\b\.?",
    # 12, rue de la Paix / 3 bis avenue Foch
    rf"\b{_HOUSE}(?:\s?(?:bis|ter))?,?[ \t]+(?:{_TYPE_FIRST})[ \t]+(?:[\w'’.-]+[ \t]+){{0,4}}?{_NAME_WORD}",
    # rue Thorens 5 / Via Roma, 12 / Calle de Alcalá 50 / ul. Floriana 60/12 / pl. Floriana 60/12
    rf"(?<![\w])(?:{_TYPE_FIRST})[ \t]+(?:[\w'’.-]+[ \t]+){{0,4}}?{_NAME_WORD},?[ \t]+(?:n[º°o]\.?[ \t]*)?{_HOUSE}\b",
    # Hauptstraße 5 / Marie-Theres-Heuser-Straße 7-7 / Mayalaan 9 / Ekgatan 6 / Peter Ipsensvej 1
    rf"\b(?:{_NAME_WORD}[ \t-])?(?!(?i:[\w'-]*(?:[aeiou]ring|bring|string|spring|during))\b)[\wÀ-ÿ'-]*(?i:{_COMPOUND})"
    rf"[ \t]+{_HOUSE}\b(?![.,]\d)",
    # H.No. 79, Sane Marg / Flat 4B, Rose Court / Apt. 12
    rf"\b(?i:h\.\s?no\.|house\s+no\.?|flat|apt\.?|apartment|suite)[ \t]*{_HOUSE},?[ \t]+(?:{_NAME_WORD}[ \t]*){{1,4}}",
)
_STREET = re.compile("|".join(f"(?:{p})" for p in _STREET_PATTERNS))

_US_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC"
              "|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|AS|GU|MP|PR|VI|AA|AE|AP")
_CITY = r"[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w'’-]{2,}(?:[ -](?:[A-ZÀ-ÖØ-Þ][\w'’.-]+|am|an|de|del|la|le|sur|im|bei|do|da|en))*"
_DISTINCT_POSTCODES = (
    r"(?<![\w-])(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?) ?\d[ABD-HJLNP-UW-Z]{2}(?![\w-])",  # UK
    r"(?<![\w-])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d(?![\w-])",  # Canada
    rf",\s*(?:{_US_STATES})\s+\d{{5}}(?:-\d{{4}})?\b",  # US: ", MO 95937"
    r"〒\s?\d{3}-\d{4}",  # Japan
    r"(?<![\w-])(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?(?=[0-9AC-FHKNPRTV-Y]{0,3}[AC-FHKNPRTV-Y])[0-9AC-FHKNPRTV-Y]{4}"
    r"(?![\w-])",  # Ireland (Eircode)
    r"(?m)^[ \t]*\d{4}[ \t]?[A-Z]{2}[ \t]*$",  # the Netherlands, on a line of its own
)
_BARE_POSTCODE = (
    r"\d{5}", r"\d{4}", r"\d{2}-\d{3}", r"\d{4}-\d{3}", r"\d{5}-?\d{3}", r"\d{3}\s\d{2}", r"\d{4}\s?[A-Z]{2}",
    r"\d{6}", r"[A-Z]{1,2}-\d{4,5}",
)
_BARE = "|".join(_BARE_POSTCODE)
_POSTCODE_CITY = re.compile(
    rf"(?:^|(?<=[\n,;:(])|(?<=[\n,;:(]\s)|(?<=\bto\s)|(?<=\bin\s)|(?<=\bat\s)|(?<=\s[àa]\s)|(?<=\bnach\s))"
    rf"[ \t]*(?:{_BARE})[ \t]+{_CITY}"
    rf"|\b{_CITY},?[ \t]+(?:\d{{5,6}}|\d{{5}}-\d{{3}})(?=[ \t]*(?:$|[\n,.;)(]|[A-Z]{{2}}\b))",  # Pontevedra, 48108
    re.MULTILINE)
_POSTCODE_LABEL = re.compile(
    rf"(?i:\b(?:post\s?code|postal\s+code|zip(?:\s*code)?|plz|code\s+postal|cap|c\.?p\.?|c[óo]digo\s+postal"
    rf"|postnummer|postnr\.?|pincode|pin(?:\s*code)?|kod\s+pocztowy|postinumero|eircode|postleitzahl|cep"
    rf"|postcode))[\s,:#]*"
    rf"(?:[^\W\d]+[ \t]+){{0,3}}"
    rf"(?:{_BARE}|[A-Z0-9]{{2,4}}\s?[A-Z0-9]{{3,4}})\b")
_NOT_CITY = frozenset({"BC", "AD", "CE", "BCE", "Calories", "People", "Dollars", "Euros", "Years", "Points", "Meters",
                       "Miles", "Students", "Votes", "Answer", "January", "February", "March", "April", "May", "June",
                       "July", "August", "September", "October", "November", "December"})
_YEAR = re.compile(r"(?:1[0-9]|20)\d\d")


@dataclass(frozen=True, slots=True)
class StreetRecognizer:
    """House number + street word in the layouts of many countries."""

    entity: str = "address"

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for m in _STREET.finditer(text):
            yield m.start(), m.end(), m.start(), m.end()


@dataclass(frozen=True, slots=True)
class PostcodeRecognizer:
    """Postcodes: distinctive formats anywhere; bare-digit ones beside a place name or after a postcode label."""

    entity: str = "address"

    def find(self, text: str, lower: str) -> Iterator[Hit]:
        for rx in _DISTINCT:
            for m in rx.finditer(text):
                yield m.start(), m.end(), m.start(), m.end()
        for m in _POSTCODE_LABEL.finditer(text):
            yield m.start(), m.end(), m.start(), m.end()
        for m in _POSTCODE_CITY.finditer(text):
            s = m.group().strip()
            words = re.findall(r"[^\W\d]{2,}", s)
            if any(w in _NOT_CITY for w in words):
                continue
            number = re.search(r"\d[\d -]*", s)
            if number is not None and _YEAR.fullmatch(number.group().strip()) and not _after_newline(text, m.start()):
                continue  # "in 1945 Germany …": a year, not a postcode
            yield m.start(), m.end(), m.start(), m.end()


def _after_newline(text: str, pos: int) -> bool:
    before = text[max(0, pos - 3):pos]
    return pos == 0 or "\n" in before or "," in before


_DISTINCT = tuple(re.compile(p) for p in _DISTINCT_POSTCODES)
