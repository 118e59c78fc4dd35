//! How many guesses an attacker who knows common passwords, words, names and keyboard habits
//! needs to find a password: the estimate of zxcvbn (Wheeler, "zxcvbn: Low-Budget Password
//! Strength Estimation", USENIX Security 2016), kept small.
//!
//! The password is read as the cheapest sequence of pieces an attacker would try: ranked words
//! (also capitalised, reversed or with l33t substitutions), the account's own names, repeats,
//! sequences such as `abc` or `9753`, runs of neighbouring keys, years and dates, and brute
//! force for the rest. A sequence of `l` pieces costs `l! × Π guesses + 10000^(l−1)`; the
//! estimate is the cheapest sequence. Everything is counted in log10 so nothing overflows.
//!
//! The word lists are cut from zxcvbn's (see `words/cut.py`); they are most of the size of the
//! `register` artifact, so they hold each list's most frequent words only.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The ranked lists, most frequent first, one word a line.
const LISTS: [(&str, Source); 6] = [
    (include_str!("words/passwords.txt"), Source::Passwords),
    (include_str!("words/english.txt"), Source::Words),
    (include_str!("words/tv_and_film.txt"), Source::Words),
    (include_str!("words/surnames.txt"), Source::Names),
    (include_str!("words/female_names.txt"), Source::Names),
    (include_str!("words/male_names.txt"), Source::Names),
];

/// The year against which years and dates are ranked: people pick recent ones.
const REFERENCE_YEAR: i32 = 2026;
/// Even the most obvious year is one of at least this many.
const MIN_YEAR_SPACE: f64 = 20.0;
/// Guesses an attacker spends on each character of a piece no pattern explains.
const BRUTEFORCE_CARDINALITY: f64 = 10.0;
/// zxcvbn's additive penalty for each extra piece of a sequence.
const MIN_GUESSES_BEFORE_GROWING_SEQUENCE: f64 = 10_000.0;
/// Keys on a US keyboard, and the average number of neighbours a key has.
const KEYBOARD_STARTS: f64 = 94.0;
const KEYBOARD_AVERAGE_DEGREE: f64 = 4.6;
/// The longest word the lists hold is shorter than this.
const MAX_WORD_CHARS: usize = 24;

/// Where a dictionary word came from, for the reason given to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Passwords,
    Words,
    Names,
    Account,
}

/// What a piece of the password is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// A whole common password, as it is or capitalised.
    CommonPassword,
    /// A listed word, name or password inside a longer password.
    Word,
    /// The account's username or email.
    Account,
    /// A listed word spelled backwards.
    Reversed,
    /// A listed word with l33t substitutions such as `@` for `a`.
    Substituted,
    Repeat,
    Sequence,
    Keyboard,
    Date,
}

impl Pattern {
    /// Why a password built on this pattern is weak, as the user reads it.
    pub fn reason(self) -> &'static str {
        match self {
            Pattern::CommonPassword => "it is a commonly used password",
            Pattern::Word => "it is built from common words, names or passwords",
            Pattern::Account => "it is built from your username or email address",
            Pattern::Reversed => "common words spelled backwards are easy to guess",
            Pattern::Substituted => {
                "predictable substitutions such as '@' for 'a' do not make a word much harder to guess"
            }
            Pattern::Repeat => "repeated words or characters such as 'abcabc' are easy to guess",
            Pattern::Sequence => "sequences such as 'abc' or '6543' are easy to guess",
            Pattern::Keyboard => "runs of neighbouring keys such as 'qwerty' are easy to guess",
            Pattern::Date => "dates and years are easy to guess",
        }
    }
}

/// The estimate for one password.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// log10 of the guesses the cheapest reading needs.
    pub log10_guesses: f64,
    /// The pattern that covers the most of the password in that reading, if any does.
    pub main_pattern: Option<Pattern>,
}

