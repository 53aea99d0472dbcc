"""gunicorn's settings for the archive (`make run` and deployments: `gunicorn -c archive/gunicorn.conf.py`).

Only what differs from gunicorn's defaults, with the reason.
"""

# Long search URLs (many repeated filters) reach the archive, which answers an over-long one
# with its own message (archive/middleware.py) instead of gunicorn's bare 414 page.
limit_request_line = 0
# Searches have a time budget of their own (articles/search/query.py: TIME_BUDGET); this is
# the last resort for anything else.
timeout = 30
graceful_timeout = 10
accesslog = "-"
