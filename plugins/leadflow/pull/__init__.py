"""Pull source systems into schema raw: validate, quarantine, merge, account."""
