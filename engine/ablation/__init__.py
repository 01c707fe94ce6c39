"""Ablation studies: grids of pipelines backtested on identical dates, with shared-stage caching."""
