"""Temporal splits, training runs, baselines, evaluation, bias audit and the MLflow registry."""
