//! Joining names without `format!`: cluster names, host names, addresses and route
//! configuration names are built on every trace, and `core::fmt` costs several times what
//! copying their bytes does. `cat!("outbound|", port, "||", host)` gives what
//! `format!("outbound|{port}||{host}")` gives.

use compact_str::CompactString;
use std::net::Ipv4Addr;

/// A piece of text `cat!` can append: string slices and strings, unsigned integers (in
/// decimal) and IPv4 addresses (dotted); other modules give it to what they name often (a
/// route's source, a Service or workload as `namespace/name`).
pub trait Piece {
    fn push_to(&self, out: &mut String);
    /// About how many bytes `push_to` appends, so that `cat!` allocates once.
    fn size_hint(&self) -> usize;
}

impl Piece for str {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
    fn size_hint(&self) -> usize {
        self.len()
    }
}

impl Piece for String {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
    fn size_hint(&self) -> usize {
        self.len()
    }
}

impl Piece for compact_str::CompactString {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
    fn size_hint(&self) -> usize {
        self.len()
    }
}

impl Piece for char {
    fn push_to(&self, out: &mut String) {
        out.push(*self);
    }
    fn size_hint(&self) -> usize {
        self.len_utf8()
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
    fn size_hint(&self) -> usize {
        (**self).size_hint()
    }
}

/// A string as `{:?}` writes it, in quotes with escapes. Nearly all the text a trace quotes
/// (paths, header values, match values) needs no escape: printable ASCII other than `"` and
/// `\` is copied between the quotes; anything else goes through `Debug`.
pub struct Quoted<'a>(pub &'a str);

impl Piece for Quoted<'_> {
    fn push_to(&self, out: &mut String) {
        let plain = self
            .0
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if plain {
            out.push('"');
            out.push_str(self.0);
            out.push('"');
        } else {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "{:?}", self.0);
        }
    }
    fn size_hint(&self) -> usize {
        self.0.len() + 2
    }
}

/// Appends `n` in decimal.
fn push_decimal(n: u64, out: &mut String) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    out.push_str(itoa::Buffer::new().format(n));
}

macro_rules! unsigned_pieces {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn push_to(&self, out: &mut String) {
                push_decimal(*self as u64, out);
            }
            fn size_hint(&self) -> usize {
                5
            }
        }
    )*};
}
unsigned_pieces!(u8, u16, u32, u64, usize);

impl Piece for Ipv4Addr {
    fn push_to(&self, out: &mut String) {
        let mut buf = Dotted::new();
        buf.ip(*self);
        out.push_str(buf.as_str());
    }
    fn size_hint(&self) -> usize {
        15
    }
}

/// `ip:port`, as `format!("{ip}:{port}")` writes it: a trace writes a dozen addresses.
pub fn socket_address(ip: Ipv4Addr, port: u16) -> CompactString {
    let mut buf = Dotted::new();
    buf.ip(ip);
    buf.push(b':');
    buf.push_str(itoa::Buffer::new().format(port));
    CompactString::from(buf.as_str())
}

/// Each octet's decimal digits, left-aligned in three bytes, and how many there are.
const OCTETS: [([u8; 3], u8); 256] = {
    let mut table = [([0u8; 3], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (h, t, u) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = if n >= 100 {
            ([b'0' + h, b'0' + t, b'0' + u], 3)
        } else if n >= 10 {
            ([b'0' + t, b'0' + u, 0], 2)
        } else {
            ([b'0' + u, 0, 0], 1)
        };
        n += 1;
    }
    table
};

/// An address written on the stack: `a.b.c.d` and perhaps `:port` (21 bytes at most).
struct Dotted {
    buf: [u8; 21],
    len: usize,
}

impl Dotted {
    fn new() -> Self {
        Dotted {
            buf: [0; 21],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn push_str(&mut self, s: &str) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
    }

    fn ip(&mut self, ip: Ipv4Addr) {
        for (i, o) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                self.push(b'.');
            }
            let (digits, n) = OCTETS[usize::from(o)];
            // Three bytes are written and `n` kept: the spare ones are overwritten next.
            self.buf[self.len..self.len + 3].copy_from_slice(&digits);
            self.len += usize::from(n);
        }
    }

    fn as_str(&self) -> &str {
        // Digits, dots and a colon: always ASCII, so the check cannot fail.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Joins pieces (see [`Piece`]) into a new `String`.
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {{
        let pieces: &[&dyn $crate::text::Piece] = &[$(&$piece),+];
        let mut out = String::with_capacity(pieces.iter().map(|p| p.size_hint()).sum());
        for p in pieces {
            p.push_to(&mut out);
        }
        out
    }};
}
pub(crate) use cat;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn joins_as_format_does() {
        let host = String::from("svc.ns.svc.cluster.local");
        assert_eq!(
            cat!("outbound|", 80u16, "|v1|", host),
            format!("outbound|{}|v1|{host}", 80)
        );
        let ip = Ipv4Addr::new(10, 0, 0, 255);
        assert_eq!(cat!(ip, ':', 0u16), "10.0.0.255:0");
    }

    proptest! {
        #[test]
        fn quoted_reads_as_debug_writes_it(s in "\\PC*", t in "[ -~]{0,12}") {
            prop_assert_eq!(cat!(Quoted(&s)), format!("{s:?}"));
            prop_assert_eq!(cat!(Quoted(&t)), format!("{t:?}"));
        }

        #[test]
        fn numbers_and_addresses_read_as_display_writes_them(n: u64, a: u32, p: u16) {
            prop_assert_eq!(cat!(n), n.to_string());
            let ip = Ipv4Addr::from(a);
            prop_assert_eq!(cat!(ip, ":", p), format!("{ip}:{p}"));
            prop_assert_eq!(socket_address(ip, p), format!("{ip}:{p}"));
        }
    }
}
