"""The learner's views, one module per area (accounts, home, review, challenges, ...)."""
