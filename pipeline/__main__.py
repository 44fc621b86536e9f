import os

# Quiets part of TensorFlow's C++ start-up chatter (TF 2.21 still prints a few absl lines, a known TF issue);
# set TF_CPP_MIN_LOG_LEVEL=0 yourself to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pipeline.cli import main  # noqa: E402

main()
