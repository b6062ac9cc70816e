"""The Baotou demo: a deterministic generator of realistic files, and the end-to-end run."""
