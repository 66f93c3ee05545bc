"""Benchmarks for the TEKE foundation (not tests): `python -m bench [name ...]`.

Each benchmark starts the real processes it needs (nats-server, the services, the gateway,
nginx), drives load over 127.0.0.1 only, prints its figures next to a baseline measured in the
same run where one exists, and stops every process it started. Raw figures go to bench/out/.
"""
