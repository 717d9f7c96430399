"""``smallfirst eval``: the user's own labelled tasks on every configured tier, scored, costed and
timed; the router's outcomes file; a report; and run-vs-run comparison.

* :mod:`~smallfirst.evaluate.tasks` — the JSONL task file and its validation
* :mod:`~smallfirst.evaluate.scorers` — exact, label, JSON, number, regex, F1, ROUGE-L, LLM judge
* :mod:`~smallfirst.evaluate.runner` — resumable, concurrent runs through the gateway's backends
* :mod:`~smallfirst.evaluate.runfile` — the run folder (results, tasks snapshot, outcomes)
* :mod:`~smallfirst.evaluate.summary`, :mod:`~smallfirst.evaluate.report` — numbers, tables, HTML
* :mod:`~smallfirst.evaluate.compare` — ``compare(run_a, run_b) -> Comparison`` (the fine-tune gate)
"""
