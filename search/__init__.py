"""How a study runs: spec, data, train, measure, objective, storage, export, report."""
