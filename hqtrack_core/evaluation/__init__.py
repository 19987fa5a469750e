"""Evaluation: DAVIS J&F (``davis``) and the VOTS2023 measures (``vots``), equal to the official toolkits."""
