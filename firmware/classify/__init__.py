"""On-device species classifier (issue 3)."""
