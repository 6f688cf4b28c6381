"""Distillation: harvest a teacher through many accounts and train a student on its answers."""
