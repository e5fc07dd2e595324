.PHONY: run test bench lint

# Set up everything and run Haven with demo data on SQLite.
run:
	scripts/run

# Set up everything and run every check and the whole suite on SQLite and PostgreSQL.
test:
	scripts/test

# The benchmarks (long; not part of the suite).
bench:
	scripts/bootstrap
	.venv/bin/python bench/bulk_load.py
	.venv/bin/python bench/policy_list.py
	.venv/bin/python bench/reports_api.py
	.venv/bin/python bench/notify_latency.py
	.venv/bin/python bench/insight_dashboard.py
