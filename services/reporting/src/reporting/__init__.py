"""callqa reporting.

Daily, weekly and monthly quality reports and dashboards.
"""
