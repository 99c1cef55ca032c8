"""The same word count with ``concurrent.futures.ProcessPoolExecutor``: the chunks are the
pool's tasks, pickled to its workers whatever the start method, and the counts come back as its
results.

    python examples/process_pool.py TEXT_FILE [--processes 2] [--start-method spawn]
"""

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from process_queue import split_into_chunks


def count_words(chunk):
    return len(chunk.split())


def word_count(text, processes, start_method):
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        return sum(pool.map(count_words, split_into_chunks(text, processes)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--start-method", default=None,
                        choices=multiprocessing.get_all_start_methods())
    args = parser.parse_args()
    with open(args.path, encoding="utf-8") as f:
        text = f.read()
    print(word_count(text, args.processes, args.start_method))


if __name__ == "__main__":
    main()
