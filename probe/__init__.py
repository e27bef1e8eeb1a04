"""The Fourier spectral probe of simplicity bias: the measure on any network of the suite at
initialization (`probe.fourier`, `python -m probe.fourier`) and on a trained agent's actor or critic,
in training (train.py --probe-every) or from a run directory (`probe.trained`, `python -m probe.trained RUN_DIR`)."""
