//! Text a node sent (an error message, a probe's note, a reason), cut to a bound before
//! it reaches any report: a node's output is data, and a report must not grow with it.

/// Most bytes of a message or note a node sent that a report keeps.
pub const MAX_NODE_TEXT: usize = 1024;

/// Most bytes of a name a node sent (a node name, an address) that a message quotes.
pub const MAX_NODE_NAME: usize = 128;

/// Cuts `text` to at most `max` bytes (on a character boundary), marking the cut with
/// `…` so that nobody mistakes it for the whole.
pub fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

/// [`cut`] to [`MAX_NODE_TEXT`].
pub fn cut_text(text: &mut String) {
    cut(text, MAX_NODE_TEXT);
}

/// A copy of `text` cut to `max` bytes, for quoting.
pub fn cut_copy(text: &str, max: usize) -> String {
    let end = text.len().min(max + 1);
    let mut end = end;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_owned();
    cut(&mut out, max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary_and_marks_the_cut() {
        let mut s = "é".repeat(1000);
        cut(&mut s, 11);
        assert!(s.len() <= 11, "{}", s.len());
        assert!(s.ends_with('…'));
        let mut short = "ok".to_owned();
        cut(&mut short, 11);
        assert_eq!(short, "ok");
        assert_eq!(cut_copy("abcdef", 4), "a…");
        assert_eq!(cut_copy("abcd", 4), "abcd");
        assert!(cut_copy(&"x".repeat(1 << 20), MAX_NODE_NAME).len() <= MAX_NODE_NAME);
    }
}
