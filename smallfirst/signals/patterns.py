"""Precompiled patterns for the cheap request signals (compiled once at import; immutable)."""

from __future__ import annotations

import re

from smallfirst.signals.literals import literal_union

TASK_TYPES: tuple[str, ...] = (
    "classify", "extract", "summarise", "translate", "rewrite",
    "code", "math", "reasoning", "knowledge", "chat",
)

# Hints a client may put in ``metadata["task"]``: spelling variants map onto the canonical names.
TASK_ALIASES: dict[str, str] = {
    "classification": "classify", "classifier": "classify", "label": "classify", "labeling": "classify",
    "labelling": "classify", "tagging": "classify", "tag": "classify", "sentiment": "classify",
    "routing": "classify", "intent": "classify",
    "extraction": "extract", "ner": "extract", "parse": "extract", "parsing": "extract",
    "summarize": "summarise", "summarization": "summarise", "summarisation": "summarise",
    "summary": "summarise",
    "translation": "translate",
    "rewriting": "rewrite", "paraphrase": "rewrite", "edit": "rewrite", "editing": "rewrite",
    "coding": "code", "programming": "code",
    "maths": "math", "arithmetic": "math",
    "multi-step reasoning": "reasoning", "multi_step_reasoning": "reasoning", "reason": "reasoning",
    "planning": "reasoning",
    "qa": "knowledge", "open-domain": "knowledge", "open_domain": "knowledge", "trivia": "knowledge",
    "general": "chat", "conversation": "chat",
}

TOKEN = re.compile(r"[a-z]+")

# Instruction verbs (first one in the head of the instruction wins).
INSTRUCTION_WORDS: dict[str, str] = {
    **dict.fromkeys(("translate", "translation", "translating", "translated"), "translate"),
    **dict.fromkeys(("summarize", "summarise", "summary", "summaries", "summarizing", "summarising", "tldr",
                     "condense", "recap"), "summarise"),
    **dict.fromkeys(("classify", "classification", "categorize", "categorise", "sentiment", "categorization"),
                    "classify"),
    **dict.fromkeys(("extract", "extraction"), "extract"),
    **dict.fromkeys(("rewrite", "rephrase", "paraphrase", "proofread", "reword"), "rewrite"),
}
INSTRUCTION_PHRASES: tuple[tuple[str, str], ...] = (
    *((f"into {lang}", "translate") for lang in (
        "english", "french", "german", "spanish", "italian", "portuguese", "dutch", "chinese", "japanese",
        "korean", "russian", "arabic", "hindi", "polish", "swedish", "turkish")),
    ("tl;dr", "summarise"), ("key points", "summarise"), ("key takeaways", "summarise"),
    ("gist of", "summarise"),
    ("which category", "classify"), ("which label", "classify"), ("which class", "classify"),
    ("is this spam", "classify"), ("label each", "classify"), ("label this", "classify"),
    ("assign a label", "classify"), ("assign a category", "classify"), ("intent of", "classify"),
    ("pull out", "extract"), ("find all", "extract"), ("named entit", "extract"), ("list all the", "extract"),
    ("fill in the json", "extract"), ("fill the json", "extract"), ("fill in the fields", "extract"),
    ("identify all", "extract"), ("identify every", "extract"),
    ("re-write", "rewrite"), ("fix the grammar", "rewrite"), ("fix grammar", "rewrite"),
    ("fix my grammar", "rewrite"), ("fix the typos", "rewrite"), ("fix the spelling", "rewrite"),
    ("edit this", "rewrite"), ("edit the following", "rewrite"), ("make it more", "rewrite"),
    ("make this more", "rewrite"), ("make it shorter", "rewrite"), ("make this shorter", "rewrite"),
    ("make it less", "rewrite"), ("polish this", "rewrite"), ("more formal", "rewrite"),
)
INSTRUCTION_HEAD = 600

CODE_WORDS = frozenset((
    "python", "javascript", "typescript", "java", "golang", "rust", "kotlin", "ruby", "php", "scala",
    "haskell", "bash", "powershell", "sql", "regex", "html", "css", "yaml", "dockerfile", "kubernetes",
    "numpy", "pandas", "pytorch", "traceback", "segfault", "stacktrace", "compiler", "refactor", "debug",
    "cpp", "async", "recursion", "recursive", "bugfix", "codebase", "snippet",
))
CODE_PHRASES: tuple[str, ...] = (
    "```", "c++", "c#", "stack trace", "unit test", "syntax error", "runtime error", "shell script",
    "regular expression", "write a function", "write a program", "write a script", "write code",
    "write a class", "implement a", "implement the", "this code", "the code", "my code", "def ",
    "#include", "a function that", "a program that", "a script that", "an algorithm", "time complexity",
)
CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|return\b|public |private |const |let |var |"
    r"function\b|fn |SELECT |INSERT |\}|\{|//|/\*|@\w+|if\s*\(|for\s*\(|while\s*\()|[;{]\s*$",
    re.MULTILINE,
)

