"""Training and evaluation of MPM (data readers, trainer, evaluation)."""
