"""The same word count in threads (``concurrent.futures.ThreadPoolExecutor``): nothing is
copied to a worker or pickled, and under the GIL ``str.split`` runs in one thread at a time.

    python examples/threads.py TEXT_FILE [--threads 2]
"""

import argparse
from concurrent.futures import ThreadPoolExecutor

from process_queue import split_into_chunks


def count_words(chunk):
    return len(chunk.split())


def word_count(text, threads):
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(count_words, split_into_chunks(text, threads)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with open(args.path, encoding="utf-8") as f:
        text = f.read()
    print(word_count(text, args.threads))


if __name__ == "__main__":
    main()
