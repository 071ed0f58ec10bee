"""`va-bench build`: render every task's media into the official layout, with manifests."""
