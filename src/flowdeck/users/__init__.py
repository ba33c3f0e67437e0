"""Users, their passwords, API tokens and browser sessions."""
