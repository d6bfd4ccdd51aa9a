"""A uniform random sample of mutmut's mutant names, for an estimate of the mutation score.

    python tools/mutation_sample.py TARGET N [--seed S] > sample.txt
    python -m mutmut run $(cat sample.txt)
    python tools/mutation_score.py TARGET --names sample.txt

TARGET is a package (``theorems``) or a module (``theorems.counting``). The names come from
mutants/**/*.py.meta (run ``mutmut run`` once, or ``tools/mutation.sh``, to generate them); the
sample is drawn without replacement with Python's ``random.Random(S)``, so the same tree and
seed give the same sample. When a whole run does not fit the time available, the score over a
uniform sample is an unbiased estimate of the whole score, and ``mutation_score.py --names``
prints it with its 95% (Wilson) interval.
"""

import random
import sys

from mutation_score import results, selected


def main(argv: list[str]) -> int:
    seed = 0
    if "--seed" in argv:
        at = argv.index("--seed")
        seed, argv = int(argv[at + 1]), argv[:at] + argv[at + 2:]
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python tools/mutation_sample.py TARGET N [--seed S]", file=sys.stderr)
        return 2
    target, size = argv[0], int(argv[1])
    names = sorted(name for module, codes in results().items() if selected(module, [target])
                   for name in codes)
    if not names:
        print(f"error: no mutants of {target} in mutants/: run mutmut first", file=sys.stderr)
        return 2
    print("\n".join(random.Random(seed).sample(names, min(size, len(names)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
