"""The ML engine: training jobs, the model registry and low-latency serving."""
