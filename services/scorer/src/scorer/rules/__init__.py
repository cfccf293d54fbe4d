"""The rule engine: compile a `Scorecard` once, evaluate `TranscriptDocument`s with it.

    compiled = compile_scorecard(default_scorecard("zh"))
    evaluation = compiled.evaluate(document)   # Evaluation: items, total/max points, percentage, passed

Modules: `normalise` (text forms and offsets), `matching` (Aho-Corasick with pyahocorasick, jieba word
boundaries per scorecard, hit selection and pairing), `similarity` (customer repetition), `metrics`
(conversation metrics by name), `lexicon` (weak sentiment word lists), `conditions` (compiled conditions),
`engine` (scoring).
"""

from scorer.rules.engine import CompiledScorecard, Evaluation, compile_scorecard, evaluate

__all__ = ["CompiledScorecard", "Evaluation", "compile_scorecard", "evaluate"]
