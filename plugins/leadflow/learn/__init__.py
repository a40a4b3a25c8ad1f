"""Learned scoring: fit an explainable, additive model to the customer's own conversions and export it as
plain points that dbt applies in SQL (models/learning/). Training proposes; a person activates."""