MATH_WORDS = frozenset((
    "solve", "equation", "equations", "integral", "derivative", "differentiate", "integrate", "probability",
    "calculate", "compute", "arithmetic", "algebra", "geometry", "polynomial", "matrix", "eigenvalue",
    "eigenvalues", "theorem", "percent", "percentage", "remainder", "factorial", "prime", "primes",
    "fraction", "ratio", "average", "median", "variance", "logarithm", "sqrt", "triangle", "radius",
    "modulo", "divisible", "integer", "integers", "perimeter", "area", "volume", "total",
))
MATH_PHRASES: tuple[str, ...] = (
    "how many", "how much", "square root", "prove that", "expected value", "\\frac", "\\sum", "\\int",
    "sum of", "product of", "mean of",
)
MATH_EXPR = re.compile(r"\d\s*[-+*/^×÷=]\s*\d")
MATH_CHARS = "0123456789=+-*/^%<>√∫∑π×÷"
MATH_CHAR = re.compile("[" + re.escape(MATH_CHARS) + "]")

REASONING_PHRASES: tuple[str, ...] = (
    "step by step", "step-by-step", "think carefully", "think hard", "think deeply", "think it through",
    "think step", "chain of thought", "chain-of-thought", "show your work", "show your reasoning",
    "show the steps", "show your steps", "explain your reasoning", "reason through", "reason carefully",
    "reason about", "let's think", "lets think", "work it out", "deliberate",
)
REASONING_WORDS = frozenset((
    "why", "prove", "proof", "puzzle", "riddle", "logic", "logical", "deduce", "infer", "plan", "planning",
    "strategy", "analyze", "analyse", "justify", "evaluate", "implications", "hypothesis", "consequences",
    "argument", "critique", "assess", "tradeoff", "tradeoffs",
))
REASONING_MORE: tuple[str, ...] = ("compare and contrast", "pros and cons", "trade-off", "what would happen")

QUESTION_START = frozenset((
    "who", "what", "when", "where", "which", "how", "why", "is", "are", "was", "were", "did", "does", "do",
    "can", "name", "explain", "describe", "define",
))
KNOWLEDGE_PHRASES: tuple[str, ...] = (
    "tell me about", "explain", "describe", "history of", "define", "definition of", "meaning of",
    "difference between",
)

JSON_REQUEST = re.compile(
    r"\b(?:in|as|valid|return|output|respond with|format(?:ted)? as|a) (?:a )?json\b|\bjson (?:format|object)\b",
    re.IGNORECASE,
)

# Scripts, checked on a bounded window: (language, compiled char class).
SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and of to is in that it for with you this are be on not what how a"),
    "fr": _words("le la les et est des une un pour que dans qui pas vous sur avec ce du"),
    "de": _words("der die das und ist nicht ein eine ich sie mit den zu von auf für dem"),
    "es": _words("el los las y es que en una por para con del se lo como está"),
    "it": _words("il lo gli è che di una per non con del della sono come anche"),
    "pt": _words("os é que um uma para com não do da em se você como está"),
    "nl": _words("de het een en is van dat niet ik je met op te zijn voor wat"),
}

# stopword -> indices (in STOPWORDS order) of the languages that list it
STOPWORD_LANGS: dict[str, tuple[int, ...]] = {
    w: tuple(i for i, stops in enumerate(STOPWORDS.values()) if w in stops)
    for w in frozenset().union(*STOPWORDS.values())
}
STOPWORD_LANG_NAMES: tuple[str, ...] = tuple(STOPWORDS)

# Rough default answer length per task (tokens); the request's max_tokens caps it.
EXPECTED_OUTPUT: dict[str, int] = {
    "classify": 8, "extract": 128, "summarise": 200, "translate": -1, "rewrite": -1,
    "code": 512, "math": 384, "reasoning": 768, "knowledge": 320, "chat": 256,
}


CODE_PHRASES_RX = literal_union(CODE_PHRASES)
MATH_PHRASES_RX = literal_union(MATH_PHRASES)
REASONING_PHRASES_RX = literal_union(REASONING_PHRASES)
REASONING_MORE_RX = literal_union(REASONING_MORE)
KNOWLEDGE_PHRASES_RX = literal_union(KNOWLEDGE_PHRASES)
# the leftmost phrase wins; at one position the earlier-listed phrase (see ``literals.first_at``)
INSTRUCTION_PHRASE_ORDER: tuple[str, ...] = tuple(p for p, _ in INSTRUCTION_PHRASES)
INSTRUCTION_PHRASES_RX = literal_union(INSTRUCTION_PHRASE_ORDER)
INSTRUCTION_PHRASE_TASK = dict(INSTRUCTION_PHRASES)
INSTRUCTION_PHRASE_MAX = max(map(len, INSTRUCTION_PHRASE_ORDER))
# every phrase of every family: no hit here means no family's phrase occurs (one scan instead of six)
ANY_PHRASE_RX = literal_union((*CODE_PHRASES, *INSTRUCTION_PHRASE_ORDER, *MATH_PHRASES, *REASONING_PHRASES,
                               *REASONING_MORE, *KNOWLEDGE_PHRASES))
