"""Model backends: `hf:`, `vllm:`, `openai:`, `tiny:` behind one small interface (base.py)."""
