"""callqa reporting.

Rollups of every evaluation (per local day × agent × group × queue × scorecard version × item × source) kept
from the event stream, and the reports of seed 004 computed from them: daily monitoring detail, weekly and
monthly quality reports with comparison and forecast; frozen report runs, downloads (HTML with charts, CSV,
XLSX, PDF), schedules with e-mail delivery, and an audit of every download.
"""
