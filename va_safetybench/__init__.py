"""VA-SafetyBench: jailbreak evaluation of multimodal LLMs through video, audio and image inputs."""

__version__ = "0.1.0"
