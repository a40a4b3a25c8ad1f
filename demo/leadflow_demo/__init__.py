"""leadflow's harness, kept out of the product package: what the demo, the tests and the benchmarks run.

``generator`` writes a deterministic landing zone for all seven source systems (files, a SQLite app database and
the JSONL backing store of the API); ``api_server`` serves the CRM / conversations JSONL files HubSpot-style
(paging, auth, 429s); ``destinations_server`` fakes the outreach tools the sync delivers to; ``airflow_services``
runs Airflow's components as processes; ``inject`` writes hot events the way the source systems do.
"""
