//! Word matching for term lists: the trust & safety triage and the compliance intake gate share
//! it. Text and terms are normalised the same way (lower case, accents folded, common
//! letter-for-symbol swaps undone) and split into words; a term matches whole words, in order,
//! never a substring: "bottle" is not "bot", "shipping" is not "IP", "scrapbook" is not
//! "scrap". A word with a letter repeated three or more times ("spaaam") also matches the term
//! it spells with the repeats squeezed, so stretching a word does not hide it, while everyday
//! doubles ("good", "bottle") are left alone.
//!
//! Architecture Invariant: no I/O; terms come from the studio repository's files.

/// Fold one character: lower case, accents removed, symbols read as the letters they stand in
/// for. `None` for characters that separate words.
fn fold(character: char) -> Option<char> {
    let lower = character.to_lowercase().next().unwrap_or(character);
    let folded = match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | '@' | '4' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | '3' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | '1' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | '0' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ş' | '$' | '5' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ß' => 's',
        '7' | '+' => 't',
        other if other.is_alphanumeric() => other,
        _ => return None,
    };
    Some(folded)
}

/// Check the terms of one category of a term-list file: each must have a word to match, and
/// no term may sit in two categories (`seen` maps a term's words to the first category that
/// listed it). `pointer` is the JSON pointer of the list; findings carry `code_prefix::term`.
#[allow(clippy::too_many_arguments)]
pub fn check_terms<'a>(
    terms: &[String],
    category: &'a str,
    pointer: &str,
    code_prefix: &str,
    source: &crate::diagnostic::SourceFile,
    document: &crate::yaml::Document,
    seen: &mut std::collections::BTreeMap<Vec<String>, &'a str>,
    problems: &mut Vec<crate::diagnostic::Finding>,
) {
    use crate::diagnostic::Finding;
    let code = format!("{code_prefix}::term");
    for (index, term) in terms.iter().enumerate() {
        let at = document.value_span(&format!("{pointer}/{index}"));
        let words = words(term);
        if words.is_empty() {
            problems.push(
                Finding::error(code.clone(), format!("`{term}` has no word to match"))
                    .at(source, at, "no word")
                    .with_help("write a word or phrase"),
            );
        } else if let Some(other) = seen.insert(words, category) {
            problems.push(
                Finding::error(
                    code.clone(),
                    format!("`{term}` is in `{other}` and in `{category}`"),
                )
                .at(source, at, "listed twice")
                .with_help("a term suggests one category; keep it in one list"),
            );
        }
    }
}

/// The words of `text`, normalised.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for character in text.chars() {
        match fold(character) {
            Some(folded) => current.push(folded),
            None if !current.is_empty() => words.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `word` with every run of one letter squeezed to one (`spaaam` → `spam`).
fn squeezed(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    for character in word.chars() {
        if last != Some(character) {
            out.push(character);
        }
        last = Some(character);
    }
    out
}

/// Whether `word` repeats a letter three or more times in a row.
fn stretched(word: &str) -> bool {
    let mut run = 0;
    let mut last = None;
    for character in word.chars() {
        if last == Some(character) {
            run += 1;
            if run >= 2 {
                return true;
            }
        } else {
            run = 0;
        }
        last = Some(character);
    }
    false
}

fn word_matches(word: &str, term: &str) -> bool {
    word == term || (stretched(word) && squeezed(word) == squeezed(term))
}

/// A term, normalised into its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As the list writes it, for reports.
    pub written: String,
    words: Vec<String>,
}

impl Term {
    /// `None` when the term has no word at all (only symbols).
    pub fn new(written: &str) -> Option<Self> {
        let words = words(written);
        (!words.is_empty()).then(|| Self {
            written: written.trim().to_string(),
            words,
        })
    }
}

/// Words of a text, ready to be matched against many terms.
#[derive(Debug, Clone)]
pub struct Text {
    words: Vec<String>,
}

impl Text {
    pub fn new(text: &str) -> Self {
        Self { words: words(text) }
    }

    /// Whether `term` occurs as whole words, in order.
    pub fn contains(&self, term: &Term) -> bool {
        let length = term.words.len();
        length <= self.words.len()
            && self.words.windows(length).any(|window| {
                window
                    .iter()
                    .zip(&term.words)
                    .all(|(word, term)| word_matches(word, term))
            })
    }

    /// The terms of `terms` that occur, as written.
    pub fn matched<'a>(&self, terms: &'a [Term]) -> Vec<&'a str> {
        terms
            .iter()
            .filter(|term| self.contains(term))
            .map(|term| term.written.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(text: &str, term: &str) -> bool {
        Text::new(text).contains(&Term::new(term).unwrap())
    }

    #[test]
    fn whole_words_only_never_substrings() {
        assert!(!hit("a glass bottle of glaze", "bot"));
        assert!(!hit("free shipping on clay", "ip"));
        assert!(!hit("my scrapbook of pots", "scrap"));
        assert!(hit("this is a bot account", "bot"));
        assert!(hit("buy followers now", "buy followers"));
        assert!(!hit("followers buy", "buy followers"), "in order");
        assert!(!hit("buy more followers", "buy followers"), "adjacent");
    }

    #[test]
    fn case_accents_repeats_and_symbol_swaps_are_normalised() {
        assert!(hit("SPAM!!", "spam"));
        assert!(hit("Spaaaam", "spam"));
        assert!(hit("cheap f0ll0wers", "followers"));
        assert!(hit("fr33 m0n3y", "free money"));
        assert!(hit("café crème", "cafe creme"));
        assert!(hit("$cam alert", "scam"));
        assert!(
            !hit("a good pot", "god"),
            "everyday doubles are not squeezed"
        );
        assert!(hit("a goood pot", "good"));
        assert!(Term::new("  -- !! ").is_none());
    }
}
