"""Long work as jobs: big project imports and exports run behind the request (issue 15).

models.py: the tables; schemas.py: what the API answers; queries.py: the SQL (claim, lease,
progress); service.py: the rules (quota, who sees which job, cancel); router.py: /jobs and the
admin quota; worker.py: the background loop that claims and runs jobs; runners.py: what an
import and an export job do, chunk by chunk.
"""
