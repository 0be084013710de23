//! What a reviewer can see of a text: shared by `diff`'s reports (which
//! escape hidden characters) and `audit` (which flags them).

/// The name of a character a reviewer cannot see, or `None` for a visible
/// one (or an ordinary newline or tab).
pub fn hidden_char_name(ch: char) -> Option<&'static str> {
    Some(match ch {
        '\n' | '\t' | '\r' => return None,
        '\u{00ad}' => "SOFT HYPHEN",
        '\u{034f}' => "COMBINING GRAPHEME JOINER",
        '\u{061c}' => "ARABIC LETTER MARK",
        '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' => "HANGUL FILLER",
        '\u{17b4}' | '\u{17b5}' => "KHMER INHERENT VOWEL",
        '\u{180e}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{200b}' => "ZERO WIDTH SPACE",
        '\u{200c}' => "ZERO WIDTH NON-JOINER",
        '\u{200d}' => "ZERO WIDTH JOINER",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}'..='\u{2064}' => "INVISIBLE OPERATOR",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{206a}'..='\u{206f}' => "DEPRECATED FORMAT CHARACTER",
        '\u{feff}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{fff9}'..='\u{fffb}' => "INTERLINEAR ANNOTATION",
        '\u{1d173}'..='\u{1d17a}' => "MUSICAL SYMBOL FORMAT CHARACTER",
        // Unicode tags spell out ASCII invisibly ("ASCII smuggling").
        '\u{e0000}'..='\u{e007f}' => "TAG CHARACTER",
        '\u{e0100}'..='\u{e01ef}' => "VARIATION SELECTOR SUPPLEMENT",
        ch if ch.is_control() => "CONTROL CHARACTER",
        _ => return None,
    })
}
