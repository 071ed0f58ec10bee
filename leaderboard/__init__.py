"""Results -> static leaderboard site, and the ASR regression check for CI.

Reads only `summary.json` / `responses.jsonl` files; imports no model or judge code, so it runs
anywhere the results were copied to.
"""
