"""SEA: safety alignment of multimodal LLMs from text-only safety data via synthetic embeddings.

Pipeline (arXiv 2502.12562): prepare (harmful phrase, detoxified instruction, control samples)
-> optimize (one embedding per phrase, in place of the modality encoder's output) -> verify (VSR)
-> dataset (SFT/DPO records referencing the embeddings) -> train (LoRA, embedding injected).
"""
