"""Demo data: a deterministic generator for all seven source systems and a local CRM REST API.

``generator`` writes a landing zone (files, a SQLite app database and the JSONL backing store of the
API); ``api_server`` serves the CRM / conversations JSONL files HubSpot-style (paging, auth, 429s).
"""
