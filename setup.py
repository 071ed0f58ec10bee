"""Packaging detail pyproject.toml cannot express: the top-level tasks/ folder (lm-eval YAMLs, data
rather than an import package) is installed as va_safetybench/tasks, where
va_safetybench.harness.docs.tasks_dir() finds it in a non-editable install."""

from setuptools import find_packages, setup

packages = find_packages(include=["va_safetybench*", "sea_align*", "judges*", "leaderboard*"])
task_folders = ["va_safetybench.tasks"] + [f"va_safetybench.tasks.{p}" for p in find_packages("tasks")]
task_folders += ["va_safetybench.tasks.safetybench", "va_safetybench.tasks.capability"]

packages += ["va_safetybench.lmms_eval_tasks"]  # the lmms-eval task pack: YAMLs and their utils.py, no __init__

setup(packages=sorted(set(packages + task_folders)), package_dir={"va_safetybench.tasks": "tasks"})
