"""The command-line arguments the benchmark scripts share."""

from __future__ import annotations

import argparse
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHECKPOINTS = HERE / "checkpoints"


def benchmark_parser(doc, results_name, trains=True, skips=True):
    """An ``ArgumentParser`` with the script's docstring as help and ``--results``.

    Args:
      doc: the script's ``__doc__``.
      results_name: the default results file, under benchmarks/results/.
      trains: also ``--work`` (checkpoints and teachers, under benchmarks/checkpoints/ by
        default) and ``--verbose`` (the Keras ``fit`` verbosity).
      skips: the script skips the records already in its results file (False: it measures
        again and replaces them, as the timing scripts do).
    """
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(RESULTS / results_name),
                        help="the results file: " + (
                            "records already there are skipped" if skips else
                            "a record already there is measured again and replaced"))
    if trains:
        parser.add_argument("--work", default=str(CHECKPOINTS),
                            help="the teachers and resumable training state")
        parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser
