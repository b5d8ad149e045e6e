"""Benchmarks that print JSON: training speed with/without the embedding cache, ONNX
fp32 vs int8 latency, FLOPs per pixel, peak memory. Run ``python -m delineate_runtime bench``."""
