"""callqa transcriber.

Transcribes stored recordings per channel with faster-whisper and computes conversation metrics.
"""
