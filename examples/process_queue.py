"""The classic parallel word count: one ``multiprocessing.Process`` per chunk, each chunk passed
as the process's argument, each count sent back on a ``Queue``.

    python examples/process_queue.py TEXT_FILE [--processes 2] [--start-method spawn]

Plain Python, nothing of wcbench: measure it with
``wcbench measure -- python examples/process_queue.py big.txt --start-method spawn``.
"""

import argparse
import multiprocessing


def count_words(chunk, results):
    results.put(len(chunk.split()))


def split_into_chunks(text, n):
    """``n`` slices of ``text``, each cut just before a whitespace character, so no word is cut
    in two and the counts add up."""
    chunks, start = [], 0
    for i in range(1, n):
        end = max(start, len(text) * i // n)
        while end < len(text) and not text[end].isspace():
            end += 1
        chunks.append(text[start:end])
        start = end
    chunks.append(text[start:])
    return chunks


def word_count(text, processes, start_method):
    context = multiprocessing.get_context(start_method)
    results = context.Queue()
    workers = [context.Process(target=count_words, args=(chunk, results))
               for chunk in split_into_chunks(text, processes)]
    for worker in workers:
        worker.start()
    total = sum(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total


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
