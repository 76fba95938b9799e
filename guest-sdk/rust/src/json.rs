//! A minimal JSON reader and string quoting, with no dependencies.
//!
//! The SDK uses it for HTTP responses and rejection values; small guests may
//! use it for their input. For anything larger, use a real JSON crate: payloads
//! are plain bytes to the SDK.
//!
//! Strings are decoded and quoted the way Go's `encoding/json` does it
//! (invalid UTF-8 becomes U+FFFD; `<`, `>`, `&`, U+2028 and U+2029 are
//! escaped), so a request a guest builds from its input has the same bytes,
//! and the same journal digest, as one built by a Go guest.

/// A parsed JSON value. Numbers keep their text, so no precision is lost;
/// objects keep their members in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members, in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (the last one if it repeats).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The number as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Parses a JSON document; `None` if it is not valid JSON.
pub fn parse(text: &[u8]) -> Option<Value> {
    let mut p = Parser { s: text, i: 0, depth: 0 };
    let v = p.value()?;
    p.ws();
    if p.i == text.len() {
        Some(v)
    } else {
        None
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn lit(&mut self, word: &str, v: Value) -> Option<Value> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Some(v)
        } else {
            None
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        match *self.s.get(self.i)? {
            b'"' => self.string().map(Value::String),
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > 500 {
                    return None;
                }
                let v = if self.s[self.i] == b'{' { self.object() } else { self.array() };
                self.depth -= 1;
                v
            }
            b't' => self.lit("true", Value::Bool(true)),
            b'f' => self.lit("false", Value::Bool(false)),
            b'n' => self.lit("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self) -> Option<Value> {
        self.i += 1;
        let mut m = Vec::new();
        if self.eat(b'}') {
            return Some(Value::Object(m));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return None;
            }
            let k = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            m.push((k, self.value()?));
            if self.eat(b'}') {
                return Some(Value::Object(m));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn array(&mut self) -> Option<Value> {
        self.i += 1;
        let mut a = Vec::new();
        if self.eat(b']') {
            return Some(Value::Array(a));
        }
        loop {
            a.push(self.value()?);
            if self.eat(b']') {
                return Some(Value::Array(a));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while let Some(b'0'..=b'9') = p.s.get(p.i) {
                p.i += 1;
            }
            p.i > s
        };
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        if self.s.get(self.i) == Some(&b'0') {
            self.i += 1;
        } else if !digits(self) {
            return None;
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        let n = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        Some(Value::Number(n.to_string()))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v << 4 | (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e as char),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut r = self.hex4()?;
                            if (0xD800..0xDC00).contains(&r) && self.s[self.i..].starts_with(b"\\u") {
                                let save = self.i;
                                self.i += 2;
                                match self.hex4() {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00)
                                    }
                                    _ => self.i = save,
                                }
                            }
                            out.push(char::from_u32(r).unwrap_or('\u{FFFD}'));
                        }
                        _ => return None,
                    }
                }
                0..=0x1F => return None,
                0x20..=0x7F => {
                    out.push(c as char);
                    self.i += 1;
                }
                _ => match utf8_len(&self.s[self.i..]) {
                    0 => {
                        out.push('\u{FFFD}');
                        self.i += 1;
                    }
                    n => {
                        // Valid by utf8_len.
                        out.push_str(std::str::from_utf8(&self.s[self.i..self.i + n]).ok()?);
                        self.i += n;
                    }
                },
            }
        }
    }
}

/// The length of the valid UTF-8 sequence that starts `s` (non-empty, first
/// byte >= 0x80), or 0 if it is not one. Like Go's `utf8.DecodeRune`.
fn utf8_len(s: &[u8]) -> usize {
    let (n, lo, hi) = match s[0] {
        0xC2..=0xDF => (2, 0x80, 0xBF),
        0xE0 => (3, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
        0xED => (3, 0x80, 0x9F),
        0xF0 => (4, 0x90, 0xBF),
        0xF1..=0xF3 => (4, 0x80, 0xBF),
        0xF4 => (4, 0x80, 0x8F),
        _ => return 0,
    };
    if s.len() < n || !(lo..=hi).contains(&s[1]) || !s[2..n].iter().all(|b| (0x80..=0xBF).contains(b)) {
        return 0;
    }
    n
}

/// `s` as a JSON string literal, quotes included.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// Bytes as a JSON string literal, quotes included: each byte that is not
/// part of valid UTF-8 becomes `\ufffd`, as Go does it.
pub fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    write_quoted(&mut out, b);
    out
}

/// Appends `b` to `out` as a JSON string literal (see [`quote_bytes`]).
pub fn write_quoted(out: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            i += 1;
            match c {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x08 => out.push_str("\\b"),
                0x0C => out.push_str("\\f"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0..=0x1F | b'<' | b'>' | b'&' => {
                    out.push_str("\\u00");
                    out.push(HEX[(c >> 4) as usize] as char);
                    out.push(HEX[(c & 15) as usize] as char);
                }
                _ => out.push(c as char),
            }
            continue;
        }
        match utf8_len(&b[i..]) {
            0 => {
                out.push_str("\\ufffd");
                i += 1;
            }
            n => {
                let s = std::str::from_utf8(&b[i..i + n]).unwrap_or("\u{FFFD}");
                match s {
                    "\u{2028}" => out.push_str("\\u2028"),
                    "\u{2029}" => out.push_str("\\u2029"),
                    _ => out.push_str(s),
                }
                i += n;
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let v = parse(br#" {"a": [1, -2.5e3, true, null], "s": "x\"\u00e9\ud83d\ude00\n", "a": 7} "#).unwrap();
        assert_eq!(v.get("a").unwrap().as_i64(), Some(7));
        assert_eq!(v.get("s").unwrap().as_str(), Some("x\"é😀\n"));
        assert!(parse(b"{\"a\":1,}").is_none());
        assert!(parse(b"[1] x").is_none());
        assert!(parse(b"01").is_none());
        assert_eq!(parse(b"\"\xff\"").unwrap().as_str(), Some("\u{FFFD}"));
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"\\<>&\u{1}\u{8}\u{c}\n\r\t\u{2028}é"), r#""a\"\\\u003c\u003e\u0026\u0001\b\f\n\r\t\u2028é""#);
        assert_eq!(quote_bytes(b"\xe2\x82x\xff"), r#""\ufffd\ufffdx\ufffd""#);
        assert_eq!(quote_bytes("😀".as_bytes()), "\"😀\"");
    }
}
