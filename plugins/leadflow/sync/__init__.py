"""Reverse ETL: deliver qualified leads to outreach destinations, exactly once per content change."""
