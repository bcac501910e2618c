"""Every HTML page aimops writes: one shell, one Content-Security-Policy and one file naming
(:mod:`~aimops.monitors.reports.page`), the interactive evaluation report
(:mod:`~aimops.monitors.reports.evaluation_page`) and a check's static page
(:mod:`~aimops.monitors.reports.check_page`), drawn with :mod:`~aimops.monitors.reports.blocks`.
"""
