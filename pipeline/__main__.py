import os

from pipeline.cli import QUIET_TF_DEFAULT

# TensorFlow's C++ logging below errors stays off unless the user sets TF_CPP_MIN_LOG_LEVEL or passes --verbose;
# what it prints regardless at start-up is filtered by pipeline.tf_startup.
if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ[QUIET_TF_DEFAULT] = "1"

from pipeline.cli import main  # noqa: E402

main()
