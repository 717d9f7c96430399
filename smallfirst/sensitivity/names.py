"""People's names and the places they live, for the boundary screen: spaCy NER plus the cues people write.

NER (``en_core_web_sm``) finds capitalised names; it misses lower-case and single rare names and it
fires on quiz options ("A. Wrong") and public figures in knowledge questions. So:

* **cues** find names NER cannot see, in any case: "my name is …", "name: …", salutations and sign-offs
  ("Dear …", "Hi …", "Regards,\\n…"), titles ("Mr", "Mrs", "Dr", "Herr", "Mme", "Sr." …), and a name
  as the object of a personal request ("ask …", "contact …", "patient …");
* NER ``PERSON`` spans are cleaned (a quiz option letter "A. " is not an initial) and count when they
  hold two or more name words, or one name word in a personal text (first/second person, a greeting,
  another finding) — a lone first name in a word problem identifies no one;
* ``GPE``/``LOC`` (cities, places) count only in a personal text: where *someone* lives, moves, ships
  or stays, not "the economy of France";
* a quiz or benchmark question (lettered options, "Which of the following …") is not a personal text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from smallfirst.sensitivity.ner import load_pipeline

_NW = r"[^\W\d_][\w'’-]*"  # a name word, any case
_CAP = r"[A-ZÀ-ÖØ-ÞĄĆČĘŁŃŚŠŹŻŽ][\w'’-]*"
# name particles that stay lower case inside a name ("Ludwig van Beethoven")
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "da", "di", "du", "del", "della", "dos", "das", "le", "la",
                        "ter", "ten", "zu", "af", "al", "bin", "el"})
_PARTICLE = "(?:" + "|".join(sorted(_PARTICLES)) + ")"
_CUE_ANY_CASE = re.compile(
    rf"(?i:\b(?:my\s+name\s+is|my\s+name's|i\s+am\s+called|i'm\s+called|name\s*:|full\s+name\s*:|signed\s*:"
    rf"|je\s+m'appelle|ich\s+hei(?:ß|ss)e|me\s+llamo|mi\s+chiamo|mijn\s+naam\s+is|nazywam\s+si[ęe]|jag\s+heter"
    rf"|meu\s+nome\s+[ée]|mein\s+name\s+ist|(?:our|my|the)\s+(?:customer|client|patient|tenant|guest|employee)"
    rf"|spoke\s+with))\s+({_NW}(?:\s+(?:{_PARTICLE}\s+)?{_NW}){{0,2}})"
    # a sign-off, then the name on the next line (any case): "Mit freundlichen Grüßen\nkarl-josef stroh"
    rf"|(?i:regards|sincerely|cheers|thanks|thank\s+you|best|best\s+wishes|kind\s+regards|yours|cordialement"
    rf"|mit\s+freundlichen\s+gr[üu](?:ß|ss)en|gr[üu](?:ß|ss)e|saludos|saluti|cordiali\s+saluti|groeten"
    rf"|met\s+vriendelijke\s+groet|pozdrawiam|h[äa]lsningar|med\s+venlig\s+hilsen|mvh|atenciosamente|ystävällisin"
    rf"\s+terveisin|terveisin|bien\s+[àa]\s+vous|^--)[,!.]?[ \t]*\n+[ \t]*([^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*)?)"
    rf"[ \t]*(?:$|\n)", re.MULTILINE)
_CUE_CAPITALISED = re.compile(
    rf"(?:\b(?i:dear|hi|hello|hey|attn\.?|attention|greetings|bonjour|hallo|liebe[rs]?|caro|cara|querid[oa]|hola"
    rf"|hej|beste|drogi|droga)[ \t]+|"
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau|Hr|Fr|Mme|Mlle|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Pan|Pani|Dhr"
    rf"|Mevr|M)\.?[ \t]+|"
    rf"\b(?i:madam|madame|monsieur|mademoiselle|signor|signora|signorina|sig\.|sig\.ra|dott\.|se[ñn]or|se[ñn]ora"
    rf"|do[ñn]a|don|hr\.|fru|herr|frau|tohtori|rouva|herra|mevrouw|meneer|pani|pan|senhor|senhora|dr\.|mr\.|mrs\.|ms\."
    rf"|remove(?:\s+del|\s+de)?|unsubscribe|ik\s+ben|je\s+suis|ich\s+bin|soy|sono|jestem|jag\s+[äa]r|eu\s+sou|olen|spoke\s+with|talked\s+to|met\s+with)"
    rf"[ \t]+|"
    rf"\b(?i:my|our)[ \t]+(?i:wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister"
    rf"|partner|boyfriend|girlfriend|friend|colleague|coworker|boss|manager|neighbou?r|uncle|aunt|cousin|grandma"
    rf"|grandpa|grandmother|grandfather|nephew|niece|kid|child|baby|fianc[ée]e?|client|patient|tenant|landlord"
    rf"|assistant|doctor|lawyer|teacher|student|employee)[ \t,]+|"
    rf"\b(?i:regards|sincerely|cheers|thanks|thank\s+you|best|best\s+wishes|kind\s+regards|yours|cordialement"
    rf"|gr[üu](?:ß|ss)e|saludos|saluti|groeten|pozdrawiam|h[äa]lsningar|mvh|atenciosamente)[,!.]?[ \t]*\n[ \t]*|"
    rf"\b(?i:ask|tell|contact|call|email|e-mail|message|phone|ping|cc|patient|client|customer|employee|tenant"
    rf"|applicant|candidate|guest|passenger|recipient|attendee|member|for|from|with|to|by|and|of)[ \t]+)"
    rf"({_CAP}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_CAP}){{0,2}})")
# a name as the value of a person field in pasted JSON / forms: {"patient": "Ugo Pasolini"}
_FIELD = re.compile(
    r"(?i:[\"']?(?:name|full_?name|first_?name|last_?name|surname|patient|driver|traveller|traveler|passenger|customer"
    r"|client|employee|contact|guest|tenant|applicant|owner|holder|cardholder|account_?holder|recipient|sender"
    r"|insured|member|user_?name|person)[\"']?\s*[:=]\s*[\"']?)([^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,3})")
# a place after "I live in", "moved to" …, in any language the set covers (personal texts only)
_PLACE_AFTER = re.compile(
    rf"(?i:\b((?:live[sd]?\s+in|living\s+in|moved\s+to|moving\s+to|based\s+in|relocat\w*\s+to|born\s+in"
    rf"|flying\s+(?:from|to)|fly\s+(?:from|to)|travel(?:l?ing)?\s+to|ship(?:ped)?\s+to|deliver(?:ed)?\s+to"
    rf"|(?:hospital|office|clinic|school|home|branch|warehouse|store|shop|hotel|flat|house|apartment|job|work)"
    rf"\s+(?:in|at|near)))|(bor\s+i|bo\s+i|wohne\s+in|lebe\s+in|habite\s+[àa]|vis\s+[àa]|vivo\s+en|vivo\s+a"
    rf"|abito\s+a|woon\s+in|mieszkam\s+w|moro\s+em|asun|je\s+suis\s+de|ich\s+komme\s+aus|soy\s+de"
    rf"|d[ée]m[ée]nag[ée]\s+[àa]|umgezogen\s+nach|me\s+mud[ée]\s+a|mi\s+sono\s+trasferit[oa]\s+a))[ \t]+"
    rf"({_CAP}(?:[ -]{_CAP}|-[\w'’]+)*)")
_VOCATIVE = re.compile(rf"(?:^|(?<=['\"“‘]))({_CAP}),[ \t]+(?i:you|your|we|i|please|thanks|thank|can|could|just)\b")
_WEAK_CUE = re.compile(r"(?i:\b(?:for|from|with|to|by|and|of|call|phone|email|e-mail|message|ask|tell|contact|ping|cc)"
                       r"[ \t]+)$")
_OPTION = re.compile(r"(?m)^\s*\(?[A-Ja-j][.)]\s")
_QUIZ = re.compile(r"(?i)\bwhich\s+of\s+the\s+following\b|\banswer\s*:\s*$|\btrue\s+or\s+false\b|\bstatement\s+[12]\b")
_PERSONAL = re.compile(
    r"(?i:\b(?:i'm|i've|i'd|me|my|mine|we|our|thanks|thank|dear|hi|hello|regards"
    r"|sincerely|ich|mein|meine|je|mon|ma|mes|yo|mi|mis|io|mio|mia|ik|mijn|jag|min|mitt|eu|meu|minha|ja|mój|moja)\b"
    r"|(?<![\w.])I(?![\w.])(?!\s+(?:only|and|II|III|IV)\b))")
_PLACE_CUE = re.compile(
    r"(?i:\b(?:live[sd]?|living|lives|moved|moving|move|based|reside[sd]?|residing|resident|ship(?:ped|ping)?|deliver"
    r"(?:ed|y)?|send|sent|mail(?:ed)?|address|stay(?:ing|ed)?|located|office|branch|hotel|flat|apartment|home|born"
    r"|grew\s+up|from|visit(?:ing)?|travel(?:l?ing)?|flight|fly(?:ing)?|relocat\w*|commute|work(?:s|ing)?\s+in"
    r"|wohne|habite|vivo|abito|woon|bor|mieszkam|moro)\b)")
_MONTHS = (r"jan(?:uary|vier|uar|eiro)?|feb(?:ruary|ruar)?|f[ée]vrier|mar(?:ch|s|zo|ço)?|m[äa]rz|apr(?:il|ile)?|avril"
           r"|abril|may|mai|mayo|maggio|jun[ei]?|juin|junio|giugno|jul[iy]?|juillet|julio|luglio|aug(?:ust)?|ao[uû]t"
           r"|agosto|sep(?:t(?:ember)?)?|septembre|septiembre|settembre|oct(?:ober)?|octobre|octubre|okt(?:ober)?"
           r"|ottobre|nov(?:ember)?|novembre|noviembre|dec(?:ember)?|d[ée]cembre|diciembre|dicembre|dez(?:ember)?")
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}[./-]\d{{1,2}}[./-](?:1[89]|20)\d\d|(?:1[89]|20)\d\d[./-]\d{{1,2}}[./-]\d{{1,2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th|\.|er|º)?\s+(?:de\s+)?(?i:{_MONTHS})\.?,?\s+(?:de\s+)?(?:1[89]|20)\d\d"
    rf"|(?i:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:1[89]|20)\d\d)\b")
_DATE_LABEL = re.compile(r"(?i:\b(?:dob|born|birth|geboren|geb\.|n[ée]e?|nac[ií]|nasci|nato|nata|urodzi|f[öo]dd|f[øo]dt"
                         r"|nascid|syntynyt|diagnos|admitted|discharged|appointment|started|hired|fired|let\s+go"
                         r"|off\s+work|sick|visit|surgery)\w*)")
_NOT_NAMES = frozenset({
    "team", "everyone", "all", "folks", "guys", "sir", "madam", "colleagues", "friends", "customer", "customers",
    "support", "there", "world", "again", "advance", "you", "me", "us", "it", "this", "that", "the", "a", "an",
    "so", "very", "much", "a lot", "lot", "and", "or", "but", "is", "am", "are", "was", "not", "just", "here",
    "morning", "afternoon", "evening", "sir/madam", "hiring", "manager", "both", "each", "sure", "ok", "okay",
})
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | _NOT_NAMES


def is_personal(text: str) -> bool:
    """A text about the writer or someone they deal with (first person, greetings), not a quiz question."""
    quiz = len(_OPTION.findall(text)) >= 2 or _QUIZ.search(text) is not None
    return not quiz and _PERSONAL.search(text) is not None


def personal_dates(text: str, personal: bool) -> Iterator[tuple[int, int]]:
    """Calendar dates (day, month and year) in a personal text or next to a birth / care / employment word."""
    quiz = len(_OPTION.findall(text)) >= 2 or _QUIZ.search(text) is not None
    for m in _DATE.finditer(text):
        if personal or (not quiz and _DATE_LABEL.search(text[max(0, m.start() - 40):m.start()]) is not None):
            yield m.start(), m.end()


class NameFinder:
    """Names (``person``) and places (``location``) in one NER pass plus cue patterns. Thread-safe for reads."""

    __slots__ = ("_nlp", "_stop")

    def __init__(self, nlp: Any) -> None:
        self._nlp = nlp
        self._stop = _stop_words()

    @classmethod
    def load(cls, model: str) -> NameFinder:
        return cls(load_pipeline(model))

    def _name_ok(self, words: list[str], strong: bool) -> bool:
        kept = [w for w in words if w.lower().strip("'’") not in self._stop]
        if not kept:
            return False
        return strong or len(kept) == len(words)

    def find(self, text: str, *, personal_hint: bool = False, strict: bool = False) -> Iterator[tuple[int, int, str]]:
        """``(start, end, entity)`` with entity ``person``, ``location`` or ``address``. ``personal_hint``: another
        finding in the same request already makes it personal (so a lone first name or a city counts);
        ``strict``: every NER name and place counts, quiz or not."""
        quiz = not strict and (len(_OPTION.findall(text)) >= 2 or _QUIZ.search(text) is not None)
        personal = strict or personal_hint or (not quiz and _PERSONAL.search(text) is not None)
        for m in _CUE_ANY_CASE.finditer(text):
            g = 1 if m.group(1) is not None else 2
            if self._name_ok(_WORD.findall(m.group(g)), strong=True):
                yield m.start(g), m.end(g), "person"
        for m in _CUE_CAPITALISED.finditer(text):
            words = _WORD.findall(m.group(1))
            weak = _WEAK_CUE.search(text[max(0, m.start(1) - 12):m.start(1)]) is not None
            if weak and (quiz or not personal or len(words) < 2):
                continue  # "for Maria" alone proves little; "for Maria Kowalczyk" in a personal text does
            if quiz or (len(words) < 2 and not personal):
                continue  # "Dr. Kinney" in a quiz or a word problem is a character, not a customer
            if self._name_ok(words, strong=False):
                yield m.start(1), m.end(1), "person"
        for rx in (_FIELD, _VOCATIVE):
            for m in rx.finditer(text):
                if self._name_ok(_WORD.findall(m.group(1)), strong=True):
                    yield m.start(1), m.end(1), "person"
        for m in _PLACE_AFTER.finditer(text):
            if personal or m.group(1) is None:
                g = 2 if m.group(1) is not None else 3
                yield m.start(g), m.end(g), "location"
        doc = self._nlp(text)
        for ent in doc.ents:
            label = ent.label_
            if label == "PERSON":
                span = _clean_person(text, ent.start_char, ent.end_char)
                if span is None:
                    continue
                s, e = span
                words = _WORD.findall(text[s:e])
                if any(ch.isdigit() for ch in text[s:e]) or not self._name_ok(words, strong=False):
                    continue
                capitalised = all(w[0].isupper() or w in _PARTICLES for w in words)
                if (len(words) >= 2 and capitalised and not quiz) or personal:
                    yield s, e, "person"
            elif label in ("GPE", "LOC", "FAC") and personal and (strict or _PLACE_CUE.search(text) is not None):
                yield ent.start_char, ent.end_char, "address" if label == "FAC" else "location"


_LEAD_OPTION = re.compile(r"^\(?[A-Ja-j][.)]\s+")


def _clean_person(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop a leading quiz-option letter, a trailing possessive and line breaks from an NER span."""
    s = text[start:end]
    m = _LEAD_OPTION.match(s)
    if m is not None and (start == 0 or text[start - 1] in "\n \t("):
        start += m.end()
        s = text[start:end]
    if "\n" in s:
        end = start + s.index("\n")
        s = text[start:end]
    for suffix in ("'s", "’s"):
        if s.endswith(suffix):
            end -= len(suffix)
            s = s[: -len(suffix)]
    if not s.strip() or not any(ch.isupper() for ch in s[:1]):
        return None
    return start, end
