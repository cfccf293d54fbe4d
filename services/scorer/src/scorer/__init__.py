"""callqa scorer.

Scores transcripts against versioned QA scorecards, with evidence for every finding.
"""
