"""Programs for ``wcbench measure``'s fault tests (plain Python, as a user's would be).

    python tests/measured_program.py hang METHOD   # two workers that never end, a shared
                                                   # block and a lock; prints their names
    python tests/measured_program.py sleep SECONDS # one short run, for timed-run tests
"""

import multiprocessing
import sys
import time
from multiprocessing import shared_memory


def hang(name):
    block = shared_memory.SharedMemory(name=name)
    time.sleep(600)
    block.close()


def main():
    what, arg = sys.argv[1], sys.argv[2]
    if what == "sleep":
        time.sleep(float(arg))
        return
    context = multiprocessing.get_context(arg)
    block = shared_memory.SharedMemory(create=True, size=1 << 20)
    lock = context.Lock()
    workers = [context.Process(target=hang, args=(block.name,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    semaphore = getattr(lock._semlock, "name", None)  # None under fork: unlinked at once
    print(f"block {block.name} semaphore {semaphore}", flush=True)
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
