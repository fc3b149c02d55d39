"""promoter: writes each successful Cloud Build's image digest into a GitOps config repo."""

import os
import warnings

from ruamel.yaml.error import YAMLFutureWarning, YAMLWarning

# ruamel.yaml warns on stderr about legal YAML (a reused anchor name, a duplicate key it still
# reads): the promoter's output must be its own lines only, and it reports what it skips itself.
warnings.filterwarnings("ignore", category=YAMLWarning)
warnings.filterwarnings("ignore", category=YAMLFutureWarning)

# GitPython refuses to be imported where no git is found. The promoter checks for git itself
# (Settings: "git: not found on PATH"), so that the function starts and answers 503 with one
# ERROR line, instead of failing to load.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
