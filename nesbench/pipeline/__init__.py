"""The pipeline: plan jobs, execute them, score and report."""
