"""The fast lane: hot (conversion-qualified) leads reach sales in seconds, beside the hourly batch.

``trigger`` watches the hot-event sources from Airflow's triggerer (an ``AssetWatcher``); ``lane`` pulls
what arrived, copies the affected people's raw rows into ``fastlane_raw``, builds the same dbt models up to
the outreach queue into ``fastlane_*`` schemas, checks them, and delivers through the batch's sync engine and
ledger. See docs/fast-lane.md.
"""
