//! The small hand-written cursor the parsers read with, and the number it reads.

/// A number as written: its value and whether it had a sign or a decimal point.
#[derive(Debug, Clone, Copy)]
pub(super) struct Num {
    pub(super) value: f64,
    /// `08`: a leading zero before another digit; never a real value.
    pub(super) leading_zero: bool,
}

pub(super) struct Cursor<'a> {
    pub(super) s: &'a str,
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }
    pub(super) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
    pub(super) fn eat_str(&mut self, p: &str) -> bool {
        if self.rest().starts_with(p) {
            self.pos += p.len();
            true
        } else {
            false
        }
    }
    /// Eats `p` only when a digit (or `.digit`) follows it.
    pub(super) fn eat_prefix(&mut self, p: &str) -> bool {
        let rest = self.rest();
        if let Some(after) = rest.strip_prefix(p) {
            let mut it = after.chars();
            let starts_number = match it.next() {
                Some(c) if c.is_ascii_digit() => true,
                Some('.') => it.next().is_some_and(|c| c.is_ascii_digit()),
                _ => false,
            };
            if starts_number {
                self.pos += p.len();
                return true;
            }
        }
        false
    }
    pub(super) fn skip_ws(&mut self) {
        while self.eat(' ') {}
    }
    /// An unsigned decimal number: `25`, `21.5`, `.250`.
    pub(super) fn number(&mut self) -> Option<Num> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_len = i;
        if i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i == 0 {
            return None;
        }
        let value: f64 = rest[..i].parse().ok()?;
        let leading_zero = int_len >= 2 && bytes[0] == b'0';
        self.pos += i;
        Some(Num {
            value,
            leading_zero,
        })
    }
    /// An integer: `20`.
    pub(super) fn integer(&mut self) -> Option<u32> {
        let len = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let v = self.rest()[..len].parse().ok()?;
        self.pos += len;
        Some(v)
    }
}

pub(super) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
