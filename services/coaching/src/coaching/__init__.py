"""callqa coaching.

Sampling, human review and appeals, coaching plans, follow-ups and training material.
"""
