"""The word count through libraries with transports of their own, to see what ``wcbench
measure`` can and cannot count: joblib's default backend (loky) and a Dask local cluster.

    python examples/other_transports.py TEXT_FILE joblib|dask [--workers 2]
"""

import argparse

from process_queue import split_into_chunks


def count_words(chunk):
    return len(chunk.split())


def with_joblib(chunks, workers):
    from joblib import Parallel, delayed

    return sum(Parallel(n_jobs=workers, backend="loky")(delayed(count_words)(c) for c in chunks))


def with_dask(chunks, workers):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return sum(client.gather(client.map(count_words, chunks)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("library", choices=["joblib", "dask"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with open(args.path, encoding="utf-8") as f:
        text = f.read()
    run = with_joblib if args.library == "joblib" else with_dask
    print(run(split_into_chunks(text, args.workers), args.workers))


if __name__ == "__main__":
    main()
