"""One Optuna study: create/resume it, sample a config, score it, stop it early."""