/// Estimates the guesses `password` needs; `account` holds the account's own words (username,
/// email), which an attacker targeting this account tries first.
pub fn estimate(password: &str, account: &[&str]) -> Estimate {
    let account: Vec<String> = account
        .iter()
        .map(|word| word.to_lowercase())
        .filter(|word| !word.is_empty())
        .collect();
    let chars: Vec<char> = password.chars().collect();
    let mut memo = HashMap::new();
    cheapest(&chars, &account, &mut memo)
}

/// A piece of the password, `start..end` in characters.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    log10_guesses: f64,
    pattern: Pattern,
}

fn cheapest(chars: &[char], account: &[String], memo: &mut HashMap<Vec<char>, f64>) -> Estimate {
    let n = chars.len();
    if n == 0 {
        return Estimate {
            log10_guesses: 0.0,
            main_pattern: None,
        };
    }
    let mut pieces = Vec::new();
    dictionary_pieces(chars, account, &mut pieces);
    repeat_pieces(chars, account, memo, &mut pieces);
    sequence_pieces(chars, &mut pieces);
    keyboard_pieces(chars, &mut pieces);
    date_pieces(chars, &mut pieces);
    for piece in &mut pieces {
        // Even an obvious piece of a longer password is one of a few choices at that place.
        if piece.end - piece.start < n {
            let floor: f64 = if piece.end - piece.start == 1 {
                10.0
            } else {
                50.0
            };
            piece.log10_guesses = piece.log10_guesses.max(floor.log10());
        }
    }

    // best[end][count]: the cheapest log10 product of `count` pieces covering 0..end, and the
    // last piece (None: brute force) with its start.
    let mut best = vec![vec![(f64::INFINITY, 0usize, None::<usize>); n + 1]; n + 1];
    best[0][0] = (0.0, 0, None);
    for end in 1..=n {
        for count in 1..=end {
            let mut cell = (f64::INFINITY, 0, None);
            for (start, row) in best.iter().enumerate().take(end) {
                let brute =
                    row[count - 1].0 + (end - start) as f64 * BRUTEFORCE_CARDINALITY.log10();
                if brute < cell.0 {
                    cell = (brute, start, None);
                }
            }
            for (index, piece) in pieces.iter().enumerate().filter(|(_, p)| p.end == end) {
                let total = best[piece.start][count - 1].0 + piece.log10_guesses;
                if total < cell.0 {
                    cell = (total, piece.start, Some(index));
                }
            }
            best[end][count] = cell;
        }
    }

    let (count, log10_guesses) = (1..=n)
        .map(|count| {
            let product = best[n][count].0 + log10_factorial(count);
            let penalty = (count - 1) as f64 * MIN_GUESSES_BEFORE_GROWING_SEQUENCE.log10();
            (count, log10_sum(product, penalty))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((1, n as f64));

    let mut main_pattern = None;
    let mut widest = 0;
    let (mut end, mut count) = (n, count);
    while end > 0 && count > 0 {
        let (_, start, index) = best[end][count];
        if let Some(piece) = index.map(|i| pieces[i])
            && piece.end - piece.start > widest
        {
            widest = piece.end - piece.start;
            main_pattern = Some(piece.pattern);
        }
        end = start;
        count -= 1;
    }
    Estimate {
        log10_guesses,
        main_pattern,
    }
}

fn log10_factorial(n: usize) -> f64 {
    (2..=n).map(|k| (k as f64).log10()).sum()
}

/// log10(10^a + 10^b).
fn log10_sum(a: f64, b: f64) -> f64 {
    let (high, low) = if a > b { (a, b) } else { (b, a) };
    high + (1.0 + 10f64.powf(low - high)).log10()
}

/// log10 of the binomial coefficient sum Σ_{i=1..=min(a,b)} C(a+b, i): the ways to place `a`
/// marked characters (upper case, substitutions, shifted keys) among `a + b`.
fn log10_variations(a: usize, b: usize) -> f64 {
    if a == 0 || b == 0 {
        return 2f64.log10();
    }
    let total = a + b;
    let mut sum = 0.0;
    let mut term = 1.0;
    for i in 1..=a.min(b) {
        term = term * (total + 1 - i) as f64 / i as f64;
        sum += term;
    }
    sum.log10()
}

fn ranks() -> &'static HashMap<&'static str, (u32, Source)> {
    static RANKS: OnceLock<HashMap<&'static str, (u32, Source)>> = OnceLock::new();
    RANKS.get_or_init(|| {
        let mut ranks: HashMap<&'static str, (u32, Source)> = HashMap::with_capacity(60_000);
        for (list, source) in LISTS {
            for (rank, word) in (1u32..).zip(list.lines()) {
                ranks
                    .entry(word)
                    .and_modify(|known| {
                        if rank < known.0 {
                            *known = (rank, source);
                        }
                    })
                    .or_insert((rank, source));
            }
        }
        ranks
    })
}

fn lookup(word: &str, account: &[String]) -> Option<(u32, Source)> {
    let own = (1u32..)
        .zip(account)
        .find(|(_, own)| own.as_str() == word)
        .map(|(rank, _)| (rank, Source::Account));
    own.or_else(|| ranks().get(word).copied())
}

/// l33t substitutions an attacker tries; characters with two readings have two tables.
const L33T: [&[(char, char)]; 2] = [
    &[
        ('4', 'a'),
        ('@', 'a'),
        ('8', 'b'),
        ('(', 'c'),
        ('{', 'c'),
        ('[', 'c'),
        ('<', 'c'),
        ('3', 'e'),
        ('6', 'g'),
        ('9', 'g'),
        ('1', 'i'),
        ('!', 'i'),
        ('|', 'i'),
        ('0', 'o'),
        ('$', 's'),
        ('5', 's'),
        ('+', 't'),
        ('7', 't'),
        ('%', 'x'),
        ('2', 'z'),
    ],
    &[('1', 'l'), ('|', 'l'), ('7', 'l')],
];

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn dictionary_pieces(chars: &[char], account: &[String], pieces: &mut Vec<Piece>) {
    let lowered: Vec<char> = chars.iter().copied().map(lower).collect();
    let n = chars.len();
    for start in 0..n {
        for end in start + 1..=n.min(start + MAX_WORD_CHARS) {
            let original = &chars[start..end];
            let word = &lowered[start..end];
            let case = log10_case_variations(original);
            let whole = end - start == n;
            let mut add = |rank: u32, source: Source, extra: f64, pattern: Pattern| {
                let pattern = match (source, pattern) {
                    (Source::Account, Pattern::Word) => Pattern::Account,
                    (Source::Passwords, Pattern::Word) if whole => Pattern::CommonPassword,
                    _ => pattern,
                };
                pieces.push(Piece {
                    start,
                    end,
                    log10_guesses: f64::from(rank).log10() + case + extra,
                    pattern,
                });
            };
            let text: String = word.iter().collect();
            if let Some((rank, source)) = lookup(&text, account) {
                add(rank, source, 0.0, Pattern::Word);
            }
            let reversed: String = word.iter().rev().collect();
            if reversed != text
                && let Some((rank, source)) = lookup(&reversed, account)
            {
                add(rank, source, 2f64.log10(), Pattern::Reversed);
            }
            for table in L33T {
                let substituted: Vec<char> = word
                    .iter()
                    .map(|&c| {
                        table
                            .iter()
                            .find(|(from, _)| *from == c)
                            .map_or(c, |(_, to)| *to)
                    })
                    .collect();
                if substituted == word {
                    continue;
                }
                let text: String = substituted.iter().collect();
                if let Some((rank, source)) = lookup(&text, account) {
                    let extra = log10_substitutions(word, &substituted);
                    add(rank, source, extra, Pattern::Substituted);
                }
            }
        }
    }
}

/// Capitalisation an attacker tries: none, the first or last letter, or all, cost a factor of
/// at most 2; anything else the number of ways to place the capitals.
fn log10_case_variations(word: &[char]) -> f64 {
    let upper = word.iter().filter(|c| c.is_uppercase()).count();
    let lower = word.iter().filter(|c| c.is_lowercase()).count();
    if upper == 0 {
        return 0.0;
    }
    let first_only = word.first().is_some_and(|c| c.is_uppercase()) && upper == 1;
    let last_only = word.last().is_some_and(|c| c.is_uppercase()) && upper == 1;
    if lower == 0 || first_only || last_only {
        return 2f64.log10();
    }
    log10_variations(upper, lower)
}

/// For each letter substituted: the ways to choose which of its occurrences were.
fn log10_substitutions(word: &[char], substituted: &[char]) -> f64 {
    let mut letters: Vec<char> = word
        .iter()
        .zip(substituted)
        .filter(|(from, to)| from != to)
        .map(|(_, to)| *to)
        .collect();
    letters.sort_unstable();
    letters.dedup();
    letters
        .into_iter()
        .map(|letter| {
            let subbed = word
                .iter()
                .zip(substituted)
                .filter(|(from, to)| **to == letter && *from != *to)
                .count();
            let kept = word.iter().filter(|c| **c == letter).count();
            log10_variations(subbed, kept)
        })
        .sum()
}

/// A run that repeats a unit two or more times: the unit's own estimate times the count.
fn repeat_pieces(
    chars: &[char],
    account: &[String],
    memo: &mut HashMap<Vec<char>, f64>,
    pieces: &mut Vec<Piece>,
) {
    let n = chars.len();
    for start in 0..n {
        for unit in 1..=(n - start) / 2 {
            let pattern = &chars[start..start + unit];
            let mut times = 1;
            while start + (times + 1) * unit <= n
                && &chars[start + times * unit..start + (times + 1) * unit] == pattern
            {
                times += 1;
            }
            if times < 2 {
                continue;
            }
            let base = match memo.get(pattern) {
                Some(&known) => known,
                None => {
                    let known = cheapest(pattern, account, memo).log10_guesses;
                    memo.insert(pattern.to_vec(), known);
                    known
                }
            };
            pieces.push(Piece {
                start,
                end: start + times * unit,
                log10_guesses: base + (times as f64).log10(),
                pattern: Pattern::Repeat,
            });
        }
    }
}

/// Runs of three or more characters with a constant step of at most 5 (`abc`, `9753`, `aceg`).
fn sequence_pieces(chars: &[char], pieces: &mut Vec<Piece>) {
    let n = chars.len();
    let mut start = 0;
    while start + 2 < n {
        let step = i64::from(u32::from(chars[start + 1])) - i64::from(u32::from(chars[start]));
        let mut end = start + 2;
        while end < n
            && i64::from(u32::from(chars[end])) - i64::from(u32::from(chars[end - 1])) == step
        {
            end += 1;
        }
        if end - start >= 3 && step != 0 && step.abs() <= 5 {
            let first = chars[start];
            let base: f64 = if matches!(first, 'a' | 'A' | 'z' | 'Z' | '0' | '1' | '9') {
                4.0
            } else if first.is_ascii_digit() {
                10.0
            } else {
                26.0
            };
            let direction: f64 = if step < 0 { 2.0 } else { 1.0 };
            pieces.push(Piece {
                start,
                end,
                log10_guesses: (base * direction * (end - start) as f64).log10(),
                pattern: Pattern::Sequence,
            });
            start = end - 1;
        } else {
            start += 1;
        }
    }
}

/// The US keyboard, unshifted and shifted, row by row, with each row's offset in key widths.
const KEYBOARD: [(&str, &str, f64); 4] = [
    ("`1234567890-=", "~!@#$%^&*()_+", 0.0),
    ("qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5),
    ("asdfghjkl;'", "ASDFGHJKL:\"", 1.75),
    ("zxcvbnm,./", "ZXCVBNM<>?", 2.25),
];

/// The row and horizontal position of a key, and whether it takes shift.
fn key(c: char) -> Option<(usize, f64, bool)> {
    KEYBOARD
        .iter()
        .enumerate()
        .find_map(|(row, (plain, shifted, offset))| {
            let column = |keys: &str| keys.chars().position(|k| k == c);
            column(plain)
                .map(|col| (row, offset + col as f64, false))
                .or_else(|| column(shifted).map(|col| (row, offset + col as f64, true)))
        })
}

/// The direction from one key to a neighbour, or None when they are not neighbours.
fn neighbour(from: (usize, f64), to: (usize, f64)) -> Option<(i8, i8)> {
    let rows = to.0 as i64 - from.0 as i64;
    let across = to.1 - from.1;
    let adjacent = match rows {
        0 => (across.abs() - 1.0).abs() < 1e-9,
        -1 | 1 => across.abs() <= 1.0,
        _ => false,
    };
    adjacent.then(|| (rows as i8, across.signum() as i8))
}

/// Runs of three or more neighbouring keys, with the turns they take.
fn keyboard_pieces(chars: &[char], pieces: &mut Vec<Piece>) {
    let keys: Vec<Option<(usize, f64, bool)>> = chars.iter().map(|&c| key(c)).collect();
    let n = chars.len();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        let mut turns = 0;
        let mut direction = None;
        while end < n {
            let step = match (keys[end - 1], keys[end]) {
                (Some(a), Some(b)) => neighbour((a.0, a.1), (b.0, b.1)),
                _ => None,
            };
            let Some(step) = step else { break };
            if direction != Some(step) {
                turns += 1;
                direction = Some(step);
            }
            end += 1;
        }
        let length = end - start;
        if length >= 3 {
            // Σ over shorter walks of the starts, turn placements and neighbour choices.
            let mut guesses = 0.0;
            for i in 2..=length {
                for j in 1..=turns.min(i - 1) {
                    guesses += binomial(i - 1, j - 1)
                        * KEYBOARD_STARTS
                        * KEYBOARD_AVERAGE_DEGREE.powi(j as i32);
                }
            }
            let shifted = keys[start..end]
                .iter()
                .filter(|k| k.is_some_and(|k| k.2))
                .count();
            let shift = if shifted == 0 {
                0.0
            } else {
                log10_variations(shifted, length - shifted)
            };
            pieces.push(Piece {
                start,
                end,
                log10_guesses: guesses.log10() + shift,
                pattern: Pattern::Keyboard,
            });
            start = end - 1;
        } else {
            start += 1;
        }
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    (1..=k).fold(1.0, |acc, i| acc * (n + 1 - i) as f64 / i as f64)
}

/// Years (`1987`) and dates of day, month and year in any order, with or without one kind of
/// separator (`19870512`, `12.5.87`).
fn date_pieces(chars: &[char], pieces: &mut Vec<Piece>) {
    let n = chars.len();
    let year_space = |year: i32| f64::from((year - REFERENCE_YEAR).abs()).max(MIN_YEAR_SPACE);
    for start in 0..n {
        for end in start + 4..=n.min(start + 10) {
            let text: String = chars[start..end].iter().collect();
            let log10_guesses = if text.chars().all(|c| c.is_ascii_digit()) {
                if end - start == 4
                    && let Ok(year) = text.parse::<i32>()
                    && (1900..=2099).contains(&year)
                {
                    Some(year_space(year).log10())
                } else if end - start <= 8 {
                    undivided_date(&text).map(|year| (365.0 * year_space(year)).log10())
                } else {
                    None
                }
            } else {
                divided_date(&text).map(|year| (4.0 * 365.0 * year_space(year)).log10())
            };
            if let Some(log10_guesses) = log10_guesses {
                pieces.push(Piece {
                    start,
                    end,
                    log10_guesses,
                    pattern: Pattern::Date,
                });
            }
        }
    }
}

/// The year of a valid day, month and year, read as year-month-day, day-month-year or
/// month-day-year.
fn valid_date(parts: [&str; 3]) -> Option<i32> {
    let numbers: Vec<i32> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let full_year = |text: &str, value: i32| match text.len() {
        2 => Some(if value > 50 {
            1900 + value
        } else {
            2000 + value
        }),
        4 if (1000..=2099).contains(&value) => Some(value),
        _ => None,
    };
    let day_month = |day: i32, month: i32| (1..=31).contains(&day) && (1..=12).contains(&month);
    let short = |text: &str| (1..=2).contains(&text.len());
    let orders = [(0, 1, 2), (2, 1, 0), (2, 0, 1)];
    orders.into_iter().find_map(|(year, month, day)| {
        (short(parts[month]) && short(parts[day]) && day_month(numbers[day], numbers[month]))
            .then(|| full_year(parts[year], numbers[year]))
            .flatten()
    })
}

fn undivided_date(digits: &str) -> Option<i32> {
    let len = digits.len();
    (1..len - 1).find_map(|first| {
        (first + 1..len).find_map(|second| {
            valid_date([&digits[..first], &digits[first..second], &digits[second..]])
        })
    })
}

fn divided_date(text: &str) -> Option<i32> {
    let separator = text.chars().find(|c| !c.is_ascii_digit())?;
    if !" /\\_.-".contains(separator) {
        return None;
    }
    let parts: Vec<&str> = text.split(separator).collect();
    match parts[..] {
        [a, b, c]
            if [a, b, c]
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_digit())) =>
        {
            valid_date([a, b, c])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guesses(password: &str) -> f64 {
        estimate(password, &[]).log10_guesses
    }

    fn pattern(password: &str) -> Option<Pattern> {
        estimate(password, &[]).main_pattern
    }

    #[test]
    fn common_passwords_take_few_guesses() {
        assert!(guesses("password") < 1.0);
        assert_eq!(pattern("password"), Some(Pattern::CommonPassword));
        assert!(guesses("Password") < 1.0);
        assert!(guesses("dragon") < 2.0);
    }

    #[test]
    fn random_characters_take_ten_guesses_each() {
        let estimate = guesses("x7#kq9!vz2@m");
        assert!((11.0..=13.0).contains(&estimate), "{estimate}");
    }

    #[test]
    fn a_phrase_of_unrelated_words_takes_many() {
        assert!(guesses("correct horse battery staple") > 12.0);
        assert_eq!(pattern("correct horse battery staple"), Some(Pattern::Word));
    }

    #[test]
    fn each_pattern_is_found() {
        for (password, expected) in [
            ("passwordpassword", Pattern::Repeat),
            ("abcdefghijklmnop", Pattern::Sequence),
            ("zyxwvutsrqponm", Pattern::Sequence),
            (";lkjhgfds", Pattern::Keyboard),
            ("ZXCVBNM<>?", Pattern::Keyboard),
            ("p@$$w0rd", Pattern::Substituted),
            ("nogardnogard", Pattern::Repeat),
            ("drowssap", Pattern::Reversed),
            ("12.05.1987", Pattern::Date),
            ("19870512", Pattern::Date),
        ] {
            let found = estimate(password, &[]);
            assert_eq!(found.main_pattern, Some(expected), "{password}: {found:?}");
            assert!(found.log10_guesses < 8.0, "{password}: {found:?}");
        }
    }

    #[test]
    fn the_accounts_own_words_come_first() {
        let without = estimate("vkqzrpxwtdmbh", &[]).log10_guesses;
        let with = estimate("vkqzrpxwtdmbh", &["vkqzrpxwtdmbh"]);
        assert!(
            with.log10_guesses < 1.0 && without > 8.0,
            "{without} {with:?}"
        );
        assert_eq!(with.main_pattern, Some(Pattern::Account));
    }

    #[test]
    fn capitals_in_unexpected_places_add_guesses() {
        assert!(guesses("PaSsWoRd") > guesses("Password") + 1.0);
    }

    #[test]
    fn a_long_password_is_estimated_quickly_and_without_overflow() {
        let estimate = guesses(&"a1b2c3d4e5f6g7h8".repeat(4));
        assert!(estimate.is_finite() && estimate > 0.0, "{estimate}");
        assert!(guesses(&"ab".repeat(32)) < 5.0);
    }

    #[test]
    fn the_variation_count_matches_its_definition() {
        // C(4,1) + C(4,2) = 10 ways to mark two of four characters.
        assert!((log10_variations(2, 2) - 1.0).abs() < 1e-9);
        assert!((log10_sum(1.0, 1.0) - 20f64.log10()).abs() < 1e-9);
        assert!((log10_factorial(4) - 24f64.log10()).abs() < 1e-9);
    }
}
