"""The Great Expectations quality gate between dbt and the outreach sync."""
