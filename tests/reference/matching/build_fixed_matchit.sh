#!/bin/sh
# Build MatchIt 4.5.1 with the bug-fixed nearest-neighbour C++ of MatchIt's own later
# commit 4b5b2f8 (version 4.5.3.9000, released in 4.5.4) into a private R library, for
# make_matching_fixtures.R. The file is a drop-in replacement (same signature) and fixes:
#   * MatchIt issue #163: integer abs() on double distance differences, so calipers < 1
#     never bound and every tie went to the lower control;
#   * the replace = TRUE, ratio > 1 bug (NEWS 4.5.2.9000): already-used controls were
#     looked up with an off-by-one index.
# Usage: build_fixed_matchit.sh MATCHIT_4.5.1_SOURCE_DIR NN_MATCHC_VEC_4b5b2f8.cpp LIB_DIR
#   (source dir: MatchIt's git tree at 9762dc6 = 4.5.1; the .cpp: `git show 4b5b2f8:src/nn_matchC_vec.cpp`)
set -e
src="$1"; cpp="$2"; lib="$3"
work=$(mktemp -d)
cp -r "$src" "$work/MatchIt"
rm -rf "$work/MatchIt/_archive" "$work/MatchIt/_dev" "$work/MatchIt/vignettes" "$work/MatchIt/pkgdown"
cp "$cpp" "$work/MatchIt/src/nn_matchC_vec.cpp"
mkdir -p "$lib"
R CMD INSTALL --no-docs --no-multiarch -l "$lib" "$work/MatchIt"
