"""Where the warehouse is and how to talk to it."""
