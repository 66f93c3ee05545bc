"""Bulk import of projects (JSON or CSV, up to 10,000 a request, upsert by code).

router.py: the HTTP route; parsing.py: body to rows; validation.py: row checks;
service.py: what each row changes, history, feed and events; lookups.py: the batch reads;
writing.py: the batch writes (multi-row statements, COPY on PostgreSQL).
"""
