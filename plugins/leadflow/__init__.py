"""leadflow: open-source lead qualification — pull, qualify (dbt), validate (GX), sync."""

__version__ = "0.1.0"
