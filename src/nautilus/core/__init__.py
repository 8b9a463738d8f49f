"""Domain types shared by every engine."""
