#!/usr/bin/env bash
# Mutation testing of theorems/, graphs/counting.py and numerics' prediction/probe modules.
#
#   tools/mutation.sh                      # every configured module (hours on 2 cores)
#   tools/mutation.sh theorems             # one package
#   tools/mutation.sh theorems.counting graphs.counting numerics.probes.lesion
#
# Configuration: [tool.mutmut] in pyproject.toml (which files, which tests). mutmut copies the
# tree to mutants/ (git-ignored), mutates one function at a time and runs only the tests that
# call it; a mutant the tests do not notice "survived". With targets, their mutants are rerun;
# without, only mutants not yet checked run (an interrupted run resumes). Runs at low CPU
# priority (nice 19); MUTMUT_CHILDREN sets the number of workers (default 2). The summary per
# module (killed / survived / equivalent / timeout / score) is printed by
# tools/mutation_score.py, which reads the equivalent mutants listed in docs/mutation.md.
# Not part of CI and not run by the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
if ! python -c "import mutmut" 2>/dev/null; then
    echo "error: mutmut is not installed; run: python -m pip install -e '.[mutation]'" >&2
    exit 2
fi
globs=()
for target in "$@"; do
    case "$target" in
        theorems|graphs|numerics|theorems.*|graphs.*|numerics.*) globs+=("$target.*") ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: target must be theorems, graphs, numerics or a module such as theorems.counting, got '$target'" >&2; exit 2 ;;
    esac
done
nice -n 19 python -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${globs[@]}"
python tools/mutation_score.py "$@"
