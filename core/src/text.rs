//! Joining names without `format!`: cluster names, host names, addresses and route
//! configuration names are built on every trace, and `core::fmt` costs several times what
//! copying their bytes does. `cat!("outbound|", port, "||", host)` gives what
//! `format!("outbound|{port}||{host}")` gives.

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

/// Appends `n` in decimal.
fn push_decimal(mut n: u64, out: &mut String) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.reserve(digits.len() - i);
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
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
        for (i, o) in self.octets().iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            push_decimal(*o as u64, out);
        }
    }
    fn size_hint(&self) -> usize {
        15
    }
}

/// `ip:port`, as `format!("{ip}:{port}")` writes it, written into a buffer on the stack: a
/// trace writes a dozen addresses.
pub fn socket_address(ip: Ipv4Addr, port: u16) -> String {
    let mut buf = [0u8; 21];
    let mut len = 0;
    let mut put = |n: u32, after: u8| {
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            buf[len] = d;
            len += 1;
        }
        if after != 0 {
            buf[len] = after;
            len += 1;
        }
    };
    let [a, b, c, d] = ip.octets();
    put(a.into(), b'.');
    put(b.into(), b'.');
    put(c.into(), b'.');
    put(d.into(), b':');
    put(port.into(), 0);
    // Digits, dots and a colon: always ASCII, so the check cannot fail.
    std::str::from_utf8(&buf[..len]).map_or_else(|_| String::new(), String::from)
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = 1;
    let mut rest = n / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    for _ in digits..width {
        out.push('0');
    }
    push_decimal(n, out);
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
        fn padded_numbers_read_as_format_writes_them(n: u64, width in 0usize..8) {
            let mut s = String::new();
            push_padded(&mut s, n, width);
            prop_assert_eq!(s, format!("{n:0width$}"));
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
