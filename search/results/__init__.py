"""What a study's trials answer: Pareto fronts, tables, export, retraining, reproduction, stability."""
