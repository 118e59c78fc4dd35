"""Cuts the word lists of the password guessability estimate from zxcvbn's frequency lists.

Usage: python3 cut.py FREQUENCY_LISTS_RS

FREQUENCY_LISTS_RS is `src/frequency_lists.rs` of the zxcvbn crate, version 3.1.1 (MIT licence,
lists from Dropbox's zxcvbn). Each list is written in its own rank order, one word a line, cut
to the length below: the lists are most of the `register` artifact's size, and the tail of each
is the rarest words, the ones an attacker tries last.
"""

import pathlib
import re
import sys

KEEP = {
    "PASSWORDS": ("passwords.txt", 20_000),
    "ENGLISH_WIKI": ("english.txt", 15_000),
    "US_TV_AND_FILM": ("tv_and_film.txt", 10_000),
    "SURNAMES": ("surnames.txt", 10_000),
    "FEMALE_NAMES": ("female_names.txt", 4_000),
    "MALE_NAMES": ("male_names.txt", 1_000),
}


def main() -> None:
    source = pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")
    here = pathlib.Path(__file__).parent
    for name, (file, count) in KEEP.items():
        found = re.search(rf'const {name}: &str = "([^"]*)"', source)
        if found is None:
            sys.exit(f"{name} is not in {sys.argv[1]}")
        words = found.group(1).split(",")[:count]
        # A word an attacker reaches later than brute force over its own length adds nothing.
        kept = [w for rank, w in enumerate(words, 1) if rank <= 10 ** len(w)]
        (here / file).write_text("\n".join(kept) + "\n", encoding="utf-8")
        print(f"{file}: {len(kept)} words")


if __name__ == "__main__":
    main()
