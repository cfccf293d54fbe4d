"""The rule engine: compile a `Scorecard` once, evaluate `TranscriptDocument`s with it.

    compiled = compile_scorecard(default_scorecard("zh"))
    evaluation = compiled.evaluate(document)   # Evaluation: items, total/max points, percentage, passed

Modules: `normalise` (text forms and offsets), `matching` (Aho-Corasick, jieba word boundaries),
`metrics` (conversation metrics by name), `lexicon` (weak sentiment word lists), `conditions`
(compiled conditions), `engine` (scoring), and `_native` (their per-character and per-hit loops, in C:
`services/scorer/native/`, with its contracts in `_native.pyi`).
"""

from scorer.rules.engine import CompiledScorecard, Evaluation, compile_scorecard, evaluate

__all__ = ["CompiledScorecard", "Evaluation", "compile_scorecard", "evaluate"]
