"""Reports over run directories: our learning curves beside the published ones, tables at 100k /
300k / 1M env steps, and aggregate scores across tasks (`python -m reports RUN_DIR ...`)."""
